import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The session work tables of a feed call (01_helpers.sql): emptied by the commit in place, so
/// the next call of the session neither truncates them nor plans its statements again; and the
/// link work table analyzed again when its statistics would mislead (06_correlation.sql).
@Suite("Session work tables")
struct WorkTableTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    @Test("a committed feed call leaves its work tables empty, in the same file, for the next call")
    func emptiedByTheCommit() async throws {
        try await withNetwork { client in
            try await client.withConnection { connection in
                // On this one connection: the work tables are its session's.
                func gasps(_ meters: [String], at seconds: Double) async throws {
                    _ = try await connection.query(
                        "SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch(meters, at: seconds))::jsonb)",
                        logger: TestDatabase.logger).collect()
                }
                func workTables() async throws -> [String: (rows: Int, file: Int)] {
                    var result: [String: (rows: Int, file: Int)] = [:]
                    for table in ["oms_kaifa_staged", "oms_link_work", "oms_feed_outcomes"] {
                        let rows = try await connection.query(
                            PostgresQuery(unsafeSQL: "SELECT count(*)::int, pg_relation_filenode('pg_temp.\(table)')::int FROM pg_temp.\(table)"),
                            logger: TestDatabase.logger)
                        for try await (count, file) in rows.decode((Int, Int).self) { result[table] = (count, file) }
                    }
                    return result
                }

                let meters = (1...4).flatMap { dp in (1...4).map { "M-F1-D\(dp)-\($0)" } }
                try await gasps(meters, at: 0)
                let first = try await workTables()
                #expect(first.count == 3)
                #expect(first.values.allSatisfy { $0.rows == 0 }, "\(first)")

                try await gasps(["M-F2-D1-1"], at: 60)
                let second = try await workTables()
                #expect(second.values.allSatisfy { $0.rows == 0 }, "\(second)")
                for (table, state) in first {
                    #expect(second[table]?.file == state.file, "\(table) was given a new file (truncated by the call)")
                }
            }
        }
    }

    /// The link work table's statistics, whatever the session's batches held (06_correlation.sql,
    /// `oms_link_work_analyze`).
    @Test("the link work table is analyzed again when its rows with and without an outage move far from its statistics, not at every batch")
    func analyzedWhenMisleading() async throws {
        try await withNetwork { client in
            // 300 more meters under F1-D1 and F2-D1: batches large enough for the table to be analyzed.
            try await client.execute("""
                INSERT INTO oms_meters (meter_number, dp_id, asset_mrid, power_status, communication_status)
                SELECT 'M-' || d.dp_id || '-' || m, d.id, 'A-' || d.dp_id || '-' || m, 'on', 'online'
                  FROM network_distribution_points d CROSS JOIN generate_series(5, 304) m
                 WHERE d.dp_id IN ('F1-D1', 'F2-D1')
                """)
            try await client.withConnection { connection in
                func run(_ sql: String) async throws -> [String] {
                    var lines: [String] = []
                    for try await line in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
                        .decode(String.self) { lines.append(line) }
                    return lines
                }
                func gasps(_ dp: String, at seconds: Double) async throws {
                    _ = try await connection.query(
                        "SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch((1...304).map { "M-\(dp)-\($0)" }, at: seconds))::jsonb)",
                        logger: TestDatabase.logger).collect()
                }
                func analyses() async throws -> Int {
                    _ = try await run("SELECT pg_stat_clear_snapshot()::text")
                    return Int(try await run("SELECT pg_stat_get_analyze_count('pg_temp.oms_link_work'::regclass)::text").first ?? "") ?? -1
                }

                // The session's first large batch: every row is without an outage when first
                // analyzed, and has one a few statements later.
                _ = try await run("BEGIN")
                try await gasps("F1-D1", at: 0)
                #expect(try await run("SELECT count(*)::text FROM oms_link_work WHERE outage_event_id IS NOT NULL") == ["304"])
                // What the planner expects of those rows, as every statement after the outages open
                // reads them ("1 row" was a nested loop of a batch's pairs with themselves).
                let plan = try await run("EXPLAIN SELECT * FROM oms_link_work WHERE outage_event_id IS NOT NULL")
                let estimated = plan.first.flatMap { $0.firstMatch(of: /rows=(\d+)/).map { Int($0.1)! } }
                #expect((estimated ?? 0) >= 150, "\(plan)")
                _ = try await run("COMMIT")
                let first = try await analyses()

                // Another batch of new outages: without an outage first (analyzed), then with one (again).
                try await gasps("F2-D1", at: 600)
                let second = try await analyses()
                #expect(second - first == 2)

                // A batch the open outages cover: the statistics hold, nothing is analyzed.
                try await gasps("F2-D1", at: 660)
                #expect(try await analyses() == second)
            }
        }
    }
}
