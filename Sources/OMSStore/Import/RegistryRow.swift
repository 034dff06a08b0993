/// One row of an import file, or the reason it could not be read.
public enum RegistryRow: Sendable {
    /// The row's values in its kind's column order (nil: not given); `line` is the
    /// file's line (GeoJSON: the feature's number, from 1).
    case values(line: Int, [String?])
    /// Refused while reading (e.g. a GeoJSON feature that is not a point).
    case refused(RegistryReject)
}
