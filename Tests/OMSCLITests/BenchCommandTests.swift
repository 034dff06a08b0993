import Foundation
import OMSSimulation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

extension CommandTests {
    @Test("oms bench runs every benchmark at a size and prints one table with a row per operation, its baseline and goal")
    func benchAll() async throws {
        try await withScratchFolder { folder in
            let server = try await TestDatabase.server()
            let size = BenchRegistry.minimumSize
            for name in ["oms_bench_\(size)", "oms_bench_import", RegistryMigrationBench.databaseName] {
                try await DatabaseBootstrap.createDatabaseIfNeeded(
                    name, maintenance: try server.clientConfiguration(database: "postgres"), logger: TestDatabase.logger)
            }
            let url = try server.connectionURL(database: "postgres")
            try await run(["bench", "--meters", "\(size)", "--iterations", "3", "--storm-events", "2000", "--api-requests", "20", "--proximity-searches", "20",
                           "--database-url", url, "--json", "\(folder)/bench.json"])
            let lines = try JSONDecoder().decode([AllBench.Line].self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/bench.json")))
            let operations = lines.map(\.operation)
            for expected in ["feeder trip, 150 meters (SQL)", "feeder trip, 150 meters (HTTP)", "meters by substation, 1,000 (SQL)",
                             "meters within 5 km (SQL)", "nearest 100 meters within 5 km (SQL)", "GET /api/v1/meters/{n} (HTTP, 1 client)", "storm, batches of 1000",
                             "storm, answered durable (intake)", "storm, correlated behind the answers", "storm (durable), peak RSS",
                             "import network, customers, meters", "registry migration"] {
                #expect(operations.contains { $0.hasPrefix(expected) }, "\(expected) in \(operations)")
            }
            #expect(lines.allSatisfy { $0.meters == size && !$0.p50.isEmpty && !$0.baseline.isEmpty && $0.ratio.hasSuffix("x") })
            #expect(lines.contains { $0.goal.contains("seed <= 500 ms") && $0.met.contains(";") }, "an issue goal and the seed's, each met or not")
        }
    }
}

extension CommandTests {
    @Test("oms bench history fills the audit trail month by month (detached, filled, attached again with its indexes) and leaves every row readable by the seed's queries")
    func benchHistory() async throws {
        let server = try await TestDatabase.server()
        let size = BenchRegistry.minimumSize
        try await DatabaseBootstrap.createDatabaseIfNeeded(
            "oms_bench_\(size)", maintenance: try server.clientConfiguration(database: "postgres"), logger: TestDatabase.logger)
        try await run(["bench", "history", "--meters", "\(size)", "--rows", "7000", "--months", "3", "--iterations", "3",
                       "--database-url", try server.connectionURL(database: "postgres")])
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(database: "oms_bench_\(size)"), logger: TestDatabase.logger) { client in
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == 7000)
            // Three filled months of 2,000 generated rows (and their share of the 1,000 timed ones), each a
            // partition again with the parent's four indexes, none of them in the default partition.
            let months = try await client.fetch(
                """
                SELECT c.relname, (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid)::int
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'oms_meter_status_events'::regclass AND c.relname <> 'oms_meter_status_events_default'
                """, logger: TestDatabase.logger).decode((String, Int).self)
            #expect(months.count >= 3 && months.allSatisfy { $0.1 == 4 }, "\(months)")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_default", as: Int.self) == 0)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meter_status_events e LEFT JOIN oms_meters m ON m.id = e.meter_id WHERE m.id IS NULL",
                as: Int.self) == 0, "every generated row is a registry meter's")
            // The seed's history query uses each month's index.
            let meter = try await client.scalar("SELECT meter_number FROM oms_meters ORDER BY meter_number LIMIT 1", as: String.self)
            let plan = try await client.fetch(
                """
                EXPLAIN SELECT mse.event_timestamp FROM oms_meter_status_events mse JOIN oms_meters m ON mse.meter_id = m.id
                 WHERE m.meter_number = \(meter) ORDER BY mse.event_timestamp DESC LIMIT 100
                """, logger: TestDatabase.logger).decode(String.self).joined(separator: "\n")
            #expect(plan.contains("meter_id_event_timestamp_idx"), "\(plan)")
        }
    }
}

