import Logging
import PostgresNIO

/// The smallest round trip to the database: `SELECT 1` through a client's pool, every row read.
/// What the database gate asks when it has no probe of its own, and the benchmarks' baseline.
public struct DatabasePing: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Sends `SELECT 1` and reads its answer; throws what the pool or the server said.
    public func run() async throws {
        try await client.read("SELECT 1", logger: logger)
    }
}
