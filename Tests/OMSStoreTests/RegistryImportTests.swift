import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// `oms import`'s engine on real PostgreSQL: CSV and GeoJSON files of the network
/// and the registry, upserted by business key.
@Suite("Registry import: CSV and GeoJSON files, upsert by business key")
struct RegistryImportTests {
    /// A small network: 2 substations, 3 feeders, 3 DPs, 3 customers, 4 meters.
    static let csv: [RegistryKind: String] = [
        .substations: """
            substation_id,name,lat,lng,region_code,voltage_level
            SS1,North,24.7,46.6,R1,132kV
            SS2,South,24.5,46.7,R2,33kV
            """,
        .feeders: """
            feeder_id,substation_id,name,lat,lng
            F1,SS1,North 1,24.71,46.61
            F2,SS1,North 2,24.72,46.62
            F3,SS2,South 1,24.51,46.71
            """,
        .distributionPoints: """
            dp_id,feeder_id,name,lat,lng
            D1,F1,DP one,24.711,46.611
            D2,F2,DP two,24.721,46.621
            D3,F3,DP three,24.511,46.711
            """,
        .customers: """
            customer_id,name,phone,address,lat,lng,dp_id
            C1,Amal,+966500000001,"1 King Rd, Riyadh",24.7111,46.6111,D1
            C2,Badr,+966500000002,2 Olaya St,24.7211,46.6211,D2
            C3,Chen,,"3 ""Palm"" Ave",,,
            """,
        .meters: """
            meter_number,customer_id,dp_id,feeder_id,substation_id,lat,lng,asset_mrid,usage_point_mrid,onu_id,onu_serial_no,meter_type
            M1,C1,D1,,,24.7111,46.6111,A-1,UP-1,ONU-1,hwtc0000000a,smart
            M2,C2,D2,F2,SS1,24.7211,46.6211,A-2,UP-2,ONU-1,HWTC0000000A,smart
            M3,C3,,F3,,,,A-3,,,,
            M4,,,,SS2,24.5,46.7,,,,,prepaid
            """,
    ]

    /// The same network as GeoJSON: coordinates in the geometry, the rest in properties.
    static func geoJSON(_ kind: RegistryKind) throws -> String {
        let rows = csv[kind]!.split(separator: "\n").map(String.init)
        let header = rows[0].split(separator: ",").map(String.init)
        var features: [[String: Any]] = []
        for row in rows.dropFirst() {
            let fields = try splitCSVLine(row)
            var properties: [String: Any] = [:]
            var lat: Double?
            var lng: Double?
            for (name, value) in zip(header, fields) where !value.isEmpty {
                switch name {
                case "lat": lat = Double(value)
                case "lng": lng = Double(value)
                default: properties[name] = value
                }
            }
            var feature: [String: Any] = ["type": "Feature", "properties": properties]
            if let lat, let lng { feature["geometry"] = ["type": "Point", "coordinates": [lng, lat]] } else { feature["geometry"] = NSNull() }
            features.append(feature)
        }
        let data = try JSONSerialization.data(withJSONObject: ["type": "FeatureCollection", "features": features])
        return String(decoding: data, as: UTF8.self)
    }

