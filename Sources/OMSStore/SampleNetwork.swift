import Foundation
import Logging
import PostgresNIO

/// The small deterministic network of `Fixtures/sample_network.sql` (3 substations,
/// 9 feeders, 90 distribution points, 2,700 meters), for the demo and the tests.
public enum SampleNetwork {
    /// Meters the sample network holds.
    public static let meterCount = 2_700

    /// The fixture's SQL, also usable with `psql -f`.
    public static func sql() throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/sample_network", withExtension: "sql")
            ?? Bundle.module.url(forResource: "sample_network", withExtension: "sql", subdirectory: "Fixtures")
        else { throw MigrationError.missingResources }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Loads the network into a migrated database, in one transaction.
    public static func load(into client: PostgresClient, logger: Logger) async throws {
        let statements = try SQLScript.statements(in: try sql())
        try await client.withTransaction(logger: logger) { connection in
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement.text), logger: logger)
            }
        }
    }
}
