import OMSHTTP
import OMSTestSupport
import PostgresNIO
import Testing

/// `oms serve` keeps the monthly partitions of the tables kept by month made ahead (`PartitionKeeper`).
@Suite("The monthly partitions are made ahead while the service runs")
struct PartitionKeeperTests {
    @Test("a missing partition of the coming months is made again soon after the service starts")
    func madeAhead() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let suffix = try await client.scalar(
                "SELECT to_char((now() + interval '1 month') AT TIME ZONE 'UTC', '\"y\"YYYY\"m\"MM')", as: String.self)
            let nextMonths = ["oms_meter_status_events", "kaifa_events", "onu_events"].map { "\($0)_\(suffix)" }
            for partition in nextMonths { try await client.execute(PostgresQuery(unsafeSQL: "DROP TABLE \(partition)")) }
            let exists = "SELECT count(*)::int FROM pg_class WHERE relname IN (\(nextMonths.map { "'\($0)'" }.joined(separator: ", ")))"
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) == 0)
            try await withApp(database) { _ in
                let deadline = ContinuousClock.now + .seconds(60)
                while try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) < 3 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) == 3, "\(nextMonths) made again")
        }
    }
}
