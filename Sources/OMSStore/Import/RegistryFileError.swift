/// A file `oms import` cannot read at all (nothing of it is imported).
public struct RegistryFileError: Error, CustomStringConvertible, Sendable {
    /// The file's path.
    public let file: String
    /// Why: a missing key column, an unknown column, not GeoJSON, ...
    public let reason: String

    public var description: String { "\(file): \(reason)" }
}
