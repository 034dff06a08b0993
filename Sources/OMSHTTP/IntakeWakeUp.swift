import Synchronization

/// Wakes this instance's intake correlators when a feed request has just been kept in the
/// intake, so that they apply it at once instead of at their next look (which is for rows other
/// instances kept). `wake()` ends every wait in progress; a wait also ends after its time limit
/// or when its task is cancelled.
///
/// It also counts the requests on their way into the intake (from their start: body arriving,
/// being decoded and appended: `arrival()`), so that a correlator about to take rows can first let them land
/// (`settle`), as a group commit waits for its siblings: a storm's KAIFA and ONU requests about
/// one area, sent together, are then applied in one call rather than one after the other.
public final class IntakeWakeUp: Sendable {
    private struct State {
        /// Requests on their way into the intake.
        var arriving = 0
        var next = 0
        /// Counts the wakes: a wait that began before one and had not registered yet ends at once.
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits ended (by wake, time or cancellation) before their continuation was registered.
        var ended: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Ends every wait in progress.
    public func wake() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when woken, after `limit`, or when the task is cancelled, whichever is first.
    public func wait(upTo limit: Duration) async {
        let (id, generation) = state.withLock { state in
            state.next += 1
            return (state.next, state.generation)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: limit)
                self.end(id)
            }
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.ended.remove(id) != nil || state.generation != generation { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            group.cancelAll()
        }
        // (A wake may have ended it first: forget the time limit's mark.)
        state.withLock { _ = $0.ended.remove(id) }
    }

    /// A request on its way into the intake: counted until `end()` (once its row is appended, or
    /// it failed; ending twice counts once).
    public final class Arrival: Sendable {
        private let wakeUp: IntakeWakeUp
        private let ended = Mutex(false)

        fileprivate init(_ wakeUp: IntakeWakeUp) { self.wakeUp = wakeUp }

        public func end() {
            guard ended.withLock({ ended in defer { ended = true }; return !ended }) else { return }
            wakeUp.state.withLock { $0.arriving -= 1 }
        }
    }

    /// Counts a request on its way into the intake until the `Arrival` ends.
    public func arrival() -> Arrival {
        state.withLock { $0.arriving += 1 }
        return Arrival(self)
    }

    /// Requests on their way into the intake now.
    public var arriving: Int { state.withLock { $0.arriving } }

    /// Returns once no request is on its way into the intake, or after `limit` (looking every
    /// millisecond), or when the task is cancelled.
    public func settle(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while arriving > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Ends one wait: resumes it if registered, else marks it ended for when it registers.
    private func end(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.ended.insert(id)
            return nil
        }
        waiter?.resume()
    }
}
