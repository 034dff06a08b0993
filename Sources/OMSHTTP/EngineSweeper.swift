import Logging
import OMSDomain
import OMSStore
import ServiceLifecycle

/// Runs the engine's deferred roll-ups (`EngineSweep`) a few times a second, for as long as the
/// service runs, and once more, waiting, when it stops: feed batches about the same feeder or substation run side by side, and the one
/// that cannot take a device's lock at once leaves its roll-up here rather than wait.
///
/// It sweeps only through the database gate (nothing is queued in the pool while the database
/// is away), and its last sweep is bounded: a service that is stopping never waits on it for
/// long, and what it leaves stays in `oms_engine_pending` for the next start.
public final class EngineSweeper: Service, Sendable {
    let sweep: EngineSweep
    let gate: DatabaseGate
    let interval: Duration
    let finalSweepLimit: Duration
    let logger: Logger

    public init(sweep: EngineSweep, gate: DatabaseGate, interval: Duration = .milliseconds(200),
                finalSweepLimit: Duration = .seconds(10), logger: Logger) {
        self.sweep = sweep
        self.gate = gate
        self.interval = interval
        self.finalSweepLimit = finalSweepLimit
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            } catch {
                break
            }
            do {
                // (A shutdown ends a wait for a connection; a sweep already sent finishes.)
                let done = try await cancelWhenGracefulShutdown { try await self.gate.guarded { try await self.sweep.run() } }
                if done > 0 { logger.debug("engine: deferred roll-ups done", metadata: ["count": "\(done)"]) }
            } catch {
                // The database may be away or still migrating: the gate reports it; try at the next tick.
                logger.debug("engine: deferred roll-ups not done now", metadata: ["error": "\(error.readableDatabaseMessage)"])
            }
        }
        // Stopping: what is still deferred is done now, waiting for the devices' locks (the
        // table keeps it otherwise, for the next start).
        do {
            try gate.admit()
            _ = try await withTimeout(seconds: finalSweepLimit.seconds) { try await self.sweep.run(patience: .zero) }
        } catch {
            logger.notice("engine: deferred roll-ups left for the next start", metadata: ["error": "\(error.readableDatabaseMessage)"])
        }
    }
}
