import Logging
import OMSStore
import ServiceLifecycle

/// Runs the engine's deferred roll-ups (`EngineSweep`) a few times a second, for as long as the
/// service runs, and once more, waiting, when it stops: feed batches about the same feeder or substation run side by side, and the one
/// that cannot take a device's lock at once leaves its roll-up here rather than wait.
public final class EngineSweeper: Service, Sendable {
    let sweep: EngineSweep
    let interval: Duration
    let logger: Logger

    public init(sweep: EngineSweep, interval: Duration = .milliseconds(200), logger: Logger) {
        self.sweep = sweep
        self.interval = interval
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
                let done = try await sweep.run()
                if done > 0 { logger.debug("engine: deferred roll-ups done", metadata: ["count": "\(done)"]) }
            } catch {
                // The database may be away or still migrating: the gate reports it; try at the next tick.
                logger.debug("engine: deferred roll-ups not done now", metadata: ["error": "\(error.readableDatabaseMessage)"])
            }
        }
        // Stopping: what is still deferred is done now, waiting for the devices' locks (the
        // table keeps it otherwise, for the next start).
        do {
            try await sweep.run(patience: .zero)
        } catch {
            logger.notice("engine: deferred roll-ups left for the next start", metadata: ["error": "\(error.readableDatabaseMessage)"])
        }
    }
}