extension CommandTests {
    @Test("the last-gasp storm takes every tenth meter (spread) or meters side by side (areas), each meter once, half from each feed")
    func lastGaspStormPatterns() throws {
        for (pattern, step) in [(Storm.Pattern.spread, 10), (.areas, 1)] {
            let storm = Storm(meters: 50_000, events: 2_000, batchSize: 500, pattern: pattern)
            let meters = (0..<storm.events).map(storm.meter)
            #expect(meters.first == 1)
            #expect(zip(meters, meters.dropFirst()).allSatisfy { $1 - $0 == step }, "\(pattern)")
            let batches = storm.batches()
            #expect(batches.map(\.events).reduce(0, +) == 2_000)
            #expect(batches.filter(\.kaifa).map(\.events).reduce(0, +) == 1_000)
            // Every meter named once, by its asset mRID (KAIFA, even events) or its ONU (odd).
            let named = try batches.flatMap { batch in
                try (JSONSerialization.jsonObject(with: Data(batch.body.utf8)) as? [[String: Any]] ?? [])
                    .compactMap { ($0["assetMRID"] ?? $0["onuId"]) as? String }
            }
            let expected = meters.enumerated().map { i, meter in
                i % 2 == 0 ? BenchRegistry.assetMRID(meter) : BenchRegistry.onuID(meter)
            }
            #expect(Set(named) == Set(expected) && named.count == expected.count)
        }
    }

    @Test("the mixed storm bench sends every message of the simulator's scenario once: each feed's JSON and SOAP XML messages in delivery order, JSON batched, SOAP XML alone")
    func mixedStormTraffic() throws {
        let meters = MixedStorm.minimumMeters
        let now = Date()
        let scenario = MixedStorm.scenario(meters: meters, seed: 7, now: now)
        let traffic = MixedStorm.traffic(scenario, batch: 50)
        let deliveries = scenario.deliveries
        #expect(deliveries.count > 1_000)
        #expect(traffic.events == deliveries.reduce(0) { $0 + MixedStorm.events(in: $1) })
        #expect(traffic.events > deliveries.count, "head-end messages carrying several events")
        #expect(Set(deliveries.map(\.feed)) == Set(FeedKind.allCases), "SCADA, calls and both meter feeds")
        // Ended before now, restorations included: nothing refused as from the future.
        #expect(deliveries.allSatisfy { $0.deliverAt < now })
        #expect(scenario.truth.failures.count == 20, "the issue-7 storm's 14 + 5 + 1 failures at 50,000 meters")

        /// A JSON value as canonical text (keys sorted).
        func canonical(_ object: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
        }
        /// A message's items, each canonical (a head-end's array flattened), or the XML as it is.
        func items(_ text: String) throws -> [String] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                return [text]
            }
            return try (object as? [Any] ?? [object]).map(canonical)
        }
        let largest = deliveries.map { MixedStorm.events(in: $0) }.max() ?? 1
        #expect(traffic.requests.filter { $0.contentType == "application/json" && $0.events > 50 }.count
                    <= deliveries.filter { MixedStorm.events(in: $0) > 50 }.count)
        for feed in FeedKind.allCases {
            for contentType in ["application/json", "application/xml"] {
                let requests = traffic.requests.filter { $0.path == feed.path && $0.contentType == contentType }
                var sent: [String] = []
                for request in requests {
                    if request.contentType == "application/json" {
                        let batch = try items(request.body)
                        // Up to the batch (a larger message alone).
                        #expect(batch.count == request.events && (1...max(50, largest)).contains(batch.count))
                        sent += batch
                    } else {
                        #expect(request.body.contains("EndDeviceEvents>"), "a SOAP message alone")
                        sent.append(request.body)
                    }
                }
                // Each message's items in order (a head-end's array flattened into the request's).
                let expected = try deliveries.filter { $0.feed == feed && $0.contentType == contentType }
                    .flatMap { try items($0.body) }
                #expect(sent == expected, "\(feed) \(contentType): its messages once each, in delivery order")
            }
        }
    }
}
