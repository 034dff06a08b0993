import ArgumentParser
import Foundation
import Logging
import OMSDomain
import OMSSimulation
import OMSStore
import PostgresNIO

/// `oms bench import`: `oms import` of a generated utility (CSV), against a plain
/// COPY of the same meter rows measured in the same run.
struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a generated network and registry from CSV (oms import): seconds and rows/s against a plain COPY of the same rows.",
        discussion: """
            Writes a simulated utility (oms simulate network: one customer per meter, 20 feeders per \
            substation, 20 distribution points per feeder, ~50 meters per distribution point, seed 1) into --folder (default: a temporary folder, removed afterwards), then \
            imports them into a fresh database oms_bench_import, then imports them again (every row \
            unchanged). Baseline: the meters file read and COPYed into the staging table, without checks or \
            upsert.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Meters (and customers) in the generated registry.")
    var meters: Int = 1_000_000

    @Option(help: "Keep the generated files in this folder.")
    var folder: String?

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    /// The figures of one run, as written to --json.
    struct Figures: Codable {
        var meters: Int
        var seconds: Double
        var meterSeconds: Double
        var secondImportSeconds: Double
        var baselineSeconds: Double
    }

    func validate() throws {
        guard meters >= 1_000 else { throw ValidationError("--meters must be at least 1000") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("oms-bench-import-\(UUID().uuidString.prefix(8))").path
        let keep = self.folder != nil
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }
        let network = SimulatedNetwork(.init(
            substations: max(1, (meters + 19_999) / 20_000), feedersPerSubstation: 20, dpsPerFeeder: 20, meters: meters, seed: 1))
        try NetworkFiles.write(network, to: folder, format: .csv)
        FileHandle.standardError.write(Data("wrote a simulated utility of \(meters) meters to \(folder)\n".utf8))

        let files = try RegistryImporter.files(at: folder)
        let (first, second, baseline) = try await database.withDatabase(database: "oms_bench_import", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await DatabaseReset(client: client, logger: logger).recreatePublicSchema()
                _ = try await MigrationRunner.bundled(logger: logger).migrate(client)
                let importer = RegistryImporter(client: client, logger: logger, progressInterval: 250_000) { file, rows in
                    FileHandle.standardError.write(Data("\((file as NSString).lastPathComponent): \(rows) rows read\n".utf8))
                }
                // Each file's seconds: from the previous file's commit (or the start) to its own
                // (the next file is read while the previous one is applied).
                func importAll() async throws -> [(RegistryImportSummary, Double)] {
                    var results: [(RegistryImportSummary, Double)] = []
                    var lastDone = ContinuousClock.now
                    _ = try await importer.importFiles(files) { summary in
                        results.append((summary, (ContinuousClock.now - lastDone).seconds))
                        lastDone = ContinuousClock.now
                    }
                    return results
                }
                let first = try await importAll()
                try await DatabaseMaintenance(client: client, logger: logger).vacuumAnalyze()
                let second = try await importAll()
                let meterFile = files.first { $0.kind == .meters }!
                let started = ContinuousClock.now
                _ = try await importer.stageOnly(meterFile.path, kind: .meters, format: .csv)
                return (first, second, (ContinuousClock.now - started).seconds)
            }
        }

        var table = TextTable(columns: ["file", "rows", "first import s", "rows/s", "inserted", "refused", "again s", "unchanged"])
        for ((summary, seconds), (again, againSeconds)) in zip(first, second) {
            table.append([
                (summary.file as NSString).lastPathComponent, "\(summary.rowsRead)", String(format: "%.1f", seconds),
                String(format: "%.0f", Double(summary.rowsRead) / seconds), "\(summary.inserted)", "\(summary.rejects.count)",
                String(format: "%.1f", againSeconds), "\(again.unchanged)",
            ])
        }
        let total = first.reduce(0) { $0 + $1.1 }
        let meterSeconds = first.first { $0.0.kind == .meters }!.1
        table.append(["all files", "\(first.reduce(0) { $0 + $1.0.rowsRead })", String(format: "%.1f", total), "", "", "",
                      String(format: "%.1f", second.reduce(0) { $0 + $1.1 }), ""])
        print(table.render())
        print(String(format: "baseline: meters.csv read and COPYed into staging, no checks or upsert: %.1f s; meters import / baseline = %.1fx; goal: 1,000,000 meters with their network and customers in <= 60 s",
                     baseline, meterSeconds / baseline))
        if let json {
            let figures = Figures(meters: meters, seconds: total, meterSeconds: meterSeconds,
                                  secondImportSeconds: second.reduce(0) { $0 + $1.1 }, baselineSeconds: baseline)
            try JSONOutput.write(figures, to: json)
        }
    }
}
