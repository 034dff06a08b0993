import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Meters linked to the network by distance (0019), and the proximity search.
@Suite("Proximity: inferred topology and meters within a radius")
struct ProximityTests {
    /// A small network with known distances (km, great circle):
    ///
    /// - S1 (40.00, -75.00) with F1 (40.02, -75.00) and its DPs D1 (40.030, -75.0), D2 (40.034, -75.0);
    ///   S2 (40.30, -75.00) with F2 (40.30, -74.99) and D3 (40.30, -74.995).
    /// - M-DP 56 m from D1 (389 m from D2); M-FEEDER 1.40 km from D1, 0.85 km from F1; M-SUB 7.8 km from
    ///   F1, 5.6 km from S1; M-FAR 78 km from anything; M-NOLOC without coordinates; M-INACTIVE next to D1
    ///   but inactive; M-EXPLICIT 22 m from D1 but explicitly on D2.
    static let network = """
        INSERT INTO network_substations (substation_id, location_lat, location_lng)
        VALUES ('S1', 40.0, -75.0), ('S2', 40.3, -75.0);
        INSERT INTO network_feeders (feeder_id, substation_id, location_lat, location_lng)
        SELECT 'F1', id, 40.02, -75.0 FROM network_substations WHERE substation_id = 'S1'
        UNION ALL SELECT 'F2', id, 40.3, -74.99 FROM network_substations WHERE substation_id = 'S2';
        INSERT INTO network_distribution_points (dp_id, feeder_id, location_lat, location_lng)
        SELECT 'D1', id, 40.03, -75.0 FROM network_feeders WHERE feeder_id = 'F1'
        UNION ALL SELECT 'D2', id, 40.034, -75.0 FROM network_feeders WHERE feeder_id = 'F1'
        UNION ALL SELECT 'D3', id, 40.3, -74.995 FROM network_feeders WHERE feeder_id = 'F2';
        INSERT INTO oms_meters (meter_number, location_lat, location_lng, status) VALUES
            ('M-DP', 40.0305, -75.0, 'active'), ('M-FEEDER', 40.02, -75.01, 'active'),
            ('M-SUB', 39.95, -75.0, 'active'), ('M-FAR', 41.0, -75.0, 'active'),
            ('M-NOLOC', NULL, NULL, 'active'), ('M-INACTIVE', 40.0301, -75.0, 'inactive');
        INSERT INTO oms_meters (meter_number, location_lat, location_lng, dp_id)
        SELECT 'M-EXPLICIT', 40.0302, -75.0, id FROM network_distribution_points WHERE dp_id = 'D2';
        """

    /// One line of oms_link_meters_by_proximity()'s report.
    struct ReportLine: Equatable, CustomStringConvertible {
        var level: String
        var meters: Int
        var changed: Int
        var meterNumbers: [String]?
        var description: String { "\(level) \(meters)/\(changed) \(meterNumbers ?? [])" }
    }

    /// A meter's topology as business ids, how it was set, and the distance (km) of an inferred link.
    struct Topology: Equatable, CustomStringConvertible {
        var dp: String?
        var feeder: String?
        var substation: String?
        var source: String?
        var distance: Double?
        var description: String {
            "\(dp ?? "-")/\(feeder ?? "-")/\(substation ?? "-") \(source ?? "none") \(distance.map { "\($0)" } ?? "-")"
        }
    }

    func setUp(_ client: PostgresClient) async throws {
        try await run(Self.network, client)
    }

    /// Runs each statement of a script.
    func run(_ script: String, _ client: PostgresClient) async throws {
        for statement in try SQLScript.statements(in: script) {
            try await client.execute(PostgresQuery(unsafeSQL: statement.text))
        }
    }

    func link(_ client: PostgresClient, only meters: [String]? = nil) async throws -> [ReportLine] {
        let ids = meters.map { "SELECT array_agg(id) FROM oms_meters WHERE meter_number = ANY (ARRAY['"
            + $0.joined(separator: "','") + "'])" } ?? "SELECT NULL::uuid[]"
        let rows = try await client.fetch(
            PostgresQuery(unsafeSQL: "SELECT level, meters, changed, meter_numbers FROM oms_link_meters_by_proximity((\(ids)))"),
            logger: TestDatabase.logger)
        var lines: [ReportLine] = []
        for (level, meters, changed, numbers) in try rows.decode((String, Int, Int, [String]?).self) {
            lines.append(ReportLine(level: level, meters: meters, changed: changed, meterNumbers: numbers))
        }
        return lines
    }

