import Foundation
import Logging
import PostgresNIO

/// Builds or refreshes the registry from the feed tables through `oms_migrate_registry()`,
/// the same function psql users call.
public struct RegistryMigration: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs the migration (one transaction) and returns its report, with at most
    /// `reportLimit` merged groups and conflicts listed. A dry run writes nothing.
    public func run(dryRun: Bool = false, reportLimit: Int = 1_000) async throws -> RegistryMigrationReport {
        let limit = Int32(clamping: reportLimit)
        let rows = try await client.fetch(
            "SELECT oms_migrate_registry(\(dryRun), \(limit))::text", logger: logger)
        for json in try rows.decode(String.self) {
            return try JSONDecoder().decode(RegistryMigrationReport.self, from: Data(json.utf8))
        }
        throw RegistryMigrationError.noReport
    }
}
