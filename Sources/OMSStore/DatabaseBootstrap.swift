import Foundation
import Logging
import PostgresNIO

/// Running a `PostgresClient` for the length of one piece of work, and creating databases.
public enum DatabaseBootstrap {
    /// Runs `body` with a connected pool; the pool is shut down when `body` returns or throws.
    ///
    /// First one connection is opened outside the pool (`DatabaseProbe`), within the configuration's
    /// `options.connectTimeout`: a database that cannot be used fails here at once with the server's
    /// reason (`DatabaseUnreachable`: database "x" does not exist, password authentication failed,
    /// connection refused at host:port), where the pool would retry for 60 s and then say only
    /// `connectionCreationCircuitBreakerTripped`.
    @discardableResult
    public static func withClient<Result: Sendable>(
        _ configuration: PostgresClient.Configuration,
        logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = try await checkedClient(configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A client for `configuration` once one connection has been opened to it (`preflight`); the
    /// caller runs it. Its background logger is quiet below errors unless `logger` is at debug: the
    /// pool may be asked for a connection a moment before run() has begun, and PostgresNIO warns
    /// about that, harmlessly.
    public static func checkedClient(_ configuration: PostgresClient.Configuration, logger: Logger) async throws -> PostgresClient {
        try await preflight(configuration, logger: logger)
        var backgroundLogger = logger
        if logger.logLevel > .debug { backgroundLogger.logLevel = .error }
        return PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger)
    }

    /// Opens and closes one connection, logging what it tries (at info); throws
    /// `DatabaseUnreachable` with the server's reason within `options.connectTimeout`.
    public static func preflight(_ configuration: PostgresClient.Configuration, logger: Logger) async throws {
        let probe = try DatabaseProbe(configuration)
        logger.info("connecting to the database", metadata: [
            "database": "\(probe.target)", "connect_timeout": "\(probe.timeout.formattedSeconds) s",
        ])
        do {
            try await probe.check(logger: logger)
        } catch {
            logger.info("the database cannot be used", metadata: ["database": "\(probe.target)", "error": "\(error)"])
            throw error
        }
        logger.debug("the database answers", metadata: ["database": "\(probe.target)"])
    }

    /// Creates `name` (from `template`, if given) unless it exists, connecting to a maintenance database.
    /// A database that cannot be created is a `DatabaseCreationError` naming it and the server's reason
    /// (e.g. permission denied to create database).
    public static func createDatabaseIfNeeded(
        _ name: String,
        template: String? = nil,
        maintenance: PostgresClient.Configuration,
        logger: Logger
    ) async throws {
        try await withClient(maintenance, logger: logger) { client in
            let existing = try await client.fetch("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
            if !existing.rows.isEmpty { return }
            let templateClause = template.map { " TEMPLATE \(quoteIdentifier($0))" } ?? ""
            logger.info("creating the database", metadata: ["name": "\(name)", "template": "\(template ?? "-")"])
            do {
                try await client.fetch(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name))\(templateClause)"),
                    logger: logger)
            } catch where error.databaseSQLState == "42P04" {
                // Created meanwhile by someone else: fine.
            } catch where error.databaseSQLState != nil {
                throw DatabaseCreationError(
                    database: name, server: (try? DatabaseProbe(maintenance).target) ?? "the server",
                    user: maintenance.username, reason: error.readableDatabaseMessage)
            }
        }
    }

    /// An identifier quoted for SQL ("my""db").
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