    func topology(_ meter: String, _ client: PostgresClient) async throws -> Topology {
        let rows = try await client.fetch(
            """
            SELECT d.dp_id, f.feeder_id, s.substation_id, m.topology_source, m.topology_distance_km
              FROM oms_meters m
              LEFT JOIN network_distribution_points d ON d.id = m.dp_id
              LEFT JOIN network_feeders f ON f.id = m.feeder_id
              LEFT JOIN network_substations s ON s.id = m.substation_id
             WHERE m.meter_number = \(meter)
            """, logger: TestDatabase.logger)
        for (dp, feeder, substation, source, distance)
            in try rows.decode((String?, String?, String?, String?, Double?).self) {
            return Topology(dp: dp, feeder: feeder, substation: substation, source: source, distance: distance)
        }
        throw UnknownMeter(meterNumber: meter)
    }

    /// A meter the test expected is not in the registry.
    struct UnknownMeter: Error {
        var meterNumber: String
    }

    /// Great-circle distance (km) on a sphere of the mean Earth radius, computed here, independently of the SQL.
    static func haversine(_ lat1: Double, _ lng1: Double, _ lat2: Double, _ lng2: Double) -> Double {
        let radians = Double.pi / 180
        let a = pow(sin((lat2 - lat1) * radians / 2), 2)
            + cos(lat1 * radians) * cos(lat2 * radians) * pow(sin((lng2 - lng1) * radians / 2), 2)
        return 2 * 6371.0088 * asin(min(1, a.squareRoot()))
    }

    /// The distance (km) from a meter to a point.
    func distance(_ meter: String, _ lat: Double, _ lng: Double, _ client: PostgresClient) async throws -> Double {
        let rows = try await client.fetch(
            "SELECT location_lat, location_lng FROM oms_meters WHERE meter_number = \(meter)", logger: TestDatabase.logger)
        for (meterLat, meterLng) in try rows.decode((Double, Double).self) {
            return Self.haversine(meterLat, meterLng, lat, lng)
        }
        throw UnknownMeter(meterNumber: meter)
    }

    /// Every active meter within `radius` km of a point, nearest first, by a scan computed here.
    func bruteForce(_ lat: Double, _ lng: Double, _ radius: Double, _ client: PostgresClient) async throws -> [String] {
        let rows = try await client.fetch(
            """
            SELECT meter_number, location_lat, location_lng FROM oms_meters
             WHERE status = 'active' AND location_lat IS NOT NULL AND location_lng IS NOT NULL
            """, logger: TestDatabase.logger)
        var found: [(meter: String, distance: Double)] = []
        for (meter, meterLat, meterLng) in try rows.decode((String, Double, Double).self) {
            let distance = Self.haversine(lat, lng, meterLat, meterLng)
            if distance <= radius { found.append((meter, distance)) }
        }
        return found.sorted { ($0.distance, $0.meter) < ($1.distance, $1.meter) }.map(\.meter)
    }

    /// The meter numbers oms_meters_within returns, in order, with their distances.
    func within(_ lat: Double, _ lng: Double, _ radius: Double, _ client: PostgresClient)
        async throws -> [(meter: String, distance: Double)]
    {
        let rows = try await client.fetch(
            "SELECT meter_number, distance_km FROM oms_meters_within(\(lat), \(lng), \(radius))", logger: TestDatabase.logger)
        var found: [(meter: String, distance: Double)] = []
        for row in try rows.decode((String, Double).self) { found.append(row) }
        return found
    }

    func isClose(_ actual: Double?, _ expected: Double) -> Bool {
        guard let actual else { return false }
        return abs(actual - expected) < 1e-9 * max(1, expected)
    }

    func setRadius(_ level: String, _ kilometres: String, _ client: PostgresClient) async throws {
        try await client.execute(
            "UPDATE oms_settings SET value = \(kilometres)::jsonb WHERE key = \("proximity.\(level)_radius_km")")
    }

