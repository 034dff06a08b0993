/// One kind of import file: the network's levels, customers and meters, in the
/// order they must be imported (a row refers only to kinds before it).
public enum RegistryKind: String, CaseIterable, Sendable, Comparable {
    case substations
    case feeders
    case distributionPoints = "distribution_points"
    case customers
    case meters

    /// The columns of its file (CSV header, GeoJSON properties), as in `oms_import_columns()`.
    public var columns: [String] {
        switch self {
        case .substations: ["substation_id", "name", "lat", "lng", "region_code", "voltage_level"]
        case .feeders: ["feeder_id", "substation_id", "name", "lat", "lng"]
        case .distributionPoints: ["dp_id", "feeder_id", "name", "lat", "lng"]
        case .customers: ["customer_id", "name", "phone", "address", "lat", "lng", "dp_id"]
        case .meters:
            ["meter_number", "customer_id", "dp_id", "feeder_id", "substation_id", "lat", "lng", "asset_mrid",
             "usage_point_mrid", "onu_id", "onu_serial_no", "meter_type"]
        }
    }

    /// The business key: the first column.
    public var keyColumn: String { columns[0] }

    /// The kind a file name stands for (`meters.csv`, `distribution_points.geojson`), if any.
    public init?(fileName: String) {
        let stem = fileName.split(separator: ".").first.map(String.init)?.lowercased() ?? ""
        self.init(rawValue: stem)
    }

    public static func < (lhs: RegistryKind, rhs: RegistryKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
