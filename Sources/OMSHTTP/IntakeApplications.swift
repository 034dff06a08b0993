import Synchronization

/// Tells synchronous feed requests that their intake row has been applied by one of this
/// instance's correlators, so that each takes its results at once (`FeedIntake.takeAnswer`).
///
/// A request `expect`s its row before waking the correlators, `wait`s (woken by `applied`, by its
/// time limit, or by cancellation), and `forget`s it when done. An `applied` that comes before the
/// request waits is kept until it does. A row applied by another instance is never announced here:
/// the request looks again when its wait's limit passes.
public final class IntakeApplications: Sendable {
    private struct Entry {
        /// Announced applied since the last wait: the next wait returns at once.
        var applied = false
        /// The waits begun for this row (each wait's number).
        var waits = 0
        /// The wait in progress: its number and how to resume it.
        var waiter: (number: Int, continuation: CheckedContinuation<Void, Never>)?
        /// A wait ended (limit or cancellation) before it had registered.
        var ended: Int?
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    public init() {}

    /// Starts listening for the row `id`.
    public func expect(_ id: Int64) {
        entries.withLock { $0[id] = Entry() }
    }

    /// Stops listening for the row `id` (ending a wait in progress).
    public func forget(_ id: Int64) {
        let entry = entries.withLock { $0.removeValue(forKey: id) }
        entry?.waiter?.continuation.resume()
    }

    /// Announces rows applied (the correlators call it after each application). Rows nobody
    /// expects are ignored.
    public func applied(_ ids: some Sequence<Int64>) {
        var resumed: [CheckedContinuation<Void, Never>] = []
        entries.withLock { entries in
            for id in ids where entries[id] != nil {
                if let waiter = entries[id]?.waiter {
                    resumed.append(waiter.continuation)
                    entries[id]?.waiter = nil
                } else {
                    entries[id]?.applied = true
                }
            }
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Returns when the row `id` is announced applied (at once if it was since the last wait),
    /// after `limit`, or when the task is cancelled, whichever is first. `id` must be expected.
    public func wait(for id: Int64, upTo limit: Duration) async {
        guard let number = entries.withLock({ entries -> Int? in
            entries[id]?.waits += 1
            return entries[id]?.waits
        }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: limit)
                self.endWait(id, number: number)
            }
            await withCheckedContinuation { continuation in
                let resumeNow = entries.withLock { entries in
                    guard var entry = entries[id] else { return true }
                    defer { entries[id] = entry }
                    if entry.applied || entry.ended == number {
                        entry.applied = false
                        return true
                    }
                    entry.waiter = (number, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            group.cancelAll()
        }
    }

    /// Ends the wait `number` for `id` (its limit passed or its task was cancelled): resumes it if
    /// registered, else marks it ended for when it registers.
    private func endWait(_ id: Int64, number: Int) {
        let continuation = entries.withLock { entries -> CheckedContinuation<Void, Never>? in
            guard let entry = entries[id] else { return nil }
            if let waiter = entry.waiter, waiter.number == number {
                entries[id]?.waiter = nil
                return waiter.continuation
            }
            if entry.waiter == nil { entries[id]?.ended = number }
            return nil
        }
        continuation?.resume()
    }

    /// Rows listened for now.
    public var expectedCount: Int { entries.withLock { $0.count } }
}
