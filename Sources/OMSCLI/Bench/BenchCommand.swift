import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import OMSHTTP
import OMSStore
import PostgresNIO

/// `oms bench`: performance tables, each against a baseline measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: all of them in one table (default), or one: the SCADA workflow, a last-gasp storm, registry import, registry migration, proximity search, API reads.",
        subcommands: [AllBench.self, SCADABench.self, StormBench.self, ImportBench.self, ProximityBench.self, RegistryMigrationBench.self, APIBench.self],
        defaultSubcommand: AllBench.self
    )
}

/// `oms bench scada`: the SCADA workflow's table, on registries of the given sizes.
struct SCADABench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scada",
        abstract: "Measure the SCADA workflow (p50/p99 against a baseline of the same run) on registries of given sizes.",
        discussion: """
            Each size gets a database of its own in the managed cluster (oms_bench_<size>), built once and \
            reused. Every write is undone (untimed) after it is timed, so each run does the first-time work, \
            commit included. Baselines: SELECT 1 for SQL, GET /health for HTTP.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("meters"), parsing: .upToNextOption, help: "Registry sizes (meters).")
    var sizes: [Int] = [50_000, 1_000_000]

    @Option(help: "Runs per operation (the 10,000-meter operations run a fifth as often, at least 20).")
    var iterations: Int = 200

    @Flag(name: .customLong("no-http"), help: "Measure the SQL path only.")
    var noHTTP = false

    @Flag(help: "Rebuild the registries even when they exist.")
    var rebuild = false

    @Option(help: "Also write the table as JSON to this file.")
    var json: String?

    func validate() throws {
        if let small = sizes.first(where: { $0 < BenchRegistry.minimumSize }) {
            throw ValidationError("--meters \(small) is too small: the benchmark registry needs \(BenchRegistry.minimumSize)")
        }
    }

    func run() async throws {
        let logger = database.makeLogger()
        var rows: [BenchRow] = []
        for size in sizes {
            let name = "oms_bench_\(size)"
            let rebuild = rebuild
            let measureHTTP = !noHTTP
            let iterations = iterations
            let sizeRows = try await database.withDatabase(database: name, logger: logger) { configuration, _ in
                try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                    try await BenchRegistry.prepare(size: size, rebuild: rebuild, client: client, logger: logger)
                }
                let runner = BenchRunner(
                    size: size, iterations: iterations, configuration: configuration, logger: logger)
                return try await runner.run(http: measureHTTP)
            }
            rows += sizeRows
        }
        print(BenchRow.table(rows))
        if let first = rows.first(where: { $0.operation == BenchRunner.feederTrip && $0.path == "SQL" }),
           let last = rows.last(where: { $0.operation == BenchRunner.feederTrip && $0.path == "SQL" }),
           first.meters != last.meters {
            print(String(format: "feeder trip p50 at %d meters / at %d meters: %.2f (goal: about 1, cost follows the outage)",
                         last.meters, first.meters, last.p50 / first.p50))
        }
        if let json {
            try JSONOutput.write(rows, to: json)
        }
    }

}

/// One line of the table.
struct BenchRow: Codable, Sendable {
    var operation: String
    var meters: Int
    var path: String
    var runs: Int
    var p50: Double
    var p99: Double
    var baseline: String
    var baselineP50: Double
    var goal: Double?

    var ratio: Double { p50 / baselineP50 }

    static func table(_ rows: [BenchRow]) -> String {
        var table = TextTable(columns: [
            "operation", "registry", "path", "runs", "p50 ms", "p99 ms", "baseline", "baseline p50", "ratio",
            "goal p50", "met",
        ])
        for row in rows {
            table.append([
                row.operation, "\(row.meters)", row.path, "\(row.runs)", String(format: "%.2f", row.p50),
                String(format: "%.2f", row.p99), row.baseline, String(format: "%.3f", row.baselineP50),
                String(format: "%.1fx", row.ratio), row.goal.map { String(format: "%.0f", $0) } ?? "-",
                row.goal.map { row.p50 <= $0 ? "yes" : "NO" } ?? "-",
            ])
        }
        return table.render()
    }
}
