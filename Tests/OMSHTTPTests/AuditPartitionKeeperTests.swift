import OMSHTTP
import OMSTestSupport
import PostgresNIO
import Testing

/// `oms serve` keeps the audit trail's monthly partitions made ahead (`AuditPartitionKeeper`).
@Suite("The audit trail's partitions are made ahead while the service runs")
struct AuditPartitionKeeperTests {
    @Test("a missing partition of the coming months is made again soon after the service starts")
    func madeAhead() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let nextMonth = try await client.scalar(
                "SELECT 'oms_meter_status_events_' || to_char((now() + interval '1 month') AT TIME ZONE 'UTC', '\"y\"YYYY\"m\"MM')",
                as: String.self)
            try await client.execute(PostgresQuery(unsafeSQL: "DROP TABLE \(nextMonth)"))
            let exists = "SELECT count(*)::int FROM pg_class WHERE relname = '\(nextMonth)'"
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) == 0)
            try await withApp(database) { _ in
                let deadline = ContinuousClock.now + .seconds(60)
                while try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) == 0 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: exists), as: Int.self) == 1, "\(nextMonth) made again")
        }
    }
}
