import ArgumentParser
import Foundation

/// `oms bench` (`oms bench all`): every benchmark, at every registry size, in one table.
struct AllBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Every benchmark at the given registry sizes, then one table: operation, size, p50, p99, the baseline of the same run, the ratio and the goal.",
        discussion: """
            Runs, for each --meters size: the SCADA workflow (oms bench scada, SQL and HTTP), proximity, the \
            API reads, a last-gasp storm (answered applied, then durable), the simulator's mixed storm (answered \
            durable), the import of a simulated utility of that size and the registry \
            migration of that many source rows. Each prints its own detail as it goes; the summary table comes \
            last (and as JSON with --json). The seed's "Performance Characteristics" are the goals named \
            "seed"; the others are the feed, registry and API issues' goals. Takes minutes per size: at \
            1,000,000 meters about twenty on two cores, more when the registry must first be built.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("meters"), parsing: .upToNextOption, help: "Registry sizes (meters).")
    var sizes: [Int] = [50_000, 1_000_000]

    @Option(help: "Runs per SCADA operation.")
    var iterations: Int = 200

    @Option(name: .customLong("storm-events"), help: "Last gasps in the storm.")
    var stormEvents: Int = 100_000

    @Option(name: .customLong("api-requests"), help: "Timed requests per API operation and concurrency.")
    var apiRequests: Int = 2_000

    @Option(name: .customLong("proximity-searches"), help: "Timed proximity searches.")
    var proximitySearches: Int = 1_000

    @Option(help: "Also write the summary table as JSON to this file.")
    var json: String?

    func validate() throws {
        if let small = sizes.first(where: { $0 < BenchRegistry.minimumSize }) {
            throw ValidationError("--meters \(small) is too small: the benchmark registry needs \(BenchRegistry.minimumSize)")
        }
    }

    /// One line of the summary.
    struct Line: Codable {
        var operation: String
        var meters: Int
        var p50: String
        var p99: String
        var baseline: String
        var ratio: String
        var goal: String
        var met: String
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-bench-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Every database and logging option given, --connect-timeout included.
        let forwarded = database.arguments
        /// Runs one benchmark command with the shared options and reads the figures it wrote (--json).
        func measure<Bench: AsyncParsableCommand, Figures: Decodable>(
            _ bench: Bench.Type, _ arguments: [String], reading figures: Figures.Type
        ) async throws -> Figures {
            let path = "\(folder)/\(Bench.configuration.commandName ?? "bench").json"
            var command = try Bench.parse(forwarded + arguments + ["--json", path])
            try await command.run()
            return try JSONDecoder().decode(Figures.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }
        func section(_ title: String) { print("\n== \(title)") }
        func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }
        func met(_ yes: Bool) -> String { yes ? "yes" : "NO" }
        /// Latency goals in milliseconds (an issue's, the seed's), and whether p50 meets each.
        func latencyGoals(_ p50: Double, issue: Double?, seed: Double?) -> (goal: String, met: String) {
            let goals = [issue.map { ("", $0) }, seed.map { ("seed ", $0) }].compactMap { $0 }
            guard !goals.isEmpty else { return ("", "-") }
            return (goals.map { $0.0 + String(format: "<= %.0f ms", $0.1) }.joined(separator: "; "),
                    goals.map { met(p50 <= $0.1) }.joined(separator: "; "))
        }
        /// An operation timed once, in seconds; its goal (60 s) is set for a million rows.
        func wholeRun(_ operation: String, size: Int, seconds: Double, baseline: String, baselineSeconds: Double) -> Line {
            let atGoalSize = size == 1_000_000
            return Line(
                operation: operation, meters: size, p50: String(format: "%.1f s", seconds), p99: "-",
                baseline: baseline + String(format: " %.1f s", baselineSeconds), ratio: String(format: "%.1fx", seconds / baselineSeconds),
                goal: atGoalSize ? "<= 60 s" : "(60 s at 1M)", met: atGoalSize ? met(seconds <= 60) : "-")
        }

        var lines: [Line] = []
        for size in sizes {
            section("SCADA workflow, \(size) meters")
            let scada = try await measure(SCADABench.self, ["--meters", "\(size)", "--iterations", "\(iterations)"], reading: [BenchRow].self)
            let seedGoals = [BenchRunner.feederTrip: 500.0, BenchRunner.lookup1K: 50]
            for row in scada where !row.operation.contains("baseline") {
                let (goal, isMet) = latencyGoals(row.p50, issue: row.goal, seed: seedGoals[row.operation])
                lines.append(Line(
                    operation: "\(row.operation) (\(row.path))", meters: size, p50: ms(row.p50), p99: ms(row.p99),
                    baseline: "\(row.baseline) \(ms(row.baselineP50))", ratio: String(format: "%.1fx", row.ratio),
                    goal: goal, met: isMet))
            }

            section("proximity, \(size) meters")
            let near = try await measure(
                ProximityBench.self, ["--meters", "\(size)", "--iterations", "\(proximitySearches)"], reading: ProximityBench.Result.self)
            for (operation, p50, p99, issueGoal, seedGoal) in [
                ("meters within 5 km (SQL)", near.p50Milliseconds, near.p99Milliseconds, 10.0, 200.0),
                ("nearest \(near.nearestCount) meters within 5 km (SQL)", near.nearestP50Milliseconds,
                 near.nearestP99Milliseconds, 2, nil),
            ] {
                let (goal, isMet) = latencyGoals(p50, issue: issueGoal, seed: seedGoal)
                lines.append(Line(
                    operation: operation, meters: size, p50: ms(p50), p99: ms(p99),
                    baseline: "SELECT 1 \(ms(near.selectOneP50Milliseconds))",
                    ratio: String(format: "%.1fx", p50 / near.selectOneP50Milliseconds), goal: goal, met: isMet))
            }

            section("API reads, \(size) meters")
            let reads = try await measure(APIBench.self, ["--meters", "\(size)", "--requests", "\(apiRequests)"], reading: [APIBench.Figures].self)
            for (operation, issueGoal, seedGoal) in [("GET /api/v1/meters/{n}", 1.0, nil), ("GET …/history (100 rows)", nil, 100.0)] {
                guard let row = reads.first(where: { $0.operation == operation && $0.clients == 1 }),
                      let health = reads.first(where: { $0.operation.hasPrefix("GET /health") && $0.clients == 1 }) else { continue }
                let (goal, isMet) = latencyGoals(row.p50Milliseconds, issue: issueGoal, seed: seedGoal)
                lines.append(Line(
                    operation: "\(operation) (HTTP, 1 client)", meters: size, p50: ms(row.p50Milliseconds),
                    p99: ms(row.p99Milliseconds), baseline: "GET /health \(ms(health.p50Milliseconds))",
                    ratio: String(format: "%.1fx", row.p50Milliseconds / health.p50Milliseconds), goal: goal, met: isMet))
            }
            if let row = reads.first(where: { $0.operation == "GET /api/v1/meters/{n}" && $0.clients == 32 }),
               let health = reads.first(where: { $0.operation.hasPrefix("GET /health") && $0.clients == 32 }) {
                lines.append(Line(
                    operation: "GET /api/v1/meters/{n} (HTTP, 32 clients): \(Int(row.requestsPerSecond)) req/s", meters: size,
                    p50: ms(row.p50Milliseconds), p99: ms(row.p99Milliseconds),
                    baseline: "GET /health \(Int(health.requestsPerSecond)) req/s",
                    ratio: String(format: "%.2fx", row.requestsPerSecond / health.requestsPerSecond),
                    goal: ">= 10000 req/s", met: met(row.requestsPerSecond >= 10_000)))
            }

            section("last-gasp storm, \(size) meters")
            /// A storm's answers against the plain INSERT of the same run.
            func answered(_ run: StormBench.Result, _ operation: String, goal: Double) {
                lines.append(Line(
                    operation: "\(operation): \(Int(run.eventsPerSecond)) events/s\(run.acknowledge == .durable ? " answered" : "")",
                    meters: size, p50: ms(run.batchP50Milliseconds), p99: ms(run.batchP99Milliseconds),
                    baseline: "plain INSERT \(Int(run.baselineEventsPerSecond)) events/s",
                    ratio: String(format: "%.2fx", run.ratioToBaseline), goal: ">= \(Int(goal)) events/s",
                    met: met(run.eventsPerSecond >= goal)))
            }
            /// How a storm answered durable went behind its answers (its lag).
            func behind(_ run: StormBench.Result, _ what: String) {
                guard let seconds = run.appliedSeconds, let p50 = run.lagP50Milliseconds, let p99 = run.lagP99Milliseconds else { return }
                lines.append(Line(
                    operation: "\(what) behind the answers: \(Int(Double(run.events) / seconds)) events/s, all in \(String(format: "%.1f", seconds)) s (lag)",
                    meters: size, p50: ms(p50), p99: ms(p99),
                    baseline: "all answered in \(String(format: "%.1f", run.seconds)) s",
                    ratio: String(format: "%.2fx", seconds / run.seconds), goal: "lag p99 <= 2000 ms", met: met(p99 <= 2_000)))
            }
            let gasps = try await measure(
                StormBench.self, ["--meters", "\(size)", "--events", "\(min(stormEvents, size))"], reading: StormBench.Result.self)
            answered(gasps, "storm, batches of \(gasps.batchSize) (HTTP)", goal: 20_000)
            // The same storm answered once durable (the feed intake), correlated behind the answers.
            let durable = try await measure(
                StormBench.self,
                ["--meters", "\(size)", "--events", "\(min(stormEvents, size))", "--acknowledge", "durable", "--concurrency", "4"],
                reading: StormBench.Result.self)
            answered(durable, "storm, answered durable (intake), batches of \(durable.batchSize)", goal: 20_000)
            for run in [gasps, durable] {
                guard let peak = run.peakResidentMegabytes, let before = run.residentBeforeMegabytes else { continue }
                lines.append(Line(
                    operation: "storm (\(run.acknowledge.rawValue)), peak RSS of the serving process (service and bench client)",
                    meters: size, p50: String(format: "%.0f MiB", peak), p99: "-",
                    baseline: String(format: "RSS before the storm %.0f MiB", before),
                    ratio: String(format: "%.2fx", peak / before), goal: "<= 150 MiB", met: met(peak <= 150)))
            }
            behind(durable, "storm, correlated")

            if size >= MixedStorm.minimumMeters {
                section("the simulator's mixed storm (SCADA, calls, power-ups, noise), \(size) meters")
                let mixed = try await measure(
                    StormBench.self,
                    ["--meters", "\(size)", "--kind", "mixed", "--acknowledge", "durable", "--concurrency", "4"],
                    reading: StormBench.Result.self)
                answered(mixed, "mixed storm, answered durable (intake), \(mixed.events) events in \(mixed.requests ?? 0) requests",
                         goal: 10_000)
                behind(mixed, "mixed storm, applied")
            }

            section("import of a simulated utility, \(size) meters")
            let imported = try await measure(ImportBench.self, ["--meters", "\(size)"], reading: ImportBench.Figures.self)
            lines.append(wholeRun("import network, customers, meters", size: size, seconds: imported.seconds,
                                  baseline: "COPY of meters", baselineSeconds: imported.baselineSeconds))

            section("registry migration, \(size) source rows")
            let migrated = try await measure(RegistryMigrationBench.self, ["--rows", "\(size)"], reading: RegistryMigrationBench.Result.self)
            lines.append(wholeRun("registry migration", size: size, seconds: migrated.seconds,
                                  baseline: "plain INSERT", baselineSeconds: migrated.baselineSeconds))
        }

        section("summary")
        var table = TextTable(columns: ["operation", "registry", "p50", "p99", "baseline (same run)", "ratio", "goal", "met"])
        for line in lines {
            table.append([line.operation, "\(line.meters)", line.p50, line.p99, line.baseline, line.ratio, line.goal, line.met])
        }
        print(table.render())
        if let json {
            try JSONOutput.write(lines, to: json)
        }
    }
}
