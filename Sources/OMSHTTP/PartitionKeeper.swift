import Logging
import OMSStore
import PostgresNIO
import ServiceLifecycle

/// Makes the monthly partitions of the tables kept by month (the audit trail, the AMI and ONU events)
/// ahead (`oms_partitions_ensure`: this month's and the next three) when the service starts and every
/// hour while it runs, through the database gate: a service that runs for months never writes its
/// rows into a default partition.
public final class PartitionKeeper: Service, Sendable {
    let client: PostgresClient
    let gate: DatabaseGate
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, gate: DatabaseGate, interval: Duration = .seconds(3600), logger: Logger) {
        self.client = client
        self.gate = gate
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var wait = Duration.seconds(1)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let pause = wait
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            } catch {
                break
            }
            do {
                // A shutdown ends the wait for a connection too: with a database unreachable from the
                // start (and no pool watch to close the gate), the tick waited in the pool until its
                // circuit breaker tripped, and the service took 60 s to stop (HealthTests.unreachable).
                let made = try await cancelWhenGracefulShutdown {
                    try await self.gate.guarded {
                        try await self.client.fetch("SELECT oms_partitions_ensure()", logger: self.logger)
                            .decode(Int.self).first ?? 0
                    }
                }
                if made > 0 { logger.notice("monthly partitions made ahead", metadata: ["count": "\(made)"]) }
                wait = interval
            } catch {
                // The database may be away or migrating: try again in a minute.
                logger.debug("monthly partitions not checked now", metadata: ["error": "\(error.readableDatabaseMessage)"])
                wait = .seconds(60)
            }
        }
    }
}
