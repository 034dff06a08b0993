import ArgumentParser
import Foundation
import Logging
import OMSDomain
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
                try await DatabaseReset(client: client, logger: logger).recreatePublicSchema()
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

                try await DatabaseMaintenance(client: client, logger: logger).vacuumAnalyzeMeters()
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
            try await DatabaseMaintenance(client: client, logger: logger).checkpoint()
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

    /// Writes the rows (`RegistryMigrationBenchStore.insertSourceRows`), then refreshes the statistics.
    func generate(_ client: PostgresClient, logger: Logger) async throws {
        try await RegistryMigrationBenchStore(client: client, logger: logger)
            .insertSourceRows(uniqueRows: uniqueRows, duplicateRows: duplicateRows)
        try await DatabaseMaintenance(client: client, logger: logger).vacuumAnalyze()
    }

    /// The number-bearing source rows, INSERTed into an emptied `oms_meters` as they are: rows inserted, seconds.
    func baseline(_ client: PostgresClient, logger: Logger) async throws -> (Int, Double) {
        let store = RegistryMigrationBenchStore(client: client, logger: logger)
        try await store.prepareBaseline()
        try await RegistryMigrationBench.checkpoint(client, logger: logger)
        let (_, seconds) = try await RegistryMigrationBench.timed {
            try await store.insertBaselineRows()
        }
        let inserted = try await store.baselineRowCount()
        try await store.dropBaselineRows()
        return (inserted, seconds)
    }
}
