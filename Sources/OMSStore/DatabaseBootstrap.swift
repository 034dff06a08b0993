import Foundation
import Logging
import PostgresNIO

/// Running a `PostgresClient` for the length of one piece of work, and creating databases.
public enum DatabaseBootstrap {
    /// Runs `body` with a connected pool; the pool is shut down when `body` returns or throws.
    public static func withClient<Result: Sendable>(
        _ configuration: PostgresClient.Configuration,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // The pool may be asked for a connection a moment before run() has begun;
        // PostgresNIO warns about that on its background logger, harmlessly.
        var backgroundLogger = logger
        if logger.logLevel > .debug { backgroundLogger.logLevel = .error }
        let client = PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Creates `name` (from `template`, if given) unless it exists, connecting to a maintenance database.
    public static func createDatabaseIfNeeded(
        _ name: String,
        template: String? = nil,
        maintenance: PostgresClient.Configuration,
        logger: Logger
    ) async throws {
        try await withClient(maintenance, logger: logger) { client in
            let rows = try await client.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
            for try await _ in rows { return }
            let templateClause = template.map { " TEMPLATE \(quoteIdentifier($0))" } ?? ""
            do {
                try await client.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name))\(templateClause)"),
                    logger: logger)
            } catch where error.databaseSQLState == "42P04" {
                // Created meanwhile by someone else: fine.
            }
        }
    }

    /// An identifier quoted for SQL ("my""db").
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
