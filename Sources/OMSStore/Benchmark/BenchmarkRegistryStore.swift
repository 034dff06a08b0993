import Logging
import PostgresNIO

/// The benchmarks' registry (`oms bench`, database `oms_bench_<meters>`) as the database holds it:
/// whether a complete one is there, and the meters' states set by their index once it is imported.
public struct BenchmarkRegistryStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The number of active meters; nil when there is no schema yet; -1 when the database holds
    /// meters of another benchmark (`oms bench registry-migration`'s `B00000001`).
    public func activeMeterCount() async throws -> Int? {
        let exists = try await client.fetch("SELECT to_regclass('oms_meters') IS NOT NULL", logger: logger)
        for present in try exists.decode(Bool.self) where !present { return nil }
        let rows = try await client.fetch(
            """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM oms_meters WHERE meter_number = 'B00000001')
                        THEN -1 ELSE (SELECT count(*)::int FROM oms_meters WHERE status = 'active') END
            """, logger: logger)
        for count in try rows.decode(Int.self) { return count }
        return nil
    }

    /// Sets every meter's states by its index n (meter number M1000000n): power off when n % 20 = 0,
    /// communication offline when n % 33 = 0, else on and online; last heard n % 600 seconds ago.
    public func setStatesByMeterIndex() async throws {
        try await client.fetch(
            """
            UPDATE oms_meters m
               SET power_status = CASE WHEN s.n % 20 = 0 THEN 'off' ELSE 'on' END,
                   communication_status = CASE WHEN s.n % 33 = 0 THEN 'offline' ELSE 'online' END,
                   last_communication = now() - make_interval(secs => s.n % 600)
              FROM (SELECT id, substr(meter_number, 2)::int - 10000000 AS n FROM oms_meters) s
             WHERE s.id = m.id
            """, logger: logger)
    }
}
