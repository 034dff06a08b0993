import Foundation

/// Writes a simulated network in `oms import`'s formats: one file per kind, CSV with a header
/// row or GeoJSON Point features (the location as geometry, the other columns as properties).
public enum NetworkFiles {
    public enum Format: String, Sendable, CaseIterable {
        case csv, geojson
    }

    /// The parameters a network was generated with, written next to its files: what
    /// `oms simulate scenario` regenerates the network from.
    public static let parametersFile = "simulation.json"

    /// Writes the five files and `simulation.json` into `folder` (created if needed); returns their paths.
    @discardableResult
    public static func write(_ network: SimulatedNetwork, to folder: String, format: Format) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func text(_ value: Double) -> String { String(format: "%.6f", value) }
        let tables: [(String, [String], [[String?]])] = [
            ("substations", ["substation_id", "name", "lat", "lng", "region_code", "voltage_level"],
             network.substations.map { [$0.id, $0.name, text($0.latitude), text($0.longitude), "R1", "33/11kV"] }),
            ("feeders", ["feeder_id", "substation_id", "name", "lat", "lng"],
             network.feeders.map { [$0.id, $0.parent, $0.name, text($0.latitude), text($0.longitude)] }),
            ("distribution_points", ["dp_id", "feeder_id", "name", "lat", "lng"],
             network.distributionPoints.map { [$0.id, $0.parent, $0.name, text($0.latitude), text($0.longitude)] }),
            ("customers", ["customer_id", "name", "phone", "address", "lat", "lng", "dp_id"],
             network.premises.map { [$0.customerID, $0.customerName, $0.phone, $0.address, text($0.latitude), text($0.longitude), $0.dp] }),
            ("meters", ["meter_number", "customer_id", "dp_id", "feeder_id", "substation_id", "lat", "lng", "asset_mrid",
                        "usage_point_mrid", "onu_id", "onu_serial_no", "meter_type"],
             network.premises.map {
                 [$0.meterNumber, $0.customerID, $0.dp, nil, nil, text($0.latitude), text($0.longitude), $0.assetMRID,
                  $0.usagePointMRID, $0.onuID, $0.onuSerial, $0.meterType]
             }),
        ]
        var paths: [String] = []
        for (kind, columns, rows) in tables {
            let path = (folder as NSString).appendingPathComponent("\(kind).\(format.rawValue)")
            let data: Data
            switch format {
            case .csv: data = Data(csv(columns: columns, rows: rows).utf8)
            case .geojson: data = try geoJSON(columns: columns, rows: rows)
            }
            try data.write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let parametersPath = (folder as NSString).appendingPathComponent(parametersFile)
        try encoder.encode(network.parameters).write(to: URL(fileURLWithPath: parametersPath))
        paths.append(parametersPath)
        return paths
    }

    /// The network a folder written by `write` holds, generated again from its `simulation.json`.
    public static func read(from folder: String) throws -> SimulatedNetwork {
        let path = (folder as NSString).appendingPathComponent(parametersFile)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ScenarioFileError(path: path, line: nil, reason: "not found: the folder must be written by oms simulate network")
        }
        return SimulatedNetwork(try ScenarioFiles.read(SimulatedNetwork.Parameters.self, from: path))
    }

    /// RFC 4180 CSV: a field with a comma, quote or line break is quoted, quotes doubled; nil is empty.
    static func csv(columns: [String], rows: [[String?]]) -> String {
        func field(_ value: String?) -> String {
            guard let value else { return "" }
            guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var text = columns.joined(separator: ",") + "\n"
        for row in rows { text += row.map(field).joined(separator: ",") + "\n" }
        return text
    }

    /// A FeatureCollection of Points: lat/lng as the geometry, every other non-empty column a property.
    static func geoJSON(columns: [String], rows: [[String?]]) throws -> Data {
        let latIndex = columns.firstIndex(of: "lat")
        let lngIndex = columns.firstIndex(of: "lng")
        let features: [[String: Any]] = rows.map { row in
            var properties: [String: Any] = [:]
            for (index, name) in columns.enumerated() where index != latIndex && index != lngIndex {
                if let value = row[index] { properties[name] = value }
            }
            var feature: [String: Any] = ["type": "Feature", "properties": properties, "geometry": NSNull()]
            if let latIndex, let lngIndex, let lat = row[latIndex].flatMap(Double.init), let lng = row[lngIndex].flatMap(Double.init) {
                feature["geometry"] = ["type": "Point", "coordinates": [lng, lat]]
            }
            return feature
        }
        return try JSONSerialization.data(withJSONObject: ["type": "FeatureCollection", "features": features], options: [.sortedKeys])
    }
}
