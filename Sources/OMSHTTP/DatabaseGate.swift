import Foundation
import Hummingbird
import Logging
import OMSDomain
import OMSStore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Keeps requests that need the database from waiting on a database that is not there.
///
/// PostgresNIO's pool queues a request while it cannot open a connection and fails it only when
/// its circuit breaker trips, 60 s after the first failure: every request would hang a minute and
/// then answer 500. The gate instead:
///
/// - is **open** while the database is believed usable: requests go to the pool, each under a
///   watch (`guarded`): a request still waiting after `watchInterval` makes the gate check the
///   database (one check at a time, shared by all requests, at most one per interval), and if the
///   check fails the request is cancelled (a wait in the pool's queue ends at once) and answered
///   503; so is a request whose query failed because the connection failed;
/// - is **closed** after a failed check: requests that need the database are answered 503 with
///   `Retry-After` at once, without touching the pool; the gate tries the database again every
///   `retryInterval` (a service of the application) and opens when it answers, after running
///   pending migrations (`oms serve` migrates when the database becomes reachable, not only at
///   start).
///
/// A check is one connection outside the pool (`DatabaseWatch.probe`), so that `/ready` and the
/// log say why in the server's words; when the pool logs that it failed to open a connection,
/// the gate checks at once, and after such a failure it opens again only once the pool hands out
/// a connection (PostgresNIO retries with a backoff that grows to 60 s in a long outage; until
/// its next retry requests would wait in its queue). Without a watch a check is `SELECT 1`
/// through the pool within the probe timeout: it can tell that, not why.
///
/// Limits: a request already running a query on a connection whose server vanished without
/// closing it (a network partition, not a stop or a crash) waits for TCP to notice, as before;
/// cancelling a task does not interrupt a query PostgresNIO has sent.
public final class DatabaseGate: Service, Sendable {
    /// A request waiting this long makes the gate check the database.
    static let watchInterval = Duration.seconds(2)
    /// How often a waiting request looks at the gate.
    static let pollInterval = Duration.milliseconds(200)
    /// While closed, the database is tried this often.
    static let retryInterval = Duration.seconds(2)
    /// `Retry-After` of a 503.
    static let retryAfterSeconds = 5

    /// The outcome of a check.
    enum Reach: Sendable, Equatable {
        case reachable
        case unreachable(String)
    }

    private struct State {
        /// Why requests are refused now; nil when open.
        var closedReason: String?
        var lastCheck: (at: ContinuousClock.Instant, reach: Reach)?
        var checking: Task<Reach, Never>?
        var migrationPending: Bool
        var migrating = false
    }

    let client: PostgresClient
    let watch: DatabaseWatch?
    let migrations: MigrationRunner?
    let probeTimeout: Duration
    let logger: Logger
    private let state: Mutex<State>

    /// `migrations`: run them before opening (at start, and whenever the database becomes
    /// reachable until they have run). `probeTimeout`: the limit of a check through the pool
    /// (without a watch; a watch's probe has its connect timeout).
    public init(
        client: PostgresClient, watch: DatabaseWatch?, migrations: MigrationRunner?, probeTimeout: Duration, logger: Logger
    ) {
        self.client = client
        self.watch = watch
        self.migrations = migrations
        self.probeTimeout = probeTimeout
        self.logger = logger
        self.state = Mutex(State(closedReason: nil, migrationPending: migrations != nil))
        watch?.onPoolFailure { [weak self] in
            // The pool could not open a connection: check now (at most once a second).
            self?.requestCheck(maxAge: .seconds(1))
        }
    }

    /// Why requests that need the database are refused now; nil when they may go on.
    var closedReason: String? { state.withLock { $0.closedReason } }

    /// Throws `DatabaseUnavailable` when the gate is closed.
    func admit() throws {
        if let reason = closedReason { throw DatabaseUnavailable(reason: reason) }
    }

