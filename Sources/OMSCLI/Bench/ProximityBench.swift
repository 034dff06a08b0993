import ArgumentParser
import Foundation
import Logging
import OMSSimulation
import OMSStore
import PostgresNIO

/// `oms bench proximity`: `oms_meters_within(lat, lng, radius)` at random points of the
/// benchmark registry, against baselines of the same run.
struct ProximityBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proximity",
        abstract: "Time oms_meters_within() (meters within a radius, nearest first) at random points of the registry.",
        discussion: """
            Uses the benchmark registry of --meters (database oms_bench_<meters>, built once and reused: simulated \
            utilities, substations over a disc, feeders radiating, meters around their distribution points). Each \
            run searches around a meter drawn at random (seeded) and reads every row. Baselines of the same run: SELECT 1 and a primary-key lookup of one meter. Also shown: the \
            server's own execution time (EXPLAIN ANALYZE, timing off) and, for reference, the same search by a \
            scan of every meter (the prototype's way).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Registry size (meters).")
    var meters: Int = 1_000_000

    @Option(help: "Search radius (km).")
    var radius: Double = 5

    @Option(help: "How many nearest meters the nearest-first search asks for (oms_meters_nearest).")
    var nearest: Int = 100

    @Option(help: "Timed searches.")
    var iterations: Int = 1_000

    @Option(help: "Runs of the full-scan reference (0 to skip it).")
    var scanRuns: Int = 5

    @Option(help: "Seed of the random points.")
    var seed: UInt64 = 2_024

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    /// The figures of one run.
    struct Result: Codable {
        var meters: Int
        var radiusKilometres: Double
        var runs: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var serverP50Milliseconds: Double
        var serverP99Milliseconds: Double
        var returnedMedian: Int
        var returnedMinimum: Int
        var returnedMaximum: Int
        var selectOneP50Milliseconds: Double
        var selectOneP99Milliseconds: Double
        var primaryKeyP50Milliseconds: Double
        var primaryKeyP99Milliseconds: Double
        var fullScanRuns: Int
        var fullScanP50Milliseconds: Double?
        var usesIndex: Bool
        var plan: String
        /// `oms_meters_nearest(lat, lng, radius, nearest)` at the same points.
        var nearestCount: Int
        var nearestP50Milliseconds: Double
        var nearestP99Milliseconds: Double
    }

    func validate() throws {
        guard meters >= BenchRegistry.minimumSize else {
            throw ValidationError("--meters must be at least \(BenchRegistry.minimumSize)")
        }
        guard radius > 0, radius.isFinite else { throw ValidationError("--radius must be a positive number of km") }
        guard iterations > 0, scanRuns >= 0 else { throw ValidationError("--iterations must be positive, --scan-runs >= 0") }
        guard nearest > 0 else { throw ValidationError("--nearest must be positive") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (meters, radius, iterations, scanRuns, seed, nearest) = (meters, radius, iterations, scanRuns, seed, nearest)
        let result = try await database.withDatabase(database: "oms_bench_\(meters)", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.prepare(size: meters, rebuild: false, client: client, logger: logger)
                let search = ProximitySearch(client: client, logger: logger, radius: radius, nearest: nearest)
                return try await search.measure(
                    meters: meters, iterations: iterations, scanRuns: scanRuns, seed: seed)
            }
        }
        print(Self.table(result))
        print("plan: " + result.plan)
        if let json {
            try JSONOutput.write(result, to: json)
        }
    }

    static func table(_ result: Result) -> String {
        var table = TextTable(columns: [
            "operation", "registry", "runs", "p50 ms", "p99 ms", "meters returned (median, min-max)", "baseline",
            "baseline p50", "ratio", "goal p50", "met",
        ])
        let radius = String(format: "%g", result.radiusKilometres)
        let returned = "\(result.returnedMedian) (\(result.returnedMinimum)-\(result.returnedMaximum))"
        let ms = { (value: Double) in String(format: "%.2f", value) }
        table.append([
            "SELECT 1 (baseline)", "\(result.meters)", "\(result.runs)", ms(result.selectOneP50Milliseconds),
            ms(result.selectOneP99Milliseconds), "-", "-", "-", "-", "-", "-",
        ])
        table.append([
            "meter by primary key", "\(result.meters)", "\(result.runs)", ms(result.primaryKeyP50Milliseconds),
            ms(result.primaryKeyP99Milliseconds), "1", "SELECT 1", String(format: "%.3f", result.selectOneP50Milliseconds),
            String(format: "%.1fx", result.primaryKeyP50Milliseconds / result.selectOneP50Milliseconds), "-", "-",
        ])
        table.append([
            "oms_meters_within(lat, lng, \(radius))", "\(result.meters)", "\(result.runs)", ms(result.p50Milliseconds),
            ms(result.p99Milliseconds), returned, "SELECT 1", String(format: "%.3f", result.selectOneP50Milliseconds),
            String(format: "%.1fx", result.p50Milliseconds / result.selectOneP50Milliseconds), "10",
            result.p50Milliseconds <= 10 ? "yes" : "NO",
        ])
        table.append([
            "oms_meters_nearest(lat, lng, \(radius), \(result.nearestCount))", "\(result.meters)", "\(result.runs)",
            ms(result.nearestP50Milliseconds), ms(result.nearestP99Milliseconds), "\(result.nearestCount)", "SELECT 1",
            String(format: "%.3f", result.selectOneP50Milliseconds),
            String(format: "%.1fx", result.nearestP50Milliseconds / result.selectOneP50Milliseconds), "2",
            result.nearestP50Milliseconds <= 2 ? "yes" : "NO",
        ])
        table.append([
            "  same, against the primary-key lookup", "\(result.meters)", "\(result.runs)", ms(result.p50Milliseconds),
            ms(result.p99Milliseconds), returned, "meter by primary key",
            String(format: "%.3f", result.primaryKeyP50Milliseconds),
            String(format: "%.1fx", result.p50Milliseconds / result.primaryKeyP50Milliseconds), "-", "-",
        ])
        table.append([
            "  same, server execution only", "\(result.meters)", "\(result.runs)", ms(result.serverP50Milliseconds),
            ms(result.serverP99Milliseconds), returned, "-", "-", "-", "-", "-",
        ])
        if let scan = result.fullScanP50Milliseconds {
            table.append([
                "  same by a scan of every meter (reference)", "\(result.meters)", "\(result.fullScanRuns)", ms(scan),
                "-", "-", "SELECT 1", String(format: "%.3f", result.selectOneP50Milliseconds),
                String(format: "%.0fx", scan / result.selectOneP50Milliseconds), "-", "-",
            ])
        }
        return table.render()
    }
}

/// The measurements of `oms bench proximity` on one prepared registry.
struct ProximitySearch: Sendable {
    let client: PostgresClient
    let logger: Logger
    let radius: Double
    /// How many meters the nearest-first search asks for.
    let nearest: Int

    var store: ProximityBenchStore { ProximityBenchStore(client: client, logger: logger) }

    func measure(meters: Int, iterations: Int, scanRuns: Int, seed: UInt64) async throws -> ProximityBench.Result {
        var generator = SeededRandom(seed: seed)
        let meterNumbers = (0..<(iterations + 3)).map { _ in
            BenchRegistry.meterNumber(Int.random(in: 1...meters, using: &generator))
        }
        // Searches centre on meters drawn at random: where people look, and never in an empty corner.
        let centres = (0..<(iterations + 3)).map { _ in
            BenchRegistry.meterNumber(Int.random(in: 1...meters, using: &generator))
        }
        let points = try await locations(of: centres)

        let (ping, store) = (DatabasePing(client: client, logger: logger), store)
        let selectOne = try await LatencySample.measure(iterations: iterations) { _ in
            try await ping.run()
        }
        let primaryKey = try await LatencySample.measure(iterations: iterations) { index in
            try await store.meterByNumber(meterNumbers[index])
        }
        var returned: [Int] = []
        let search = try await LatencySample.measure(iterations: iterations) { index in
            let (latitude, longitude) = points[index]
            let count = try await store.metersWithin(latitude: latitude, longitude: longitude, radius: radius)
            if index >= 3 { returned.append(count) }
        }
        let nearestFirst = try await LatencySample.measure(iterations: iterations) { index in
            let (latitude, longitude) = points[index]
            try await store.metersNearest(latitude: latitude, longitude: longitude, radius: radius, count: nearest)
        }
        var server = LatencySample()
        for (latitude, longitude) in points.prefix(iterations) {
            server.record(try await executionTime(latitude: latitude, longitude: longitude))
        }
        let plan = try await planSummary(latitude: points[0].latitude, longitude: points[0].longitude)
        var scanP50: Double?
        if scanRuns > 0 {
            let scan = try await LatencySample.measure(iterations: scanRuns, warmup: 1) { index in
                let (latitude, longitude) = points[index % points.count]
                try await store.metersWithinByFullScan(latitude: latitude, longitude: longitude, radius: radius)
            }
            scanP50 = scan.p50
        }
        let sorted = returned.sorted()
        return ProximityBench.Result(
            meters: meters, radiusKilometres: radius, runs: search.count, p50Milliseconds: search.p50,
            p99Milliseconds: search.p99, serverP50Milliseconds: server.p50, serverP99Milliseconds: server.p99,
            returnedMedian: sorted[sorted.count / 2], returnedMinimum: sorted.first ?? 0,
            returnedMaximum: sorted.last ?? 0, selectOneP50Milliseconds: selectOne.p50, selectOneP99Milliseconds: selectOne.p99,
            primaryKeyP50Milliseconds: primaryKey.p50, primaryKeyP99Milliseconds: primaryKey.p99,
            fullScanRuns: scanRuns, fullScanP50Milliseconds: scanP50, usesIndex: plan.contains("oms_meters_point_idx"), plan: plan,
            nearestCount: nearest, nearestP50Milliseconds: nearestFirst.p50, nearestP99Milliseconds: nearestFirst.p99)
    }

    /// The server's time for one search (planning and execution), without the transfer of its rows.
    func executionTime(latitude: Double, longitude: Double) async throws -> Duration {
        var milliseconds = 0.0
        for line in try await store.explainAnalyzeMetersWithin(latitude: latitude, longitude: longitude, radius: radius) {
            for label in ["Planning Time: ", "Execution Time: "] {
                guard let range = line.range(of: label) else { continue }
                milliseconds += Double(line[range.upperBound...].prefix { $0 == "." || $0.isNumber }) ?? 0
            }
        }
        return .nanoseconds(Int64(milliseconds * 1_000_000))
    }

    /// The plan's node types and indexes, outermost first (e.g. "Sort > Bitmap Heap Scan > Bitmap Index Scan on ...").
    func planSummary(latitude: Double, longitude: Double) async throws -> String {
        var nodes: [String] = []
        for line in try await store.explainMetersWithin(latitude: latitude, longitude: longitude, radius: radius) {
            let node = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "->  ", with: "")
            if line.contains("->") || nodes.isEmpty { nodes.append(node) }
        }
        return nodes.joined(separator: " > ")
    }

    /// The locations of the given meters, in the same order.
    func locations(of numbers: [String]) async throws -> [(latitude: Double, longitude: Double)] {
        let found = try await store.locations(of: numbers)
        return try numbers.map { number in
            guard let point = found[number] else { throw NoMeterError(number: number) }
            return point
        }
    }

    /// A meter the search was to centre on is not in the registry (or has no location).
    struct NoMeterError: Error, CustomStringConvertible {
        let number: String
        var description: String { "the benchmark registry has no meter \(number) with a location" }
    }
}
