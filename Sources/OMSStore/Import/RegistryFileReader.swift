import CSV
import Foundation

/// Reads the rows of a CSV (header row required) or GeoJSON (Point features)
/// import file, in the kind's column order.
public struct RegistryFileReader: Sendable {
    public let path: String
    public let kind: RegistryKind
    public let format: RegistryFileFormat

    public init(path: String, kind: RegistryKind, format: RegistryFileFormat) {
        self.path = path
        self.kind = kind
        self.format = format
    }

    /// Calls `body` with every row, in file order.
    public func forEachRow(_ body: (RegistryRow) async throws -> Void) async throws {
        switch format {
        case .csv: try await readCSV(body)
        case .geoJSON: try await readGeoJSON(body)
        }
    }

    /// The position of each of the file's columns in the kind's order; refuses
    /// unknown columns (a misspelt header would otherwise lose a column silently).
    func columnPositions(header: [String]) throws(RegistryFileError) -> [Int] {
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var seen = Set<String>()
        let positions = try names.map { name throws(RegistryFileError) in
            guard let position = kind.columns.firstIndex(of: name) else {
                throw RegistryFileError(file: path, reason: "unknown column \"\(name)\" (columns of \(kind.rawValue): \(kind.columns.joined(separator: ",")))")
            }
            guard seen.insert(name).inserted else {
                throw RegistryFileError(file: path, reason: "column \"\(name)\" appears twice in the header")
            }
            return position
        }
        guard seen.contains(kind.keyColumn) else {
            throw RegistryFileError(file: path, reason: "the header has no \(kind.keyColumn) column (columns of \(kind.rawValue): \(kind.columns.joined(separator: ",")))")
        }
        return positions
    }

    private func readCSV(_ body: (RegistryRow) async throws -> Void) async throws {
        guard let stream = InputStream(fileAtPath: path) else {
            throw RegistryFileError(file: path, reason: "cannot open the file")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true)
        } catch {
            throw RegistryFileError(file: path, reason: "cannot read a CSV header row (\(error))")
        }
        guard let header = reader.headerRow else { throw RegistryFileError(file: path, reason: "the file is empty") }
        let positions = try columnPositions(header: header)
        var line = 2 + header.reduce(0) { $0 + $1.newlineCount }
        while let fields = reader.next() {
            defer { line += 1 + fields.reduce(0) { $0 + $1.newlineCount } }
            if fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard fields.count == positions.count else {
                try await body(.refused(RegistryReject(
                    line: line, field: nil,
                    reason: "has \(fields.count) fields, the header \(positions.count)")))
                continue
            }
            var values = [String?](repeating: nil, count: kind.columns.count)
            for (field, position) in zip(fields, positions) where !field.isEmpty { values[position] = field }
            try await body(.values(line: line, values))
        }
        // The reader reports the end of its stream as `cannotReadFile`; anything else is a real failure.
        if let error = reader.error, !(error is CSVError && "\(error)" == "\(CSVError.cannotReadFile)") {
            throw RegistryFileError(file: path, reason: "stopped reading at line \(line): \(error)")
        }
    }

    private func readGeoJSON(_ body: (RegistryRow) async throws -> Void) async throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RegistryFileError(file: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              root["type"] as? String == "FeatureCollection", let features = root["features"] as? [Any]
        else {
            throw RegistryFileError(file: path, reason: "not a GeoJSON FeatureCollection")
        }
        for (index, item) in features.enumerated() {
            let number = index + 1
            guard let feature = item as? [String: Any], feature["type"] as? String == "Feature" else {
                try await body(.refused(RegistryReject(line: number, field: nil, reason: "not a GeoJSON Feature")))
                continue
            }
            let properties = feature["properties"] as? [String: Any] ?? [:]
            var values = [String?](repeating: nil, count: kind.columns.count)
            for (name, value) in properties {
                guard let position = kind.columns.firstIndex(of: name.lowercased()) else { continue }
                values[position] = Self.text(value)
            }
            if let geometry = feature["geometry"] as? [String: Any] {
                guard geometry["type"] as? String == "Point", let coordinates = geometry["coordinates"] as? [Any],
                      coordinates.count >= 2, let lng = Self.text(coordinates[0]), let lat = Self.text(coordinates[1])
                else {
                    try await body(.refused(RegistryReject(
                        line: number, field: "geometry", reason: "must be a Point with [longitude, latitude]")))
                    continue
                }
                values[kind.columns.firstIndex(of: "lat")!] = lat
                values[kind.columns.firstIndex(of: "lng")!] = lng
            }
            try await body(.values(line: number, values))
        }
    }

    /// A property as text: strings as they are, numbers in full, null as nothing.
    static func text(_ value: Any) -> String? {
        switch value {
        case let string as String: return string
        case is NSNull: return nil
        case let number as NSNumber: return number.stringValue
        default: return "\(value)"
        }
    }
}

extension String {
    fileprivate var newlineCount: Int { utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 } }
}
