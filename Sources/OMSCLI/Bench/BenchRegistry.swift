import Foundation
import Logging
import OMSStore
import PostgresNIO

/// A synthetic registry for the benchmarks, built set-based through the real
/// tables and triggers:
///
/// - `BENCH-SUB10K`: 20 feeders of 500 meters (the 10,000-meter substation event);
/// - `BENCH-SUB1K`: 2 feeders of 500 meters (meters by substation, 1,000);
/// - pool substations `BENCH-Pnnnn` of 10 feeders of 150 meters (the feeder trips);
/// - `BENCH-REST`: whatever is left to reach the requested size.
///
/// States by meter index n: power off when n % 20 = 0, communication offline when
/// n % 33 = 0, else on and heard from within 10 minutes. Every meter n has the
/// feed identities asset mRID `BA<n>` and ONU id `BONU<n>` (for the storm).
enum BenchRegistry {
    static let minimumSize = 12_500

    /// Pool feeders of 150 meters, in order: the feeder trips use them round-robin.
    static func poolFeeders(size: Int) -> [(substation: String, feeder: String)] {
        let pools = (size - 11_000) / 1_500
        return (1...max(pools, 1)).flatMap { pool in
            (1...10).map { feeder in
                let substation = "BENCH-P" + String(String(pool + 10_000).dropFirst())
                return (substation, "\(substation)-F\(feeder)")
            }
        }
    }

    /// The number of active meters of a complete benchmark registry, or nil when
    /// there is none (no schema, or one built before the meters had feed identities).
    static func meterCount(_ client: PostgresClient, logger: Logger) async throws -> Int? {
        let exists = try await client.query("SELECT to_regclass('oms_meters') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return nil }
        let rows = try await client.query(
            """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM oms_meters WHERE meter_number = 'B00000001' AND asset_mrid IS NULL)
                        THEN -1 ELSE (SELECT count(*)::int FROM oms_meters WHERE status = 'active') END
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return nil
    }

    /// Migrates the database and makes sure it holds a complete registry of `size`
    /// meters, building it (from an empty schema) when not.
    static func prepare(size: Int, rebuild: Bool, client: PostgresClient, logger: Logger) async throws {
        if rebuild { try await resetSchema(client, logger: logger) }
        try await MigrationRunner.bundled(logger: logger).migrate(client)
        let existing = try await meterCount(client, logger: logger)
        if existing == size { return }
        if existing != 0 {
            try await resetSchema(client, logger: logger)
            try await MigrationRunner.bundled(logger: logger).migrate(client)
        }
        let clock = ContinuousClock()
        let started = clock.now
        FileHandle.standardError.write(Data("building a registry of \(size) meters...\n".utf8))
        try await build(size: size, client: client, logger: logger)
        FileHandle.standardError.write(Data("built in \(clock.now - started)\n".utf8))
    }

    static func resetSchema(_ client: PostgresClient, logger: Logger) async throws {
        try await client.query("DROP SCHEMA public CASCADE", logger: logger)
        try await client.query("CREATE SCHEMA public", logger: logger)
    }

    /// Fills an empty, migrated database with `size` meters.
    static func build(size: Int, client: PostgresClient, logger: Logger) async throws {
        precondition(size >= minimumSize, "the benchmark registry needs at least \(minimumSize) meters")
        let pools = (size - 11_000) / 1_500
        let rest = size - 11_000 - pools * 1_500
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                CREATE TEMP TABLE bench_plan (substation text, feeder text, meters int, ordinal int) ON COMMIT DROP
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO bench_plan (substation, feeder, meters, ordinal)
                SELECT 'BENCH-SUB10K', 'BENCH-SUB10K-F' || f, 500, f FROM generate_series(1, 20) f
                UNION ALL
                SELECT 'BENCH-SUB1K', 'BENCH-SUB1K-F' || f, 500, 100 + f FROM generate_series(1, 2) f
                UNION ALL
                SELECT 'BENCH-P' || lpad(p::text, 4, '0'), 'BENCH-P' || lpad(p::text, 4, '0') || '-F' || f, 150,
                       1000 + p * 10 + f
                  FROM generate_series(1, \(pools)) p, generate_series(1, 10) f
                UNION ALL
                SELECT 'BENCH-REST', 'BENCH-REST-F1', \(rest), 99999999 WHERE \(rest) > 0
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO network_substations (substation_id, name, location_lat, location_lng)
                SELECT DISTINCT substation, substation, 40, -75 FROM bench_plan
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO network_feeders (feeder_id, substation_id, name)
                SELECT p.feeder, s.id, p.feeder FROM bench_plan p JOIN network_substations s ON s.substation_id = p.substation
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO oms_meters (meter_number, feeder_id, substation_id, power_status, communication_status,
                                        last_communication, location_lat, location_lng, asset_mrid, onu_id)
                SELECT 'B' || lpad(g.n::text, 8, '0'), f.id, f.substation_id,
                       CASE WHEN g.n % 20 = 0 THEN 'off' ELSE 'on' END,
                       CASE WHEN g.n % 33 = 0 THEN 'offline' ELSE 'online' END,
                       now() - make_interval(secs => g.n % 600),
                       40 + (g.n % 1000) * 0.001, -75 - (g.n / 1000) * 0.001,
                       'BA' || g.n, 'BONU' || g.n
                  FROM (SELECT feeder, meters,
                               sum(meters) OVER (ORDER BY ordinal) - meters AS first_index
                          FROM bench_plan) p
                  JOIN network_feeders f ON f.feeder_id = p.feeder
                 CROSS JOIN LATERAL generate_series(p.first_index + 1, p.first_index + p.meters) AS g(n)
                """, logger: logger)
        }
        try await client.query("ANALYZE", logger: logger)
    }

    /// Undoes one SCADA event completely (untimed, between benchmark runs), so that
    /// every run does the first-time work: meter statuses back, audit rows, outage
    /// and event gone.
    static func undo(scadaEventID: String, client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE oms_meters m
                   SET power_status = a.meter_status_before, last_status_change = NULL, last_power_change = NULL
                  FROM scada_event_affected_meters a
                 WHERE a.scada_event_id = \(scadaEventID)::uuid AND m.id = a.meter_id
                   AND m.power_status IS DISTINCT FROM a.meter_status_before
                """, logger: logger)
            try await connection.query(
                "DELETE FROM oms_meter_status_events WHERE source_type = 'scada' AND source_event_id = \(scadaEventID)",
                logger: logger)
            try await connection.query(
                """
                DELETE FROM oms_outage_events
                 WHERE id = (SELECT outage_event_id FROM scada_events WHERE id = \(scadaEventID)::uuid)
                """, logger: logger)
            try await connection.query("DELETE FROM scada_events WHERE id = \(scadaEventID)::uuid", logger: logger)
        }
    }
}
