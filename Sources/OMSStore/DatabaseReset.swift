import Logging
import PostgresNIO

/// Empties a database the tool owns (the demo's, the benchmarks'): its `public` schema dropped with
/// everything in it (tables, functions, the migration records) and created again, empty, for a fresh
/// `MigrationRunner` run.
public struct DatabaseReset: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// `DROP SCHEMA public CASCADE`, then `CREATE SCHEMA public`.
    public func recreatePublicSchema() async throws {
        try await client.fetch("DROP SCHEMA public CASCADE", logger: logger)
        try await client.fetch("CREATE SCHEMA public", logger: logger)
    }
}
