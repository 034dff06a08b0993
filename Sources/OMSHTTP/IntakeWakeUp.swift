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
///
/// And it knows whether this instance has anything else in hand: the synchronous meter-feed
/// requests being answered (`requestInHand`), the correlators busy (`correlatorBusy`), those applied
/// in their own request (`claimDirect`). A request that finds nothing else, in an instance that has
/// not had two requests in hand at once for `loadMemory`, gains nothing from the intake, whose
/// append, application and answer are three commits and two hand-overs:
/// `ServerSettings.MeterFeedApplication.adaptive` then applies it in the request, as a group commit
/// with nobody to wait for commits at once. (Under load, requests side by side, every request goes
/// through the intake: one applied in its request beside the correlators would contend with them
/// for its devices' locks, as the storm benchmark showed.)
public final class IntakeWakeUp: Sendable {
    private struct State {
        /// Requests on their way into the intake.
        var arriving = 0
        /// Correlators whose last look applied rows (working through a backlog).
        var busyCorrelators = 0
        /// Synchronous requests being applied in their own request (`claimDirect`).
        var direct = 0
        /// Synchronous meter-feed requests in hand (from their start to their answer).
        var inHand = 0
        /// When two of them were last in hand at once.
        var lastTogether: ContinuousClock.Instant?
        var next = 0
        /// Counts the wakes: a wait that began before one and had not registered yet ends at once.
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits ended (by wake, time or cancellation) before their continuation was registered.
        var ended: Set<Int> = []
    }

    private let state = Mutex(State())
    /// How long after two requests were in hand at once every request goes through the intake.
    let loadMemory: Duration

    public init(loadMemory: Duration = .seconds(1)) {
        self.loadMemory = loadMemory
    }

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
    public typealias Arrival = Held

    /// Counts a request on its way into the intake until the `Arrival` ends.
    public func arrival() -> Arrival {
        state.withLock { $0.arriving += 1 }
        return Held { [self] in state.withLock { $0.arriving -= 1 } }
    }

    /// Requests on their way into the intake now.
    public var arriving: Int { state.withLock { $0.arriving } }

    /// A correlator's look applied rows (`true`: busy until a look finds nothing) or found nothing (`false`).
    public func correlatorBusy(_ busy: Bool) {
        state.withLock { $0.busyCorrelators += busy ? 1 : -1 }
    }

    /// Something counted until its `end()` (ending twice counts once): a request arriving, in hand,
    /// or applied in its own request.
    public final class Held: Sendable {
        private let release: @Sendable () -> Void
        private let ended = Mutex(false)

        fileprivate init(_ release: @escaping @Sendable () -> Void) { self.release = release }

        public func end() {
            guard ended.withLock({ ended in defer { ended = true }; return !ended }) else { return }
            release()
        }
    }

    /// A synchronous meter-feed request in hand until `end()` (its answer); two at once mark the
    /// instance under load for `loadMemory`.
    public func requestInHand() -> Held {
        state.withLock { state in
            state.inHand += 1
            if state.inHand >= 2 { state.lastTogether = .now }
        }
        return Held { [self] in state.withLock { $0.inHand -= 1 } }
    }

    /// The request of `arrival` (still on its way, and in hand) may be applied in itself when it is
    /// alone: no other request in hand or arriving, no correlator busy, none applied directly, and
    /// no two requests in hand at once for `loadMemory`. Then its arrival ends (the correlators do
    /// not wait for it) and it is counted as applied directly until the returned `end()`; else nil,
    /// and it goes through the intake.
    public func claimDirect(_ arrival: Arrival) -> Held? {
        let alone = state.withLock { state -> Bool in
            guard state.inHand <= 1, state.arriving <= 1, state.busyCorrelators == 0, state.direct == 0,
                  state.lastTogether.map({ ContinuousClock.now - $0 >= loadMemory }) ?? true
            else { return false }
            state.direct += 1
            return true
        }
        guard alone else { return nil }
        arrival.end()
        return Held { [self] in state.withLock { $0.direct -= 1 } }
    }

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
