import Logging
import PostgresNIO

/// The server's housekeeping statements, run between the benchmarks' steps: fresh planner
/// statistics after a bulk change (`VACUUM ANALYZE`), dirty buffers written out (`CHECKPOINT`).
public struct DatabaseMaintenance: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// `VACUUM ANALYZE` of every table of the database.
    public func vacuumAnalyze() async throws {
        try await client.fetch("VACUUM ANALYZE", logger: logger)
    }

    /// `VACUUM ANALYZE oms_meters` (after many meters changed).
    public func vacuumAnalyzeMeters() async throws {
        try await client.fetch("VACUUM ANALYZE oms_meters", logger: logger)
    }

    /// `CHECKPOINT`. Needs superuser or `pg_checkpoint`: without, it throws SQLSTATE 42501.
    public func checkpoint() async throws {
        try await client.fetch("CHECKPOINT", logger: logger)
    }
}
