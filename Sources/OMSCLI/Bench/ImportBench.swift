import ArgumentParser
import Foundation
import Logging
import OMSStore
import PostgresNIO

/// `oms bench import`: `oms import` of a generated utility (CSV), against a plain
/// COPY of the same meter rows measured in the same run.
struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a generated network and registry from CSV (oms import): seconds and rows/s against a plain COPY of the same rows.",
        discussion: """
            Writes substations.csv, feeders.csv, distribution_points.csv, customers.csv and meters.csv (one \
            customer per meter; 50 meters per distribution point, 20 distribution points per feeder, 20 \
            feeders per substation) into --folder (default: a temporary folder, removed afterwards), then \
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

    func validate() throws {
        guard meters >= 1_000 else { throw ValidationError("--meters must be at least 1000") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("oms-bench-import-\(UUID().uuidString.prefix(8))").path
        let keep = self.folder != nil
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }
        let generated = try UtilityFiles(meters: meters).write(to: folder)
        FileHandle.standardError.write(Data("wrote \(generated) rows of CSV to \(folder)\n".utf8))

        let files = try RegistryImporter.files(at: folder)
        let (first, second, baseline) = try await database.withDatabase(database: "oms_bench_import", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.resetSchema(client, logger: logger)
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
                try await client.query("VACUUM ANALYZE", logger: logger)
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
    }
}

/// A generated utility as import files: 20 feeders per substation, 20 DPs per
/// feeder, 50 meters per DP, one customer per meter, coordinates around Riyadh.
struct UtilityFiles {
    let meters: Int

    /// Writes the five files; the number of rows written.
    func write(to folder: String) throws -> Int {
        let dps = max(1, meters / 50)
        let feeders = max(1, (dps + 19) / 20)
        let substations = max(1, (feeders + 19) / 20)
        var written = 0
        func file(_ name: String, header: String, rows: Int, _ row: (Int) -> String) throws {
            let path = (folder as NSString).appendingPathComponent(name)
            FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            var chunk = header + "\n"
            for index in 0..<rows {
                chunk += row(index)
                chunk += "\n"
                if chunk.utf8.count > 1 << 20 {
                    handle.write(Data(chunk.utf8))
                    chunk = ""
                }
            }
            handle.write(Data(chunk.utf8))
            written += rows
        }
        func lat(_ index: Int, _ spread: Int) -> String { String(format: "%.6f", 24.5 + Double(index % spread) * 0.5 / Double(spread)) }
        func lng(_ index: Int, _ spread: Int) -> String { String(format: "%.6f", 46.5 + Double(index / spread % spread) * 0.5 / Double(spread)) }
        try file("substations.csv", header: "substation_id,name,lat,lng,region_code,voltage_level", rows: substations) {
            "SS\($0),Substation \($0),\(lat($0, 8)),\(lng($0, 8)),R\($0 % 5),132kV"
        }
        try file("feeders.csv", header: "feeder_id,substation_id,name,lat,lng", rows: feeders) {
            "FD\($0),SS\($0 / 20),Feeder \($0),\(lat($0, 32)),\(lng($0, 32))"
        }
        try file("distribution_points.csv", header: "dp_id,feeder_id,name,lat,lng", rows: dps) {
            "DP\($0),FD\($0 / 20),DP \($0),\(lat($0, 142)),\(lng($0, 142))"
        }
        try file("customers.csv", header: "customer_id,name,phone,address,lat,lng,dp_id", rows: meters) {
            "C\($0),Customer \($0),+9665\(String(format: "%08d", $0)),\"\($0) King Fahd Rd, Riyadh\",\(lat($0, 1000)),\(lng($0, 1000)),DP\($0 / 50)"
        }
        try file("meters.csv", header: "meter_number,customer_id,dp_id,feeder_id,substation_id,lat,lng,asset_mrid,usage_point_mrid,onu_id,onu_serial_no,meter_type", rows: meters) {
            "M\(String(format: "%09d", $0)),C\($0),DP\($0 / 50),,,\(lat($0, 1000)),\(lng($0, 1000)),KFA\($0),UP\($0),ONU\($0 / 2),HWTC\(String(format: "%08X", $0 / 2)),smart"
        }
        return written
    }
}
