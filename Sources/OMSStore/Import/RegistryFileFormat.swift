/// The format of an import file, from its extension.
public enum RegistryFileFormat: String, Sendable {
    case csv
    case geoJSON = "geojson"

    /// `.csv` is CSV; `.geojson` and `.json` are GeoJSON.
    public init?(fileName: String) {
        switch fileName.split(separator: ".").last?.lowercased() {
        case "csv": self = .csv
        case "geojson", "json": self = .geoJSON
        default: return nil
        }
    }
}
