import Logging
import OMSDomain
import PostgresNIO

/// The outage engine's deferred roll-ups (`oms_engine_sweep`, 19_outage_engine.sql): a roll-up
/// to a feeder or substation that another writer's lock stopped is recorded instead of waited
/// for, and done here, one per transaction, under the device's locks.
public struct EngineSweep: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Does deferred roll-ups until none is left that it can do now or `limit` are done; returns
    /// how many were done. A roll-up deferred longer than `patience` waits for its device's lock.
    @discardableResult
    public func run(limit: Int = 1_000, patience: Duration = .seconds(2)) async throws -> Int {
        var done = 0
        while done < limit {
            let rows = try await client.fetch(
                "SELECT oms_engine_sweep(make_interval(secs => \(patience.seconds)))", logger: logger)
            var did = 0
            for value in try rows.decode(Int.self) { did = value }
            guard did > 0 else { break }
            done += did
        }
        return done
    }
}