    /// Just enough CSV for the fixtures above (quotes, doubled quotes).
    static func splitCSVLine(_ line: String) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(line).makeIterator()
        var previousQuote = false
        while let character = iterator.next() {
            if quoted {
                if character == "\"" { quoted = false; previousQuote = true } else { current.append(character) }
            } else if character == "\"" {
                if previousQuote { current.append("\"") }
                quoted = true
                previousQuote = false
            } else if character == "," {
                fields.append(current); current = ""; previousQuote = false
            } else {
                current.append(character); previousQuote = false
            }
        }
        fields.append(current)
        return fields
    }

    func folder(_ files: [String: String]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-import-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8) }
        return folder
    }

    func importAll(_ folder: String, client: PostgresClient) async throws -> [RegistryImportSummary] {
        let importer = RegistryImporter(client: client, logger: TestDatabase.logger)
        return try await importer.importFiles(try RegistryImporter.files(at: folder))
    }

    /// Everything an import writes, by business key, as text (ids left out).
    func contents(_ client: PostgresClient) async throws -> String {
        try await client.scalar(
            """
            SELECT concat_ws(E'\\n',
              (SELECT string_agg(concat_ws('|', substation_id, name, location_lat, location_lng, region_code, voltage_level), ';' ORDER BY substation_id) FROM network_substations),
              (SELECT string_agg(concat_ws('|', f.feeder_id, s.substation_id, f.name, f.location_lat, f.location_lng), ';' ORDER BY f.feeder_id)
                 FROM network_feeders f JOIN network_substations s ON s.id = f.substation_id),
              (SELECT string_agg(concat_ws('|', d.dp_id, f.feeder_id, d.name, d.location_lat, d.location_lng), ';' ORDER BY d.dp_id)
                 FROM network_distribution_points d JOIN network_feeders f ON f.id = d.feeder_id),
              (SELECT string_agg(concat_ws('|', c.customer_id, c.name, c.phone, c.address, c.location_lat, c.location_lng, d.dp_id), ';' ORDER BY c.customer_id)
                 FROM oms_customers c LEFT JOIN network_distribution_points d ON d.id = c.dp_id),
              (SELECT string_agg(concat_ws('|', m.meter_number, c.customer_id, d.dp_id, f.feeder_id, s.substation_id, m.location_lat, m.location_lng,
                                           m.asset_mrid, m.usage_point_mrid, m.onu_id, m.onu_serial_no, m.meter_type), ';' ORDER BY m.meter_number)
                 FROM oms_meters m LEFT JOIN oms_customers c ON c.id = m.customer_id
                 LEFT JOIN network_distribution_points d ON d.id = m.dp_id LEFT JOIN network_feeders f ON f.id = m.feeder_id
                 LEFT JOIN network_substations s ON s.id = m.substation_id))
            """, as: String.self)
    }

    @Test("a folder of CSV files: every row imported, topology derived from the DP, serials upper-cased")
    func csvFolder() async throws {
        let folder = try folder(Dictionary(uniqueKeysWithValues: Self.csv.map { ("\($0.key.rawValue).csv", $0.value) }))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            let summaries = try await importAll(folder, client: database.client)
            #expect(summaries.map(\.kind) == [.substations, .feeders, .distributionPoints, .customers, .meters])
            #expect(summaries.map(\.inserted) == [2, 3, 3, 3, 4])
            #expect(summaries.allSatisfy { $0.rejects.isEmpty })
            let m1 = try await database.client.scalar(
                """
                SELECT concat_ws(' ', f.feeder_id, s.substation_id, m.onu_serial_no) FROM oms_meters m
                  JOIN network_feeders f ON f.id = m.feeder_id JOIN network_substations s ON s.id = m.substation_id
                 WHERE m.meter_number = 'M1'
                """, as: String.self)
            #expect(m1 == "F1 SS1 HWTC0000000A")
            #expect(try await database.client.scalar("SELECT address FROM oms_customers WHERE customer_id = 'C3'", as: String.self) == #"3 "Palm" Ave"#)
            // The mappings follow the registry (0004's triggers).
            #expect(try await database.client.scalar("SELECT count(*)::int FROM network_feeder_meters", as: Int.self) == 3)
            #expect(try await database.client.scalar("SELECT count(*)::int FROM network_substation_meters", as: Int.self) == 4)
        }
    }

    @Test("CSV and GeoJSON imports of the same network give the same database")
    func csvAndGeoJSONAgree() async throws {
        let csvFolder = try folder(Dictionary(uniqueKeysWithValues: Self.csv.map { ("\($0.key.rawValue).csv", $0.value) }))
        let geoFolder = try folder(Dictionary(uniqueKeysWithValues: try Self.csv.keys.map { ("\($0.rawValue).geojson", try Self.geoJSON($0)) }))
        defer {
            try? FileManager.default.removeItem(atPath: csvFolder)
            try? FileManager.default.removeItem(atPath: geoFolder)
        }
        let fromCSV = try await TestDatabase.with(.migrated) { database in
            _ = try await importAll(csvFolder, client: database.client)
            return try await contents(database.client)
        }
        let fromGeoJSON = try await TestDatabase.with(.migrated) { database in
            let summaries = try await importAll(geoFolder, client: database.client)
            #expect(summaries.allSatisfy { $0.rejects.isEmpty })
            return try await contents(database.client)
        }
        #expect(fromCSV.contains("M1|C1|D1|F1|SS1|24.7111|46.6111|A-1|UP-1|ONU-1|HWTC0000000A|smart"))
        #expect(fromCSV == fromGeoJSON)
    }

    @Test("a second import of the same files changes nothing")
    func secondImportIsNoOp() async throws {
        let folder = try folder(Dictionary(uniqueKeysWithValues: Self.csv.map { ("\($0.key.rawValue).csv", $0.value) }))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            _ = try await importAll(folder, client: database.client)
            let before = try await contents(database.client)
            let stamps = try await database.client.scalar(
                "SELECT string_agg(updated_at::text, ',' ORDER BY meter_number) FROM oms_meters", as: String.self)
            let again = try await importAll(folder, client: database.client)
            #expect(again.map(\.unchanged) == [2, 3, 3, 3, 4])
            #expect(again.allSatisfy { $0.inserted == 0 && $0.updated == 0 })
            #expect(try await contents(database.client) == before)
            #expect(try await database.client.scalar(
                "SELECT string_agg(updated_at::text, ',' ORDER BY meter_number) FROM oms_meters", as: String.self) == stamps)
        }
    }

    @Test("bad rows are refused with line, field and reason; every other row is imported")
    func badRows() async throws {
        var files = Dictionary(uniqueKeysWithValues: Self.csv.map { ("\($0.key.rawValue).csv", $0.value) })
        files["meters.csv"] = #"""
            meter_number,customer_id,dp_id,feeder_id,substation_id,lat,lng,asset_mrid,usage_point_mrid,onu_id,onu_serial_no,meter_type
            M1,C1,D1,,,24.7111,46.6111,A-1,,,,
            M2,C9,,,,,,,,,,
            M3,,D1,F3,,,,,,,,
            M4,,,,,95,46,,,,,
            M5,,,,,24.5,,,,,,
            M6,,,,,abc,46,,,,,
            M7,,,,,,,A-1,,,,
            M8,,,,,,,,,,NOT-A-SERIAL,
            ,,,,,,,,,,,
            M1,,,,,,,,,,,
            M9,,D1,,SS2,,,,,,,
            M10,,,,,,,,,,,
            "M11 ""quoted""",,,,,,,,,,,
            """#
        let folder = try folder(files)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            let meters = try #require(try await importAll(folder, client: database.client).last)
            #expect(meters.inserted == 3)
            let refused = meters.rejects.map { "\($0.line) \($0.field ?? "-"): \($0.reason)" }
            #expect(refused == [
                #"3 customer_id: no customer "C9""#,
                "4 feeder_id: distribution point D1 is on feeder F1, not on F3",
                "5 lat: latitude 95 is outside -90..90",
                "6 lng: lat and lng go together: give both or neither",
                #"7 lat: not a number: "abc""#,
                "8 asset_mrid: asset mRID A-1 is also on line 2",
                #"9 onu_serial_no: "NOT-A-SERIAL" is not an ONU serial (4 letters of vendor id and 8 hex digits, e.g. HWTC1A2B3C4D)"#,
                "11 meter_number: M1 is also on line 2 (one row per key)",
                "12 substation_id: feeder F1 belongs to substation SS1, not to SS2",
            ])
            let numbers = try await database.client.scalar(
                "SELECT string_agg(meter_number, ',' ORDER BY meter_number) FROM oms_meters", as: String.self)
            #expect(numbers == #"M1,M10,M11 "quoted""#)
        }
    }

    @Test("an empty field never clears a stored value; a given value updates it")
    func emptyFieldsKeepValues() async throws {
        let folder = try folder(Dictionary(uniqueKeysWithValues: Self.csv.map { ("\($0.key.rawValue).csv", $0.value) }))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            _ = try await importAll(folder, client: database.client)
            let update = "\(folder)/update.csv"
            try """
                meter_number,meter_type,onu_id
                M1,,ONU-9
                M2,prepaid,
                """.write(toFile: update, atomically: true, encoding: .utf8)
            let importer = RegistryImporter(client: database.client, logger: TestDatabase.logger)
            let summary = try await importer.importFile(update, kind: .meters, format: .csv)
            #expect(summary.updated == 2)
            let rows = try await database.client.scalar(
                """
                SELECT string_agg(concat_ws('/', meter_number, meter_type, onu_id, asset_mrid, dp_id IS NOT NULL), ',' ORDER BY meter_number)
                  FROM oms_meters WHERE meter_number IN ('M1', 'M2')
                """, as: String.self)
            #expect(rows == "M1/smart/ONU-9/A-1/t,M2/prepaid/ONU-1/A-2/t")
        }
    }

    @Test("a file that cannot be read at all is refused naming the reason, and writes nothing", arguments: [
        ("meters.csv", "meter_numbr,dp_id\nM1,D1\n", #"unknown column "meter_numbr""#),
        ("meters.csv", "dp_id,lat\nD1,1\n", "the header has no meter_number column"),
        ("meters.csv", "meter_number,lat,lat\nM1,1,2\n", #"column "lat" appears twice"#),
        ("meters.geojson", #"{"type": "Feature"}"#, "not a GeoJSON FeatureCollection"),
    ])
    func unreadableFile(name: String, text: String, reason: String) async throws {
        let folder = try folder([name: text])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            do {
                _ = try await importAll(folder, client: database.client)
                Issue.record("the file was accepted")
            } catch let error as RegistryFileError {
                #expect(error.reason.contains(reason))
                #expect(error.file.hasSuffix(name))
            }
            #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == 0)
        }
    }

    @Test("a GeoJSON feature that is not a point is refused by its number; the others are imported")
    func geoJSONNotAPoint() async throws {
        let text = """
            {"type": "FeatureCollection", "features": [
              {"type": "Feature", "properties": {"substation_id": "SS1"}, "geometry": {"type": "Point", "coordinates": [46.6, 24.7]}},
              {"type": "Feature", "properties": {"substation_id": "SS2"}, "geometry": {"type": "LineString", "coordinates": [[46.6, 24.7], [46.7, 24.8]]}},
              {"type": "Feature", "properties": {"substation_id": "SS3", "voltage_level": 33}, "geometry": null}
            ]}
            """
        let folder = try folder(["substations.geojson": text])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            let summary = try #require(try await importAll(folder, client: database.client).first)
            #expect(summary.rejects == [RegistryReject(line: 2, field: "geometry", reason: "must be a Point with [longitude, latitude]")])
            #expect(summary.inserted == 2)
            #expect(try await database.client.scalar(
                "SELECT string_agg(substation_id || ':' || coalesce(voltage_level, '-'), ',' ORDER BY substation_id) FROM network_substations",
                as: String.self) == "SS1:-,SS3:33")
        }
    }

    @Test("psql users import with \\copy through the same functions")
    func fromPsql() async throws {
        let folder = try folder(["substations.csv": Self.csv[.substations]! + "\nSS3,,x,1,,\n"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            let output = try await database.psqlScript("""
                SELECT oms_import_prepare('substations');
                \\copy oms_import_substations (substation_id, name, lat, lng, region_code, voltage_level) FROM '\(folder)/substations.csv' CSV HEADER
                SELECT inserted, rejected FROM oms_import_apply('substations');
                SELECT line, field, reason FROM oms_import_rejects;
                """)
            #expect(output.contains("4\tlat\tnot a number: \"x\""))
            #expect(try await database.client.scalar("SELECT count(*)::int FROM network_substations", as: Int.self) == 2)
        }
    }
}
