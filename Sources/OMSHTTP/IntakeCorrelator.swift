import Logging
import OMSDomain
import OMSStore
import PostgresNIO
import ServiceLifecycle

/// Applies the feed intake behind the answers (`FeedIntake.applyNext`): `workers` loops, each
/// taking the oldest rows no other holds (`FOR UPDATE SKIP LOCKED`) about substations no other
/// holds (`oms_feed_intake_apply` partitions by substation), so that several loops and several
/// instances of the service share the work without waiting on each other's devices. A loop that
/// applied something looks again at once; one that found nothing waits until this instance keeps
/// a request (`IntakeWakeUp`) or `idle` has passed (rows other instances kept).
///
/// It works only through the database gate (nothing queues in the pool while the database is
/// away). A conflict with a concurrent batch (40001, 40P01) rolls its transaction back whole:
/// the rows wait for the next turn. Stopping, it takes no new rows; what is left waits in
/// `oms_feed_intake` for the next start (it is durable: nothing acknowledged is lost).
public final class IntakeCorrelator: Service, Sendable {
    let intake: FeedIntake
    let gate: DatabaseGate
    let metrics: ServiceMetrics
    let wakeUp: IntakeWakeUp
    /// Told which rows were applied (synchronous requests wait for theirs).
    let applications: IntakeApplications?
    let workers: Int
    let idle: Duration
    /// How long a correlator back from a wait waits at most, before taking rows, for requests on
    /// their way into the intake (`IntakeWakeUp.settle`): long enough for a sibling request of 1,000
    /// messages to be decoded and appended (20 ms was not, at 1M).
    let settleLimit: Duration = .milliseconds(100)
    /// How long a stop waits for the loops.
    let stopLimit: Duration = .seconds(5)
    let logger: Logger

    public init(intake: FeedIntake, gate: DatabaseGate, metrics: ServiceMetrics, wakeUp: IntakeWakeUp,
                applications: IntakeApplications? = nil, workers: Int = 2, idle: Duration = .seconds(1), logger: Logger) {
        self.intake = intake
        self.gate = gate
        self.metrics = metrics
        self.wakeUp = wakeUp
        self.applications = applications
        self.workers = max(workers, 1)
        self.idle = idle
        self.logger = logger
    }

    public func run() async throws {
        // The loops run until the service stops; then each is waited for at most `stopLimit`:
        // an application transaction cut short rolls back, and its rows wait, durable, for the next
        // start. The service's stop never hangs on a statement here.
        let loops = (0..<workers).map { worker in Task { await self.loop(worker: worker) } }
        try? await gracefulShutdown()
        for loop in loops { loop.cancel() }
        // (withTimeout does not wait for what it gives up on.)
        _ = try? await withTimeout(seconds: stopLimit.seconds) {
            for loop in loops { await loop.value }
        }
    }

    /// One correlator: apply, or wait when there was nothing to apply (or the database said no).
    func loop(worker: Int) async {
        var cameBackFromWait = true
        // Busy from a look that applied rows until one finds nothing (a backlog being worked
        // through): meanwhile a synchronous request goes through the intake, behind what it applies
        // (`IntakeWakeUp.claimDirect`). (A look that finds nothing, every `idle`, is not busy.)
        var busy = false
        defer { if busy { wakeUp.correlatorBusy(false) } }
        while !Task.isCancelled {
            var applied: [FeedIntake.Applied] = []
            do {
                // Back from a wait, the requests this instance is receiving and appending now are let
                // in first (`settleLimit` at most): taken with the row that woke it, not in the next call.
                // (Busy, the rows that arrived during the last call are all there.)
                if cameBackFromWait { await wakeUp.settle(upTo: settleLimit) }
                // (In the background: a statement stuck on a server that stopped answering does not
                // hold the loop; the gate answers for it once it knows.)
                let intake = self.intake
                applied = try await self.gate.guardedInBackground { try await intake.applyNext() }
                metrics.recordIntakeApplied(applied)
                applications?.applied(Set(applied.map(\.requestID)))
                if !applied.isEmpty {
                    logger.debug("intake: applied", metadata: [
                        "worker": "\(worker)", "rows": "\(applied.count)", "events": "\(applied.reduce(0) { $0 + $1.events })",
                    ])
                }
            } catch let error as PSQLError where ["40001", "40P01"].contains(error.serverInfo?[.sqlState]) {
                logger.info("intake: a concurrent batch conflicted; trying again", metadata: [
                    "worker": "\(worker)", "sqlstate": "\(error.serverInfo?[.sqlState] ?? "")",
                ])
            } catch {
                // The database may be away or still migrating: the gate reports it.
                logger.debug("intake: nothing applied now", metadata: ["error": "\(error.readableDatabaseMessage)"])
            }
            cameBackFromWait = applied.isEmpty
            if busy != !applied.isEmpty {
                busy = !applied.isEmpty
                wakeUp.correlatorBusy(busy)
            }
            if applied.isEmpty {
                // (The stop cancels the wait; the loop's condition then ends it.)
                await wakeUp.wait(upTo: idle)
            }
        }
    }
}
