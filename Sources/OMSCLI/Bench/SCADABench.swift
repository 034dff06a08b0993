import ArgumentParser
import Foundation
import OMSStore

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
