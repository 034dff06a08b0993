import Logging
import PostgresNIO

/// What `oms bench registry-migration` writes and times besides `oms_migrate_registry()`: the
/// generated source rows with duplicates, and its baseline (the same number-bearing rows INSERTed
/// into an emptied `oms_meters` as they are, through a scratch table `bench_baseline_rows`).
public struct RegistryMigrationBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Inserts `uniqueRows` rows naming distinct meters and `duplicateRows` rows naming a meter another
    /// row already names, into `oms_registry_sources`, `kaifa_events`, `callcenter_tickets` and `onu_events`.
    ///
    /// Unique row i (1...u) names meter B<i, 8 digits>: i % 20 < 10 a registry-source row (even i: CIS
    /// with asset BA<i> and usage point UP<i>; odd i: ONU inventory with ONU-<i> and serial HWTC<i in 8
    /// hex>), 10...16 a KAIFA event (asset, usage point, number), 17...19 a call-center ticket. Duplicate
    /// row j (1...d) names meter m = 7919 j mod u + 1 by j % 4: a ticket typing "b-<number>", a KAIFA
    /// event with the meter's asset and number, an ONU event of an inventory meter's ONU (m = 20 k + 1),
    /// a CIS row spelling "b <number>" (j % 100 = 3: with a differing ONU id, m = 20 k + 1).
    public func insertSourceRows(uniqueRows u: Int, duplicateRows d: Int) async throws {
        let blocks = max(u / 20, 1)
        try await client.fetch(
            """
            INSERT INTO oms_registry_sources (source, source_ref, meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid)
            SELECT CASE WHEN i % 2 = 0 THEN 'cis' ELSE 'onu_inventory' END, 'U' || i, 'B' || lpad(i::text, 8, '0'),
                   CASE WHEN i % 2 = 1 THEN 'ONU-' || i END,
                   CASE WHEN i % 2 = 1 THEN 'HWTC' || upper(lpad(to_hex(i), 8, '0')) END,
                   CASE WHEN i % 2 = 0 THEN 'BA' || i END, CASE WHEN i % 2 = 0 THEN 'UP' || i END
              FROM generate_series(1, \(u)::int) i WHERE i % 20 < 10
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                                      event_timestamp, raw)
            SELECT 'BK' || i, '3.26.0.47', 'BA' || i, 'UP' || i, 'B' || lpad(i::text, 8, '0'), now(), '{}'
              FROM generate_series(1, \(u)::int) i WHERE i % 20 BETWEEN 10 AND 16
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, raw)
            SELECT 'BT' || i, now(), 'B' || lpad(i::text, 8, '0'), '{}'
              FROM generate_series(1, \(u)::int) i WHERE i % 20 >= 17
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, raw)
            SELECT 'BTD' || j, now(), 'b-' || lpad(((j::bigint * 7919) % \(u)::int + 1)::text, 8, '0'), '{}'
              FROM generate_series(1, \(d)::int) j WHERE j % 4 = 0
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, asset_mrid, meter_number, event_timestamp, raw)
            SELECT 'BKD' || j, '3.26.0.47', 'BA' || m, 'B' || lpad(m::text, 8, '0'), now(), '{}'
              FROM (SELECT j, (j::bigint * 7919) % \(u)::int + 1 AS m FROM generate_series(1, \(d)::int) j WHERE j % 4 = 1) x
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO onu_events (source_event_id, event_type, onu_id, onu_serial, event_timestamp, raw)
            SELECT 'BOD' || j, 'ONU_LastGaspAlert', 'ONU-' || m, 'HWTC' || upper(lpad(to_hex(m), 8, '0')), now(), '{}'
              FROM (SELECT j, 20 * ((j::bigint * 7919) % \(blocks)::int) + 1 AS m
                      FROM generate_series(1, \(d)::int) j WHERE j % 4 = 2) x
            """, logger: logger)
        try await client.fetch(
            """
            INSERT INTO oms_registry_sources (source, source_ref, meter_number, onu_id)
            SELECT 'cis', 'D' || j, 'b ' || lpad(m::text, 8, '0'), CASE WHEN j % 100 = 3 THEN 'ONU-X' || m END
              FROM (SELECT j, CASE WHEN j % 100 = 3 THEN 20 * ((j::bigint * 7919) % \(blocks)::int) + 1
                                   ELSE (j::bigint * 7919) % \(u)::int + 1 END AS m
                      FROM generate_series(1, \(d)::int) j WHERE j % 4 = 3) x
            """, logger: logger)
    }

    /// Copies every number-bearing source row (registry sources, KAIFA events, call-center tickets)
    /// into a new table `bench_baseline_rows`, empties `oms_meters` (`TRUNCATE … CASCADE`) and
    /// refreshes the new table's statistics: the baseline's starting point.
    public func prepareBaseline() async throws {
        try await client.fetch(
            """
            CREATE TABLE bench_baseline_rows AS
            SELECT meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid
              FROM oms_registry_sources WHERE meter_number IS NOT NULL
            UNION ALL
            SELECT meter_number, NULL, NULL, asset_mrid, usage_point_mrid FROM kaifa_events WHERE meter_number IS NOT NULL
            UNION ALL
            SELECT meter_number, NULL, NULL, NULL, NULL FROM callcenter_tickets WHERE meter_number IS NOT NULL
            """, logger: logger)
        try await client.fetch("TRUNCATE oms_meters CASCADE", logger: logger)
        try await client.fetch("VACUUM ANALYZE bench_baseline_rows", logger: logger)
    }

    /// The baseline itself (the statement timed): `bench_baseline_rows` INSERTed into `oms_meters` as
    /// they are, without merging (`ON CONFLICT DO NOTHING` for exact repeats).
    public func insertBaselineRows() async throws {
        try await client.fetch(
            """
            INSERT INTO oms_meters (meter_number, onu_id, onu_serial_no, asset_mrid, usage_point_mrid)
            SELECT meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid FROM bench_baseline_rows
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// The rows of `bench_baseline_rows`.
    public func baselineRowCount() async throws -> Int {
        var rows = 0
        for count in try await client.fetch("SELECT count(*)::int FROM bench_baseline_rows", logger: logger)
            .decode(Int.self) { rows = count }
        return rows
    }

    /// Drops `bench_baseline_rows`.
    public func dropBaselineRows() async throws {
        try await client.fetch("DROP TABLE bench_baseline_rows", logger: logger)
    }
}
