import ArgumentParser
import Foundation
import Logging
import OMSStore
import PostgresNIO

/// `oms bench registry-migration`: `oms_migrate_registry()` over generated source rows with
/// duplicates, against a plain INSERT ... SELECT of the same rows into `oms_meters` (same run).
struct RegistryMigrationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-migration",
        abstract: "Build the registry from generated feed rows with duplicates (oms_migrate_registry): seconds and rows/s against a plain INSERT of the same rows.",
        discussion: """
            Fills a fresh database (oms_bench_registry_migration, schema dropped and migrated) with --rows \
            source rows, of which --duplicates percent name a meter another row already names: CIS and ONU \
            inventory rows (oms_registry_sources), KAIFA events, call-center tickets and ONU events. The \
            duplicates are spread over the four sources: tickets typing the number loosely, KAIFA events naming \
            the meter's asset, ONU events of the meter's ONU, CIS rows spelling the number differently (1 in 25 \
            of them with a differing ONU id: a conflict). Then it times the migration (a first build: one \
            transaction, committed), then a second run (a refresh that must change nothing), then the \
            baseline: the same number-bearing rows INSERTed into an emptied oms_meters as they are, without \
            merging (ON CONFLICT DO NOTHING for exact repeats). A CHECKPOINT precedes each timed step.
            """
    )

    static let databaseName = "oms_bench_registry_migration"

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Source rows to generate, all sources together.")
    var rows: Int = 1_000_000

    @Option(help: "Percent of the rows that duplicate a meter another row names.")
    var duplicates: Int = 5

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    /// The figures of one run.
    struct Result: Codable {
        var sourceRows: Int
        var duplicatePercent: Int
        var seconds: Double
        var rowsPerSecond: Double
        var metersInserted: Int
        var mergedGroups: Int
        var conflicts: Int
        var labelPasses: Int
        var refreshSeconds: Double
        var refreshChangedNothing: Bool
        var baselineRows: Int
        var baselineSeconds: Double
        var baselineRowsPerSecond: Double
        var ratioToBaseline: Double
        var goalSeconds: Double
    }

    func validate() throws {
        guard rows >= 1_000 else { throw ValidationError("--rows must be at least 1000") }
        guard (0...50).contains(duplicates) else { throw ValidationError("--duplicates must be a percentage from 0 to 50") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (rows, duplicates) = (rows, duplicates)
        let result = try await database.withDatabase(database: Self.databaseName, logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.resetSchema(client, logger: logger)
                _ = try await MigrationRunner.bundled(logger: logger).migrate(client)
                let source = MigrationSourceRows(rows: rows, duplicatePercent: duplicates)
                let generated = ContinuousClock.now
                try await source.generate(client, logger: logger)
                FileHandle.standardError.write(Data(
                    "generated \(rows) source rows (\(source.duplicateRows) duplicates) in \(ContinuousClock.now - generated)\n".utf8))

                let migration = RegistryMigration(client: client, logger: logger)
                try await Self.checkpoint(client, logger: logger)
                let (first, seconds) = try await Self.timed { try await migration.run(reportLimit: 0) }
                FileHandle.standardError.write(Data("first build: \(first.metersInserted) meters in \(seconds) s\n".utf8))

                try await client.query("VACUUM ANALYZE oms_meters", logger: logger)
                try await Self.checkpoint(client, logger: logger)
                let (second, refreshSeconds) = try await Self.timed { try await migration.run(reportLimit: 0) }

                let (baselineRows, baselineSeconds) = try await source.baseline(client, logger: logger)
                return Result(
                    sourceRows: first.totalRowsRead, duplicatePercent: duplicates, seconds: seconds,
                    rowsPerSecond: Double(first.totalRowsRead) / seconds, metersInserted: first.metersInserted,
                    mergedGroups: first.mergedGroups, conflicts: first.conflicts, labelPasses: first.labelPasses,
                    refreshSeconds: refreshSeconds,
                    refreshChangedNothing: second.metersInserted == 0 && second.metersUpdated == 0,
                    baselineRows: baselineRows, baselineSeconds: baselineSeconds,
                    baselineRowsPerSecond: Double(baselineRows) / baselineSeconds,
                    ratioToBaseline: seconds / baselineSeconds, goalSeconds: 60)
            }
        }
        var table = TextTable(columns: [
            "source rows", "dup %", "seconds", "rows/s", "meters inserted", "merged groups", "conflicts", "passes",
            "refresh s", "refresh changed", "baseline rows", "baseline s (plain INSERT)", "baseline rows/s", "ratio",
            "goal", "met",
        ])
        table.append([
            "\(result.sourceRows)", "\(result.duplicatePercent)", String(format: "%.1f", result.seconds),
            String(format: "%.0f", result.rowsPerSecond), "\(result.metersInserted)", "\(result.mergedGroups)",
            "\(result.conflicts)", "\(result.labelPasses)", String(format: "%.1f", result.refreshSeconds),
            result.refreshChangedNothing ? "nothing" : "SOMETHING", "\(result.baselineRows)",
            String(format: "%.1f", result.baselineSeconds), String(format: "%.0f", result.baselineRowsPerSecond),
            String(format: "%.2fx", result.ratioToBaseline), "<= \(Int(result.goalSeconds)) s",
            result.seconds <= result.goalSeconds ? "yes" : "NO",
        ])
        print(table.render())
        if let json {
            try JSONOutput.write(result, to: json)
        }
    }

    /// Runs `body` and returns its result with the seconds it took.
    static func timed<T>(_ body: () async throws -> T) async throws -> (T, Double) {
        let started = ContinuousClock.now
        let value = try await body()
        return (value, (ContinuousClock.now - started).seconds)
    }

    /// Writes dirty buffers out before a timed step, so that no step pays for the one before.
    /// (Needs superuser or pg_checkpoint; without, the step is simply not preceded by one.)
    static func checkpoint(_ client: PostgresClient, logger: Logger) async throws {
        do {
            try await client.query("CHECKPOINT", logger: logger)
        } catch where error.databaseSQLState == "42501" {
            logger.notice("no CHECKPOINT before the timed step: \(error.readableDatabaseMessage)")
        }
    }
}

