import Foundation
import Synchronization

/// Limits failed API key checks per client address (a leaky bucket): each unknown or revoked key
/// fills the address's bucket by one, which drains by one every `drainInterval`; once `burst`
/// failures are in it, the address's requests with a key the service does not already know are
/// answered 429 with `Retry-After`, without asking the database, until one drains.
///
/// Defaults: 10 failures at once, then one every 6 s (10 a minute). A key already checked and
/// remembered (`KeyCheck`) still passes from a limited address: the limit is on guessing, not on
/// the clients of a shared address that hold a good key.
///
/// Memory is bounded: at most `capacity` addresses are tracked. An address whose bucket has
/// drained is forgotten (it is as if new); when the table is full of addresses still counting,
/// every further address shares one overflow bucket, so an attacker with many addresses is
/// limited in aggregate instead of growing the table.
public final class FailedKeyLimiter: Sendable {
    public struct Settings: Sendable {
        /// Failures an address may have at once.
        public var burst: Int
        /// One failure is forgotten per interval.
        public var drainInterval: Duration
        /// Addresses tracked at most.
        public var capacity: Int

        public init(burst: Int = 10, drainInterval: Duration = .seconds(6), capacity: Int = 10_000) {
            self.burst = burst
            self.drainInterval = drainInterval
            self.capacity = capacity
        }
    }

    /// What a failure did.
    struct Failure: Equatable {
        /// Failures counted for the address now (including this one).
        var count: Int
        /// This failure filled the bucket: the address is limited from now on for this long.
        var limitedFor: Duration?
    }

    private struct Bucket {
        /// Failures still counted, as of `at`.
        var level: Double
        var at: ContinuousClock.Instant
    }

    private struct Table {
        var buckets: [ClientAddress: Bucket] = [:]
        var overflow: Bucket?
        var lastSweep: ContinuousClock.Instant?
    }

    static let overflowAddress = ClientAddress("(overflow: too many addresses)")

    public let settings: Settings
    private let table = Mutex(Table())

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// How long `client` must wait before its next unknown key is checked; nil when it may try now.
    func retryAfter(for client: ClientAddress, now: ContinuousClock.Instant = .now) -> Duration? {
        table.withLock { table in
            let bucket = table.buckets[client] ?? (table.buckets.count >= settings.capacity ? table.overflow : nil)
            guard let bucket else { return nil }
            let level = drained(bucket, now: now)
            let excess = level + 1 - Double(settings.burst)
            guard excess > 0 else { return nil }
            return settings.drainInterval * excess
        }
    }

    /// Counts a failed key check from `client`.
    func recordFailure(from client: ClientAddress, now: ContinuousClock.Instant = .now) -> Failure {
        table.withLock { table in
            if table.buckets[client] == nil && table.buckets.count >= settings.capacity {
                sweep(&table, now: now)
            }
            let tracked = table.buckets[client] != nil || table.buckets.count < settings.capacity
            let previous = tracked ? table.buckets[client] : table.overflow
            let level = (previous.map { drained($0, now: now) } ?? 0) + 1
            let bucket = Bucket(level: level, at: now)
            if tracked { table.buckets[client] = bucket } else { table.overflow = bucket }
            let excess = level + 1 - Double(settings.burst)
            let wasLimited = (level - 1) + 1 - Double(settings.burst) > 0
            return Failure(
                count: Int(level.rounded(.up)),
                limitedFor: excess > 0 && !wasLimited ? settings.drainInterval * excess : nil)
        }
    }

    /// Addresses tracked now (for tests and the log).
    var trackedCount: Int { table.withLock { $0.buckets.count } }

    private func drained(_ bucket: Bucket, now: ContinuousClock.Instant) -> Double {
        let elapsed = now - bucket.at
        let drain = elapsed / settings.drainInterval
        return max(0, bucket.level - drain)
    }

    /// Forgets drained addresses (at most once a second: a full table of counting addresses
    /// must not make every failure walk it).
    private func sweep(_ table: inout Table, now: ContinuousClock.Instant) {
        if let last = table.lastSweep, now - last < .seconds(1) { return }
        table.lastSweep = now
        table.buckets = table.buckets.filter { drained($0.value, now: now) > 0 }
    }
}