    /// Each meter's row version: unchanged when nothing wrote the row.
    func rowVersions(_ client: PostgresClient) async throws -> String {
        try await client.scalar(
            "SELECT string_agg(meter_number || ':' || xmin::text, ',' ORDER BY meter_number) FROM oms_meters", as: String.self)
    }

    // MARK: - Linking

    @Test("nearest DP, else feeder, else substation; beyond every radius unlinked and reported")
    func levels() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await setUp(client)
            let report = try await link(client)
            #expect(report == [
                ReportLine(level: "explicit", meters: 1, changed: 0, meterNumbers: nil),
                ReportLine(level: "dp", meters: 1, changed: 1, meterNumbers: nil),
                ReportLine(level: "feeder", meters: 1, changed: 1, meterNumbers: nil),
                ReportLine(level: "substation", meters: 1, changed: 1, meterNumbers: nil),
                ReportLine(level: "unlinked", meters: 1, changed: 0, meterNumbers: ["M-FAR"]),
                ReportLine(level: "no_location", meters: 1, changed: 0, meterNumbers: ["M-NOLOC"]),
            ])

            let nearDP = try await topology("M-DP", client)
            #expect(nearDP.dp == "D1" && nearDP.feeder == "F1" && nearDP.substation == "S1")
            #expect(nearDP.source == "inferred")
            #expect(isClose(nearDP.distance, try await distance("M-DP", 40.03, -75.0, client)))
            #expect(abs((nearDP.distance ?? 0) - 0.0556) < 0.001, "about 56 m")

            let nearFeeder = try await topology("M-FEEDER", client)
            #expect(nearFeeder.dp == nil && nearFeeder.feeder == "F1" && nearFeeder.substation == "S1")
            #expect(nearFeeder.source == "inferred")
            #expect(isClose(nearFeeder.distance, try await distance("M-FEEDER", 40.02, -75.0, client)))

            let nearSubstation = try await topology("M-SUB", client)
            #expect(nearSubstation == Topology(
                dp: nil, feeder: nil, substation: "S1", source: "inferred",
                distance: nearSubstation.distance))
            #expect(isClose(nearSubstation.distance, try await distance("M-SUB", 40.0, -75.0, client)))

            for meter in ["M-FAR", "M-NOLOC", "M-INACTIVE"] {
                #expect(try await topology(meter, client) == Topology(), "\(meter) stays without topology")
            }
            // Linked like any meter: the mappings a SCADA check reads now hold it.
            let mapped = try await client.scalar(
                """
                SELECT count(*)::int FROM network_feeder_meters l JOIN oms_meters m ON m.id = l.meter_id
                 WHERE m.meter_number IN ('M-DP', 'M-FEEDER') AND l.link_source = 'registry'
                """, as: Int.self)
            #expect(mapped == 2)
        }
    }

    @Test("an explicit link is never overwritten; a user's edit of an inferred link makes it explicit")
    func explicitWins() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await setUp(client)
            _ = try await link(client)
            // M-EXPLICIT is nearer D1 than D2, but its D2 was set by hand.
            #expect(try await topology("M-EXPLICIT", client) == Topology(
                dp: "D2", feeder: "F1", substation: "S1", source: "explicit"))

            // A user moves M-DP (inferred on D1) to D2: explicit, and the next run leaves it there.
            try await client.execute(
                """
                UPDATE oms_meters SET dp_id = (SELECT id FROM network_distribution_points WHERE dp_id = 'D2')
                 WHERE meter_number = 'M-DP'
                """)
            let edited = Topology(dp: "D2", feeder: "F1", substation: "S1", source: "explicit")
            #expect(try await topology("M-DP", client) == edited)
            // An application writing the whole row back, old source and distance included: still explicit.
            try await client.execute(
                """
                UPDATE oms_meters SET dp_id = (SELECT id FROM network_distribution_points WHERE dp_id = 'D2'),
                       topology_source = 'inferred', topology_distance_km = 0.85
                 WHERE meter_number = 'M-FEEDER'
                """)
            #expect(try await topology("M-FEEDER", client) == edited)

            let report = try await link(client)
            #expect(report.first == ReportLine(level: "explicit", meters: 3, changed: 0, meterNumbers: nil))
            #expect(report.first { $0.level == "dp" }?.meters == 0)
            #expect(try await topology("M-DP", client) == edited)
            #expect(try await topology("M-FEEDER", client) == edited)
            #expect(try await topology("M-EXPLICIT", client).dp == "D2")

            // Confirming an inferred link keeps it and makes it explicit.
            try await client.execute("UPDATE oms_meters SET topology_source = 'explicit' WHERE meter_number = 'M-SUB'")
            #expect(try await topology("M-SUB", client) == Topology(substation: "S1", source: "explicit"))
        }
    }

    @Test("inferred links and distances are the database's: set by hand they are refused, naming the column")
    func handMadeInferredRefused() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await setUp(client)
            _ = try await link(client)
            for statement in [
                "UPDATE oms_meters SET topology_source = 'inferred' WHERE meter_number = 'M-EXPLICIT'",
                "UPDATE oms_meters SET topology_distance_km = 0.01 WHERE meter_number = 'M-DP'",
                "UPDATE oms_meters SET topology_source = NULL WHERE meter_number = 'M-DP'",
            ] {
                await #expect(Comment(rawValue: statement)) {
                    try await client.execute(PostgresQuery(unsafeSQL: statement))
                } throws: { error in
                    error.databaseSQLState == "22023"
                        && (error as? PSQLError)?.serverInfo?[.columnName] == "topology_source"
                }
            }
            #expect(try await topology("M-EXPLICIT", client).source == "explicit")
            #expect(try await topology("M-DP", client).source == "inferred")
        }
    }

    @Test("network moves keep an inferred link inferred; clearing a meter's topology clears its source")
    func cascadesAndClearing() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await setUp(client)
            _ = try await link(client)
            let before = try await topology("M-DP", client)
            // D1 moves to F2 (S2): 0003 moves its meters; M-DP is still inferred on D1, at the same distance.
            try await client.execute(
                """
                UPDATE network_distribution_points SET feeder_id = (SELECT id FROM network_feeders WHERE feeder_id = 'F2')
                 WHERE dp_id = 'D1'
                """)
            #expect(try await topology("M-DP", client) == Topology(
                dp: "D1", feeder: "F2", substation: "S2", source: "inferred", distance: before.distance))
            // F1 moves to S2: M-FEEDER (inferred on F1) follows, still inferred.
            try await client.execute(
                """
                UPDATE network_feeders SET substation_id = (SELECT id FROM network_substations WHERE substation_id = 'S2')
                 WHERE feeder_id = 'F1'
                """)
            #expect(try await topology("M-FEEDER", client).source == "inferred")
            #expect(try await topology("M-FEEDER", client).substation == "S2")
            #expect(try await topology("M-EXPLICIT", client).source == "explicit")

            try await client.execute(
                "UPDATE oms_meters SET dp_id = NULL, feeder_id = NULL, substation_id = NULL WHERE meter_number = 'M-DP'")
            #expect(try await topology("M-DP", client) == Topology())
            let report = try await link(client, only: ["M-DP"])
            #expect(report.first { $0.level == "dp" } == ReportLine(level: "dp", meters: 1, changed: 1, meterNumbers: nil))
        }
    }

    @Test("a second run writes nothing; a later run refreshes inferred links after the radii change")
    func idempotentAndRefreshed() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await setUp(client)
            _ = try await link(client)
            let versions = try await rowVersions(client)
            let again = try await link(client)
            #expect(again.allSatisfy { $0.changed == 0 }, "\(again)")
            #expect(again.map(\.meters) == [1, 1, 1, 1, 1, 1])
            #expect(try await rowVersions(client) == versions, "no meter row was written")

            // No DP level: M-DP falls back to F1 (1.17 km).
            try await setRadius("dp", "0", client)
            var report = try await link(client)
            #expect(report.first { $0.level == "dp" }?.meters == 0)
            #expect(report.first { $0.level == "feeder" } == ReportLine(level: "feeder", meters: 2, changed: 1, meterNumbers: nil))
            let fallback = try await topology("M-DP", client)
            #expect(fallback.dp == nil && fallback.feeder == "F1" && fallback.source == "inferred")
            #expect(isClose(fallback.distance, try await distance("M-DP", 40.02, -75.0, client)))

            // A wider DP radius: M-FEEDER (1.40 km from D1) moves up to D1.
            try await setRadius("dp", "1.5", client)
            _ = try await link(client)
            #expect(try await topology("M-FEEDER", client).dp == "D1")
            #expect(try await topology("M-DP", client).dp == "D1")

            // A narrower substation radius: M-SUB's inferred link is removed.
            try await setRadius("substation", "1", client)
            report = try await link(client)
            #expect(report.last { $0.level == "unlinked" } == ReportLine(
                level: "unlinked", meters: 2, changed: 1, meterNumbers: ["M-FAR", "M-SUB"]))
            #expect(try await topology("M-SUB", client) == Topology())

            // Limited to some meters: the others are not looked at.
            try await setRadius("substation", "10", client)
            report = try await link(client, only: ["M-FAR", "M-EXPLICIT"])
            #expect(report.map(\.meters) == [1, 0, 0, 0, 1, 0])
            #expect(try await topology("M-SUB", client) == Topology())

            // A negative radius is refused when written (the settings' ranges, 0031), naming the bound.
            await #expect {
                try await setRadius("feeder", "-1", client)
            } throws: { error in
                error.databaseSQLState == "22023"
                    && (error as? PSQLError)?.serverInfo?[.columnName] == "value"
                    && error.readableDatabaseMessage.contains("proximity.feeder_radius_km must be a number from 0 to 100")
            }
            _ = try await link(client)
        }
    }

    @Test("the legacy migration 0019 marked existing links explicit, without rewriting updated_at")
    func backfill() async throws {
        try await TestDatabase.with(.empty) { database in
            let client = database.client
            let all = try LegacyChain.migrations()
            let upTo18 = try LegacyChain.migrations(upTo: 18)
            try await MigrationRunner(migrations: upTo18, logger: TestDatabase.logger).migrate(client)
            try await SampleNetwork.load(into: client, logger: TestDatabase.logger)
            try await client.execute("INSERT INTO oms_meters (meter_number, location_lat, location_lng) VALUES ('M-BARE', 40, -75)")
            let stamps = "SELECT md5(string_agg(meter_number || updated_at::text, ',' ORDER BY meter_number)) FROM oms_meters"
            let before = try await client.scalar(PostgresQuery(unsafeSQL: stamps), as: String.self)
            try await MigrationRunner(migrations: all, logger: TestDatabase.logger).migrate(client)
            let sources = try await client.scalar(
                """
                SELECT string_agg(coalesce(topology_source, 'none') || ' ' || count, ', ' ORDER BY topology_source)
                  FROM (SELECT topology_source, count(*) FROM oms_meters GROUP BY 1) s
                """, as: String.self)
            #expect(sources == "explicit 2700, none 1")
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: stamps), as: String.self) == before)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meters WHERE topology_distance_km IS NOT NULL", as: Int.self) == 0)
        }
    }

    // MARK: - Proximity search

    @Test("oms_meters_within returns the active meters within the radius, nearest first")
    func withinNearestFirst() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let (lat, lng, radius) = (39.9526, -75.1652, 1.5)
            // The nearest meter is retired: it must not be found.
            let retired = try await client.scalar(
                "SELECT meter_number FROM oms_meters_within(\(lat), \(lng), \(radius)) LIMIT 1", as: String.self)
            try await client.execute("UPDATE oms_meters SET status = 'inactive' WHERE meter_number = \(retired)")
            let rows = try await client.fetch(
                """
                SELECT meter_number, distance_km, coalesce(dp_code, '-') || '/' || feeder_code || '/' || substation_code
                  FROM oms_meters_within(\(lat), \(lng), \(radius))
                """, logger: TestDatabase.logger)
            var found: [(meter: String, distance: Double, topology: String)] = []
            for row in try rows.decode((String, Double, String).self) { found.append(row) }

            // The same question answered the slow way: every meter, distances computed here.
            let expected = try await bruteForce(lat, lng, radius, client)
            #expect(found.map(\.meter) == expected)
            #expect(found.count > 50 && found.count < 2_000, "a real subset: \(found.count)")
            #expect(!found.contains { $0.meter == retired })
            #expect(found.map(\.distance) == found.map(\.distance).sorted())
            #expect(found.allSatisfy { $0.distance <= radius })
            let first = try #require(found.first)
            #expect(isClose(first.distance, try await distance(first.meter, lat, lng, client)))
            #expect(first.topology.hasSuffix("/SS001") && first.topology.contains("/FD00"))
        }
    }

    @Test("across the 180th meridian and around the poles, every meter in the circle is found")
    func antimeridianAndPoles() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // Grids of meters astride the 180th meridian (at the equator and at 65 N) and around both poles.
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, location_lat, location_lng)
                SELECT 'A' || row_number() OVER (), lat, CASE WHEN lng > 180 THEN lng - 360 ELSE lng END
                  FROM generate_series(-0.05, 0.05, 0.01) lat, generate_series(179.9, 180.1, 0.005) lng
                UNION ALL
                SELECT 'H' || row_number() OVER (), lat, CASE WHEN lng > 180 THEN lng - 360 ELSE lng END
                  FROM generate_series(64.98, 65.02, 0.005) lat, generate_series(179.9, 180.1, 0.01) lng
                UNION ALL
                SELECT 'N' || row_number() OVER (), lat, lng
                  FROM generate_series(89.9, 90, 0.01) lat, generate_series(-180, 170, 10) lng
                UNION ALL
                SELECT 'S' || row_number() OVER (), -lat, lng
                  FROM generate_series(89.9, 90, 0.01) lat, generate_series(-175, 175, 10) lng
                """)
            let searches: [(lat: Double, lng: Double, radius: Double)] = [
                (0, 180, 3), (0, -180, 3), (0.02, 179.97, 4), (-0.01, -179.995, 2.5), (65, -179.995, 2),
                (65.01, 179.98, 3), (89.99, 0, 5), (89.97, 120, 4), (90, 0, 3), (-89.98, -60, 4), (-90, 45, 8),
            ]
            for (lat, lng, radius) in searches {
                let found = try await within(lat, lng, radius, client)
                let expected = try await bruteForce(lat, lng, radius, client)
                #expect(found.map(\.meter) == expected, "(\(lat), \(lng)) within \(radius) km")
                #expect(expected.count >= 10, "(\(lat), \(lng)) within \(radius) km: a real test")
            }

            // Linking too: a DP just east of the meridian serves a meter just west of it (111 m apart).
            try await run(
                """
                INSERT INTO network_substations (substation_id, location_lat, location_lng) VALUES ('FIJI', 0, -179.9);
                INSERT INTO network_feeders (feeder_id, substation_id) SELECT 'FIJI-F', id FROM network_substations;
                INSERT INTO network_distribution_points (dp_id, feeder_id, location_lat, location_lng)
                SELECT 'FIJI-D', id, 0, -179.9995 FROM network_feeders;
                INSERT INTO oms_meters (meter_number, location_lat, location_lng) VALUES ('M-WEST', 0, 179.9995);
                """, client)
            _ = try await link(client, only: ["M-WEST"])
            let west = try await topology("M-WEST", client)
            #expect(west.dp == "FIJI-D" && west.source == "inferred")
            #expect(isClose(west.distance, Self.haversine(0, 179.9995, 0, -179.9995)))
        }
    }

    @Test("oms_meters_nearest is the first rows of oms_meters_within, found by a nearest-neighbour scan")
    func nearestIsTheFirstRows() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // A dense city at 60 N (a degree of longitude is half a degree of latitude there, so the index's
            // order in degrees differs from the great circle's), a grid astride the 180th meridian, a few
            // retired meters and one without coordinates.
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, location_lat, location_lng, status)
                SELECT 'C' || g, 60 + (g % 100) * 0.0007, 25 + (g / 100) * 0.0011,
                       CASE WHEN g % 37 = 0 THEN 'inactive' ELSE 'active' END
                  FROM generate_series(0, 9999) g
                UNION ALL
                SELECT 'A' || row_number() OVER (), lat, CASE WHEN lng > 180 THEN lng - 360 ELSE lng END, 'active'
                  FROM generate_series(-0.05, 0.05, 0.01) lat, generate_series(179.9, 180.1, 0.005) lng
                UNION ALL
                SELECT 'NOLOC', NULL, NULL, 'active'
                """)
            try await client.execute("ANALYZE oms_meters")
            let searches: [(lat: Double, lng: Double, radius: Double, limit: Int)] = [
                (60.03, 25.05, 5, 100), (60.03, 25.05, 5, 1), (60.0, 25.0, 0.2, 100), (60.07, 25.11, 50, 500),
                (59.9, 24.9, 20, 10), (0, 180, 3, 50), (0.02, -179.99, 10, 200), (0, 179.97, 1, 1000),
                (45, 10, 100, 5),
            ]
            for (lat, lng, radius, limit) in searches {
                let rows = try await client.fetch(
                    "SELECT meter_number, distance_km FROM oms_meters_nearest(\(lat), \(lng), \(radius), \(limit))",
                    logger: TestDatabase.logger)
                var nearest: [(meter: String, distance: Double)] = []
                for row in try rows.decode((String, Double).self) { nearest.append(row) }
                let all = try await within(lat, lng, radius, client)
                let call = "oms_meters_nearest(\(lat), \(lng), \(radius), \(limit))"
                #expect(nearest.map(\.meter) == all.prefix(limit).map(\.meter), "\(call)")
                #expect(nearest.map(\.distance) == all.prefix(limit).map(\.distance), "\(call)")
            }
            // The dense search reads about its own rows, not the circle's thousands: the server's count of
            // rows the index gave in the same transaction.
            #expect(try await within(60.03, 25.05, 5, client).count > 5_000)
            let counts = try await database.psql(
                """
                DO $$ BEGIN PERFORM count(*) FROM oms_meters_nearest(60.03, 25.05, 5, 100); END $$;
                SELECT seq_scan, idx_scan, idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters'
                """)
            #expect(counts.column("seq_scan") == ["0"])
            let fetched = counts.int("idx_tup_fetch") ?? 0
            #expect(fetched >= 100 && fetched < 1_000, "rows read through the index: \(fetched)")

            for limit in ["0", "-3", "NULL"] {
                await #expect(Comment(rawValue: limit)) {
                    try await client.execute(PostgresQuery(unsafeSQL: "SELECT * FROM oms_meters_nearest(60, 25, 5, \(limit))"))
                } throws: { error in
                    error.databaseSQLState == "22023" && (error as? PSQLError)?.serverInfo?[.columnName] == "p_limit"
                }
            }
            await #expect(throws: (any Error).self) {
                try await client.execute("SELECT * FROM oms_meters_nearest(60, 25, -1, 10)")
            }
        }
    }

    @Test("bad arguments are refused, naming the argument")
    func badArguments() async throws {
        try await TestDatabase.with(.migrated) { database in
            let cases: [(lat: Double?, lng: Double?, radius: Double?, argument: String)] = [
                (91, 0, 1, "p_lat"), (-90.5, 0, 1, "p_lat"), (.nan, 0, 1, "p_lat"), (nil, 0, 1, "p_lat"),
                (0, 180.01, 1, "p_lng"), (0, -.infinity, 1, "p_lng"), (0, .nan, 1, "p_lng"), (0, nil, 1, "p_lng"),
                (0, 0, 0, "p_radius_km"), (0, 0, -1, "p_radius_km"), (0, 0, .nan, "p_radius_km"),
                (0, 0, .infinity, "p_radius_km"), (0, 0, nil, "p_radius_km"),
            ]
            for (lat, lng, radius, argument) in cases {
                let call = "oms_meters_within(\(String(describing: lat)), \(String(describing: lng)), \(String(describing: radius)))"
                await #expect(Comment(rawValue: call)) {
                    try await database.client.execute("SELECT * FROM oms_meters_within(\(lat), \(lng), \(radius))")
                } throws: { error in
                    error.databaseSQLState == "22023"
                        && (error as? PSQLError)?.serverInfo?[.columnName] == argument
                        && error.readableDatabaseMessage.contains(argument)
                }
            }
            // psql, with literals.
            await #expect(throws: PsqlError.self) { _ = try await database.psql("SELECT * FROM oms_meters_within(0, 200, 5)") }
        }
    }

    @Test("search and linking read through the GiST indexes, never a scan of the registry or the network; a circle's devices are looked up once each")
    func indexed() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // 20,000 meters on a 200 x 100 grid (0.001 degree), 2,000 DPs on a 0.004 degree grid over them.
            try await client.execute(statements: [
                "INSERT INTO network_substations (substation_id, location_lat, location_lng) VALUES ('GS', 45, 10)",
                "INSERT INTO network_feeders (feeder_id, substation_id, location_lat, location_lng) SELECT 'GF', id, 45, 10 FROM network_substations",
                """
                INSERT INTO network_distribution_points (dp_id, feeder_id, location_lat, location_lng)
                SELECT 'GD' || g, f.id, 45 + (g % 50) * 0.004, 10 + (g / 50) * 0.004
                  FROM network_feeders f, generate_series(0, 1999) g
                """,
                """
                INSERT INTO oms_meters (meter_number, location_lat, location_lng)
                SELECT 'G' || g, 45 + (g % 200) * 0.001, 10 + (g / 200) * 0.001 FROM generate_series(0, 19999) g
                """,
                "ANALYZE",
            ])
            let plan = try await database.psql("EXPLAIN SELECT * FROM oms_meters_within(45.1, 10.05, 1)")
                .column("QUERY PLAN").compactMap { $0 }.joined(separator: "\n")
            #expect(plan.contains("Index Scan on oms_meters_point_idx"), "\(plan)")
            #expect(!plan.contains("Seq Scan on oms_meters"), "\(plan)")

            // Counted by the server in the same transaction: index scans, no sequential scan.
            let search = try await database.psql(
                """
                DO $$ BEGIN PERFORM count(*) FROM oms_meters_within(45.1, 10.05, 1); END $$;
                SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters'
                """)
            #expect(search.column("seq_scan") == ["0"])
            #expect(search.column("idx_scan") == ["1"])

            let linking = try await database.psql(
                """
                DO $$ BEGIN PERFORM * FROM oms_link_meters_by_proximity(); END $$;
                SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'network_distribution_points'
                """)
            #expect(linking.column("seq_scan") == ["0"])
            #expect((linking.int("idx_scan") ?? 0) >= 20_000)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meters WHERE topology_source = 'inferred' AND dp_id IS NOT NULL",
                as: Int.self) == 20_000)

            // A circle's devices are looked up once each, not once per meter nor by reading every
            // device: the ~360 meters of this circle lie under a few dozen of the 2,000 distribution
            // points, and no more distribution point rows are read than the answer names. Their codes
            // are still each meter's own.
            let answer = try await database.psql(
                """
                SELECT count(*) AS meters, count(DISTINCT w.dp_code) AS dps, count(DISTINCT w.feeder_code) AS feeders,
                       count(*) FILTER (WHERE w.dp_code IS DISTINCT FROM d.dp_id OR w.feeder_code IS DISTINCT FROM 'GF'
                                           OR w.substation_code IS DISTINCT FROM 'GS') AS wrong
                  FROM oms_meters_within(45.1, 10.05, 1) w
                  JOIN oms_meters m ON m.id = w.id
                  LEFT JOIN network_distribution_points d ON d.id = m.dp_id
                """)
            #expect((answer.int("meters") ?? -1) > 300)
            #expect((10...50).contains(answer.int("dps") ?? -1))
            #expect(answer.int("feeders") == 1)
            #expect(answer.column("wrong") == ["0"])
            let lookups = try await database.psql(
                """
                DO $$ BEGIN PERFORM count(dp_code), count(feeder_code) FROM oms_meters_within(45.1, 10.05, 1); END $$;
                SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS dp_rows
                  FROM pg_stat_xact_user_tables WHERE relname = 'network_distribution_points'
                """)
            #expect((1...max(answer.int("dps") ?? -1, 1)).contains(lookups.int("dp_rows") ?? -1), "\(lookups.column("dp_rows"))")
        }
    }

    @Test("status updates of a meter stay heap-only (HOT): nothing new indexes a status column")
    func statusUpdatesStayHOT() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let counts = try await database.psql(
                """
                DO $$ BEGIN
                    UPDATE oms_meters SET power_status = 'off', communication_status = 'offline',
                           last_status_change = now(), last_power_change = now(), last_communication = now()
                     WHERE meter_number IN ('M12345678', 'M10000002');
                END $$;
                SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters'
                """)
            #expect(counts.column("n_tup_upd") == ["2"])
            #expect(counts.column("n_tup_hot_upd") == ["2"])
        }
    }
}
