import Logging
import OMSDomain
import OMSStore
import PostgresNIO
import ServiceLifecycle

/// Applies the feed intake behind the answers (`FeedIntake.applyNext`): `workers` loops, each
/// taking the oldest rows no other holds (`FOR UPDATE SKIP LOCKED`), so that several loops and
/// several instances of the service share the work. A loop that applied something looks again
/// at once; one that found nothing waits until this instance keeps a request (`IntakeWakeUp`) or
/// `idle` has passed (rows other instances kept).
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
    let workers: Int
    let idle: Duration
    let logger: Logger

    public init(intake: FeedIntake, gate: DatabaseGate, metrics: ServiceMetrics, wakeUp: IntakeWakeUp, workers: Int = 2,
                idle: Duration = .seconds(1), logger: Logger) {
        self.intake = intake
        self.gate = gate
        self.metrics = metrics
        self.wakeUp = wakeUp
        self.workers = max(workers, 1)
        self.idle = idle
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for worker in 0..<workers {
                group.addTask { await self.loop(worker: worker) }
            }
        }
    }

    /// One correlator: apply, or wait when there was nothing to apply (or the database said no).
    func loop(worker: Int) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var applied: [FeedIntake.Applied] = []
            do {
                applied = try await cancelWhenGracefulShutdown { try await self.gate.guarded { try await self.intake.applyNext() } }
                metrics.recordIntakeApplied(applied)
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
            if applied.isEmpty {
                // (A graceful shutdown cancels the wait; the loop's condition then ends it.)
                try? await cancelWhenGracefulShutdown { await self.wakeUp.wait(upTo: self.idle) }
            }
        }
    }
}