/// The generated source rows. Unique row i (1...u) names meter B<i, 8 digits>: i % 20 < 10 a
/// registry-source row (even i: CIS with asset BA<i> and usage point UP<i>; odd i: ONU inventory with
/// ONU-<i> and serial HWTC<i in 8 hex>), 10...16 a KAIFA event (asset, usage point, number), 17...19 a
/// call-center ticket. Duplicate row j (1...d) names meter m = 7919 j mod u + 1 by j % 4: a ticket typing
/// "b-<number>", a KAIFA event with the meter's asset and number, an ONU event of an inventory meter's
/// ONU (m = 20 k + 1), a CIS row spelling "b <number>" (j % 100 = 3: with a differing ONU id, m = 20 k + 1).
struct MigrationSourceRows: Sendable {
    let rows: Int
    let duplicatePercent: Int

    var duplicateRows: Int { rows * duplicatePercent / 100 }
    var uniqueRows: Int { rows - duplicateRows }

    func generate(_ client: PostgresClient, logger: Logger) async throws {
        let (u, d) = (uniqueRows, duplicateRows)
        let blocks = max(u / 20, 1)
        try await client.query(
            """
            INSERT INTO oms_registry_sources (source, source_ref, meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid)
            SELECT CASE WHEN i % 2 = 0 THEN 'cis' ELSE 'onu_inventory' END, 'U' || i, 'B' || lpad(i::text, 8, '0'),
                   CASE WHEN i % 2 = 1 THEN 'ONU-' || i END,
                   CASE WHEN i % 2 = 1 THEN 'HWTC' || upper(lpad(to_hex(i), 8, '0')) END,
                   CASE WHEN i % 2 = 0 THEN 'BA' || i END, CASE WHEN i % 2 = 0 THEN 'UP' || i END
              FROM generate_series(1, \(u)::int) i WHERE i % 20 < 10
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                                      event_timestamp, raw)
            SELECT 'BK' || i, '3.26.0.47', 'BA' || i, 'UP' || i, 'B' || lpad(i::text, 8, '0'), now(), '{}'
              FROM generate_series(1, \(u)::int) i WHERE i % 20 BETWEEN 10 AND 16
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, raw)
            SELECT 'BT' || i, now(), 'B' || lpad(i::text, 8, '0'), '{}'
              FROM generate_series(1, \(u)::int) i WHERE i % 20 >= 17
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, raw)
            SELECT 'BTD' || j, now(), 'b-' || lpad(((j::bigint * 7919) % \(u)::int + 1)::text, 8, '0'), '{}'
              FROM generate_series(1, \(d)::int) j WHERE j % 4 = 0
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, asset_mrid, meter_number, event_timestamp, raw)
            SELECT 'BKD' || j, '3.26.0.47', 'BA' || m, 'B' || lpad(m::text, 8, '0'), now(), '{}'
              FROM (SELECT j, (j::bigint * 7919) % \(u)::int + 1 AS m FROM generate_series(1, \(d)::int) j WHERE j % 4 = 1) x
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO onu_events (source_event_id, event_type, onu_id, onu_serial, event_timestamp, raw)
            SELECT 'BOD' || j, 'ONU_LastGaspAlert', 'ONU-' || m, 'HWTC' || upper(lpad(to_hex(m), 8, '0')), now(), '{}'
              FROM (SELECT j, 20 * ((j::bigint * 7919) % \(blocks)::int) + 1 AS m
                      FROM generate_series(1, \(d)::int) j WHERE j % 4 = 2) x
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO oms_registry_sources (source, source_ref, meter_number, onu_id)
            SELECT 'cis', 'D' || j, 'b ' || lpad(m::text, 8, '0'), CASE WHEN j % 100 = 3 THEN 'ONU-X' || m END
              FROM (SELECT j, CASE WHEN j % 100 = 3 THEN 20 * ((j::bigint * 7919) % \(blocks)::int) + 1
                                   ELSE (j::bigint * 7919) % \(u)::int + 1 END AS m
                      FROM generate_series(1, \(d)::int) j WHERE j % 4 = 3) x
            """, logger: logger)
        try await client.query("VACUUM ANALYZE", logger: logger)
    }