    /// Runs `operation` (which needs the database) unless the gate is closed, and ends it with
    /// `DatabaseUnavailable` if the database turns out to be unusable while it waits.
    func guarded<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        try admit()
        do {
            return try await withoutActuallyEscaping(operation) { operation in
                let box = UncheckedSendableBox(operation)
                return try await withThrowingTaskGroup(of: GuardOutcome<T>.self) { group in
                    group.addTask {
                        do { return .finished(.success(try await box.value())) } catch { return .finished(.failure(error)) }
                    }
                    group.addTask { .unavailable(await self.watchWhileWaiting()) }
                    var unavailable: String?
                    while let outcome = try await group.next() {
                        switch outcome {
                        case .finished(let result):
                            group.cancelAll()
                            // Cancelled because the database is gone: say so. Finished anyway: its answer stands.
                            if let unavailable, case .failure = result { throw DatabaseUnavailable(reason: unavailable) }
                            return try result.get()
                        case .unavailable(let reason?):
                            unavailable = reason
                            group.cancelAll()
                        case .unavailable(nil):
                            break
                        }
                    }
                    throw DatabaseUnavailable(reason: unavailable ?? "the request ended without an answer")
                }
            }
        } catch let error where !(error is DatabaseUnavailable) && error.isDatabaseConnectionFailure {
            // The connection failed under the request: check the database (the check decides
            // whether to close the gate; one lost connection of a restarted server does not).
            requestCheck(maxAge: .seconds(1))
            throw DatabaseUnavailable(reason: error.readableDatabaseMessage)
        }
    }

    /// Like `guarded`, but the caller is answered `DatabaseUnavailable` as soon as the database is
    /// found unusable, without waiting for `operation` to end.
    ///
    /// A statement already sent to a server that has stopped answering (stuck in I/O, or
    /// unreachable without the connection closing) cannot be cancelled: PostgresNIO does not
    /// interrupt it, and `guarded` would hold the request until the server answers, however long.
    /// Here `operation` goes on in the background and its result is dropped; the client's 503 says
    /// "not acknowledged, send again", and since every feed message is stored once by its id, a
    /// message the background statement did store is answered as a repeat when it comes again.
    /// Only for operations that are safe to finish unobserved (idempotent writes, reads).
    func guardedInBackground<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try admit()
        let outcome = FirstOutcome<T>()
        let work = Task { try await operation() }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    outcome.wait(continuation)
                    let watcher = Task {
                        if let reason = await self.watchWhileWaiting(),
                           outcome.resume(with: .failure(DatabaseUnavailable(reason: reason))) {
                            work.cancel()
                        }
                    }
                    Task {
                        let result = await work.result
                        watcher.cancel()
                        outcome.resume(with: result)
                    }
                }
            } onCancel: {
                work.cancel()
            }
        } catch let error where !(error is DatabaseUnavailable) && error.isDatabaseConnectionFailure {
            requestCheck(maxAge: .seconds(1))
            throw DatabaseUnavailable(reason: error.readableDatabaseMessage)
        }
    }

    /// Returns a reason once the gate is closed (or a check made after `watchInterval` fails);
    /// nil when cancelled (the operation finished).
    private func watchWhileWaiting() async -> String? {
        let start = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.pollInterval)
            if Task.isCancelled { return nil }
            if let reason = closedReason { return reason }
            if ContinuousClock.now - start >= Self.watchInterval {
                requestCheck(maxAge: Self.watchInterval)
            }
        }
        return nil
    }

    /// Checks the database, or answers from a check younger than `maxAge` (or under way).
    @discardableResult
    func check(maxAge: Duration) async -> Reach {
        switch checkTask(maxAge: maxAge) {
        case .left(let reach): return reach
        case .right(let task): return await task.value
        }
    }

    /// Like `check(maxAge:)`, but waits at most `limit` for a check under way (nil: no answer yet).
    func check(maxAge: Duration, within limit: Duration) async -> Reach? {
        let start = ContinuousClock.now
        if case .left(let reach) = checkTask(maxAge: maxAge) { return reach }
        while ContinuousClock.now - start < limit {
            try? await Task.sleep(for: .milliseconds(25))
            if let last = state.withLock({ $0.lastCheck }), last.at >= start { return last.reach }
        }
        return nil
    }

    /// Starts a check unless one younger than `maxAge` exists or one is under way; does not wait.
    func requestCheck(maxAge: Duration, onlyIfClosed: Bool = false) {
        if onlyIfClosed && closedReason == nil { return }
        _ = checkTask(maxAge: maxAge)
    }

    private enum Either<L, R> { case left(L), right(R) }

    private func checkTask(maxAge: Duration) -> Either<Reach, Task<Reach, Never>> {
        state.withLock { state in
            if let checking = state.checking { return .right(checking) }
            if let last = state.lastCheck, ContinuousClock.now - last.at < maxAge { return .left(last.reach) }
            let task = Task { [self] in
                let reach = await self.probe()
                self.apply(reach)
                return reach
            }
            state.checking = task
            return .right(task)
        }
    }

    /// One check: a connection outside the pool when there is a watch (and the pool opening
    /// connections again), else `SELECT 1` through the pool within `probeTimeout`.
    private func probe() async -> Reach {
        if let probe = watch?.probe {
            do {
                try await probe.check(logger: logger)
            } catch {
                return .unreachable((error as? DatabaseUnreachable)?.reason ?? error.readableDatabaseMessage)
            }
            // The pool failed to open a connection lately: it retries on its own schedule (a
            // backoff that grows to 60 s during a long outage), and requests wait in its queue
            // meanwhile. Open only once it hands out a connection.
            if let watch, watch.poolFailedSinceLastUse {
                guard await poolAnswers(within: min(probeTimeout, .seconds(2))) else {
                    return .unreachable(
                        "the database answers again, but the connection pool has not reconnected yet (PostgresNIO retries with a backoff that grows to 60 s during a long outage)")
                }
                watch.poolWorks()
            }
            return .reachable
        }
        do {
            try await withTimeout(seconds: probeTimeout.seconds) {
                try await DatabasePing(client: self.client, logger: self.logger).run()
            }
            return .reachable
        } catch is TimeoutError {
            // Through the pool, a slow answer may be a busy pool (every connection in use, requests
            // queued), not a database that is gone: that is load, answered by waiting, not by 503.
            return .reachable
        } catch where error.isDatabaseConnectionFailure {
            return .unreachable(error.readableDatabaseMessage)
        } catch {
            return .reachable
        }
    }

    /// Whether the pool hands out a connection that answers `SELECT 1` within `limit`.
    private func poolAnswers(within limit: Duration) async -> Bool {
        do {
            try await withTimeout(seconds: limit.seconds) { () async throws -> Void in
                try await DatabasePing(client: self.client, logger: self.logger).run()
            }
            return true
        } catch {
            return false
        }
    }

    /// Records a check and opens or closes the gate accordingly.
    private func apply(_ reach: Reach) {
        let (before, after) = state.withLock { state -> (String?, String?) in
            let before = state.closedReason
            state.checking = nil
            state.lastCheck = (ContinuousClock.now, reach)
            switch reach {
            case .unreachable(let reason):
                state.closedReason = reason
            case .reachable:
                state.closedReason = state.migrationPending ? "the database answers; its schema is being migrated" : nil
            }
            return (before, state.closedReason)
        }
        if case .unreachable = reach, let after, after != before {
            logger.warning("the database cannot be used: requests that need it are answered 503 until it can", metadata: [
                "reason": "\(after)",
            ])
        } else if after == nil, let before {
            logger.notice("the database can be used again", metadata: ["was": "\(before)"])
        }
    }

    /// Runs the pending migrations if the database answers; throws what migrating threw (a
    /// connection failure leaves them pending and the gate closed).
    func migrateIfPending() async throws {
        guard let migrations else { return }
        let go = state.withLock { state -> Bool in
            guard state.migrationPending, !state.migrating else { return false }
            state.migrating = true
            return true
        }
        guard go else { return }
        defer { state.withLock { $0.migrating = false } }
        guard await check(maxAge: .seconds(1)) == .reachable else { return }
        do {
            let summary = try await migrations.migrate(client)
            logger.info("schema ready", metadata: [
                "version": "\(summary.schemaVersion)", "applied": "\(summary.applied.count)",
            ])
            let was = state.withLock { state -> String? in
                state.migrationPending = false
                defer { state.closedReason = nil }
                return state.closedReason
            }
            if let was { logger.notice("the database can be used again", metadata: ["was": "\(was)"]) }
        } catch {
            let reason = error.isDatabaseConnectionFailure
                ? error.readableDatabaseMessage : "the migrations failed: \(error.readableDatabaseMessage)"
            let changed = state.withLock { state -> Bool in
                defer { state.closedReason = reason }
                return state.closedReason != reason
            }
            if changed { logger.error("the database cannot be used", metadata: ["reason": "\(reason)"]) }
            throw error
        }
    }

    /// Before the server starts: migrate when the database answers (a migration it refuses stops
    /// the service, as before); when it does not, log why and serve anyway — `/ready` answers 503
    /// with the reason and the gate migrates once the database answers.
    public func startUp() async throws {
        guard migrations != nil else { return }
        do {
            try await migrateIfPending()
        } catch where error.isDatabaseConnectionFailure {
            // Logged by migrateIfPending; retried by run().
        }
        if let reason = closedReason {
            logger.warning("serving without the database: /ready answers 503 and requests that need it 503 until it can be used", metadata: [
                "reason": "\(reason)",
            ])
        }
    }

    /// While closed, tries the database every `retryInterval` and migrates when pending.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            } catch {
                break
            }
            let (closed, pending) = state.withLock { ($0.closedReason != nil, $0.migrationPending) }
            guard closed || pending else { continue }
            if await check(maxAge: Self.retryInterval) == .reachable && pending {
                try? await migrateIfPending()
            }
        }
    }
}

private enum GuardOutcome<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case unavailable(String?)
}

/// Carries the request's non-escaping, non-Sendable continuation into a child task of a group
/// that is awaited before it returns (`withoutActuallyEscaping`): it runs in one task at a time.
private struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
