import OMSDomain
import OMSSimulation

/// Durations of repeated runs of one operation, and their percentiles.
struct LatencySample: Sendable {
    private(set) var milliseconds: [Double] = []

    mutating func record(_ duration: Duration) {
        milliseconds.append(duration.seconds * 1000)
    }

    /// Adds another sample's runs to this one.
    mutating func merge(_ other: LatencySample) {
        milliseconds += other.milliseconds
    }

    /// The p-th percentile (0...100), nearest-rank.
    func percentile(_ p: Double) -> Double {
        ScoreCard.Spread.percentile(p, ofSorted: milliseconds.sorted())
    }

    var p50: Double { percentile(50) }
    var p99: Double { percentile(99) }
    var count: Int { milliseconds.count }

    /// Times `body` `iterations` times after `warmup` untimed runs; `between` runs untimed after each.
    static func measure(
        iterations: Int, warmup: Int = 3,
        _ body: (Int) async throws -> Void,
        between: (Int) async throws -> Void = { _ in }
    ) async throws -> LatencySample {
        var sample = LatencySample()
        let clock = ContinuousClock()
        for index in 0..<(warmup + iterations) {
            let start = clock.now
            try await body(index)
            let elapsed = clock.now - start
            if index >= warmup { sample.record(elapsed) }
            try await between(index)
        }
        return sample
    }
}
