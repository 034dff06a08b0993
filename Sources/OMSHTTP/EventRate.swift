import Foundation
import Synchronization

/// Feed events received per second, over the last minute at most: the console's storm summary
/// shows it. Counts per whole second in a ring of 60; this instance's events only (each instance
/// of the service counts its own).
final class EventRate: Sendable {
    private struct Ring {
        var counts = [Int](repeating: 0, count: 60)
        var seconds = [Int64](repeating: -1, count: 60)
    }

    private let ring = Mutex(Ring())

    /// Counts `count` events received at `now`.
    func record(_ count: Int, now: Date = Date()) {
        guard count > 0 else { return }
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        let slot = Int(second % 60)
        ring.withLock { ring in
            // A slot holding a later second: this count is a minute old or more, outside any window.
            if ring.seconds[slot] > second { return }
            if ring.seconds[slot] != second {
                ring.seconds[slot] = second
                ring.counts[slot] = 0
            }
            ring.counts[slot] += count
        }
    }

    /// Events per second over the `window` whole seconds before the current one (1 to 59).
    func perSecond(over window: Int, now: Date = Date()) -> Double {
        let window = min(max(window, 1), 59)
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        let total = ring.withLock { ring in
            (1...window).reduce(0) { sum, back in
                let second = current - Int64(back)
                let slot = Int(second % 60)
                return sum + (ring.seconds[slot] == second ? ring.counts[slot] : 0)
            }
        }
        return Double(total) / Double(window)
    }
}
