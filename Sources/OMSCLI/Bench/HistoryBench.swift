import ArgumentParser
import Foundation
import Logging
import OMSDomain
import OMSStore
import PostgresNIO

/// `oms bench history`: the seed's status-history query (the last 100 changes of a meter) and the
/// active outages with a large audit trail, against the same reads with 1,000 audit rows, in one run.
struct HistoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Time the meter status history and the active outages with 1,000 audit rows, then with --rows (100,000,000).",
        discussion: """
            Uses the benchmark registry of --meters (database oms_bench_<meters>). Empties the audit trail and gives \
            ten meters 100 status changes each (1,000 rows) over --months past months (a partition each); times the \
            seed's "Meter Status History" query with LIMIT 100 for those meters and SELECT * FROM oms_active_outages; \
            then fills the trail to --rows with the other meters' changes, a month at a time (the partition detached, \
            filled, and attached again, which builds its indexes: a bulk load; with progress), ANALYZE, and times the same reads: the same ten histories in a trail 100,000 times larger. Prints p50/p99, SELECT 1 of the same run, and each read's ratio against itself \
            with 1,000 rows. Leaves the audit trail filled (the next run empties it).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Registry size (meters).")
    var meters: Int = 1_000_000

    @Option(help: "Audit rows of the large run.")
    var rows: Int = 100_000_000

    @Option(help: "Months the rows are spread over (a partition each).")
    var months: Int = 24

    @Option(help: "Timed runs of each read.")
    var iterations: Int = 1_000

    func validate() throws {
        guard meters >= BenchRegistry.minimumSize else { throw ValidationError("--meters must be at least \(BenchRegistry.minimumSize)") }
        guard rows >= 1_000, months >= 1, months <= 120, iterations > 0 else {
            throw ValidationError("--rows must be at least 1000, --months 1 to 120, --iterations positive")
        }
    }

    /// The timings of one audit-trail size.
    struct Timings {
        var auditRows: Int
        var bytes: Int
        var history: LatencySample
        var historyRows: Int
        var activeOutages: LatencySample
        var selectOne: LatencySample
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (meters, rows, months, iterations) = (meters, rows, months, iterations)
        let (small, large) = try await database.withDatabase(database: "oms_bench_\(meters)", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.prepare(size: meters, rebuild: false, client: client, logger: logger)
                let store = HistoryBenchStore(client: client, logger: logger)
                // Ten meters with 100 changes each: the 1,000-row trail, and the histories timed in both.
                let sample = try await store.sampleMeters(10)
                try await store.reset(months: months)
                try await store.fillTimed(sample, perMeter: 100, months: months)
                try await store.analyze()
                let small = try await Self.time(store, meters: sample, iterations: iterations)
                let clock = ContinuousClock()
                let started = clock.now
                var filled = 1_000
                for monthsAgo in 0..<months {
                    let count = (rows - 1_000) / months + (monthsAgo < (rows - 1_000) % months ? 1 : 0)
                    try await store.fill(monthsAgo: monthsAgo, count: count, months: months, excluding: sample)
                    filled += count
                    let seconds = (clock.now - started).seconds
                    FileHandle.standardError.write(Data(String(
                        format: "bench history: %d of %d audit rows (%d of %d months), %.0f s, %.0f rows/s\n", filled, rows,
                        monthsAgo + 1, months, seconds, Double(filled - 1_000) / seconds).utf8))
                }
                try await store.analyze()
                return (small, try await Self.time(store, meters: sample, iterations: iterations))
            }
        }
        print(Self.table(small: small, large: large))
    }

    static func time(_ store: HistoryBenchStore, meters: [String], iterations: Int) async throws -> Timings {
        var historyRows = 0
        let history = try await LatencySample.measure(iterations: iterations) { index in
            historyRows = max(historyRows, try await store.history(of: meters[index % meters.count]))
        }
        let active = try await LatencySample.measure(iterations: iterations) { _ in try await store.activeOutages() }
        let selectOne = try await LatencySample.measure(iterations: iterations) { _ in try await store.selectOne() }
        let size = try await store.size()
        return Timings(auditRows: size.rows, bytes: size.bytes, history: history, historyRows: historyRows,
                       activeOutages: active, selectOne: selectOne)
    }

    static func table(small: Timings, large: Timings) -> String {
        var table = TextTable(columns: ["operation", "audit rows", "on disk", "p50 ms", "p99 ms", "baseline", "baseline p50", "ratio p50", "ratio p99", "goal", "met"])
        let ms = { (value: Double) in String(format: "%.3f", value) }
        let gigabytes = { (bytes: Int) in String(format: "%.1f GB", Double(bytes) / 1e9) }
        for timings in [small, large] {
            table.append(["SELECT 1", "\(timings.auditRows)", gigabytes(timings.bytes), ms(timings.selectOne.p50), ms(timings.selectOne.p99),
                          "-", "-", "-", "-", "-", "-"])
        }
        func rows(_ name: String, _ pick: (Timings) -> LatencySample) {
            let (before, after) = (pick(small), pick(large))
            table.append([name, "\(small.auditRows)", gigabytes(small.bytes), ms(before.p50), ms(before.p99), "SELECT 1",
                          ms(small.selectOne.p50), String(format: "%.1fx", before.p50 / small.selectOne.p50), "-", "-", "-"])
            let ratio50 = after.p50 / before.p50, ratio99 = after.p99 / before.p99
            table.append([name, "\(large.auditRows)", gigabytes(large.bytes), ms(after.p50), ms(after.p99),
                          "itself at \(small.auditRows) rows", ms(before.p50), String(format: "%.2fx", ratio50),
                          String(format: "%.2fx", ratio99), "no slower (<= 1.2x)", ratio50 <= 1.2 ? "yes" : "NO"])
        }
        rows("status history, last 100 of a meter (up to \(large.historyRows) rows)") { $0.history }
        rows("SELECT * FROM oms_active_outages") { $0.activeOutages }
        return table.render()
    }
}
