import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The session work tables of a feed call (01_helpers.sql): emptied by the commit in place, so
/// the next call of the session neither truncates them nor plans its statements again.
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
}