    /// The number-bearing source rows, INSERTed into an emptied `oms_meters` as they are: rows inserted, seconds.
    func baseline(_ client: PostgresClient, logger: Logger) async throws -> (Int, Double) {
        try await client.query(
            """
            CREATE TABLE bench_baseline_rows AS
            SELECT meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid
              FROM oms_registry_sources WHERE meter_number IS NOT NULL
            UNION ALL
            SELECT meter_number, NULL, NULL, asset_mrid, usage_point_mrid FROM kaifa_events WHERE meter_number IS NOT NULL
            UNION ALL
            SELECT meter_number, NULL, NULL, NULL, NULL FROM callcenter_tickets WHERE meter_number IS NOT NULL
            """, logger: logger)
        try await client.query("TRUNCATE oms_meters CASCADE", logger: logger)
        try await client.query("VACUUM ANALYZE bench_baseline_rows", logger: logger)
        try await RegistryMigrationBench.checkpoint(client, logger: logger)
        let (_, seconds) = try await RegistryMigrationBench.timed {
            try await client.query(
                """
                INSERT INTO oms_meters (meter_number, onu_id, onu_serial_no, asset_mrid, usage_point_mrid)
                SELECT meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid FROM bench_baseline_rows
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        var inserted = 0
        for try await count in try await client.query("SELECT count(*)::int FROM bench_baseline_rows", logger: logger)
            .decode(Int.self) { inserted = count }
        try await client.query("DROP TABLE bench_baseline_rows", logger: logger)
        return (inserted, seconds)
    }
}
