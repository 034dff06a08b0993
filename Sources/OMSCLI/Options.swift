import ArgumentParser
import Foundation
import Logging
import OMSStore
import PostgresNIO
import Synchronization

/// Options every command shares: where the database is, and how much to log.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL URL (postgres://user:pass@host:5432/db). Default: $OMS_DATABASE_URL, $DATABASE_URL, else the managed local cluster."
    )
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: "Folder of the managed local cluster.")
    var dataDirectory: String = ManagedPostgres.defaultDirectory

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "notice"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line (with the request id of HTTP requests).")
    var logFormat: LogFormat = .text

    /// The URL the user gave, by flag or environment.
    var explicitURL: String? {
        let environment = ProcessInfo.processInfo.environment
        return [databaseURL, environment["OMS_DATABASE_URL"], environment["DATABASE_URL"]]
            .compactMap { $0 }
            .first { !$0.isEmpty }
    }

    func makeLogger() -> Logger {
        LoggingSetup.bootstrapOnce(format: logFormat)
        var logger = Logger(label: "oms")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        return logger
    }

    func managedServer(logger: Logger, options: ManagedPostgres.Options = .init()) throws -> ManagedPostgres {
        ManagedPostgres(
            directory: dataDirectory, installation: try PostgresInstallation.locate(), options: options, logger: logger)
    }

    /// Runs `body` against the configured database. With no URL, the managed
    /// cluster is started for the command and stopped afterwards, unless it was
    /// already running (`oms db start`), in which case it is left running.
    func withDatabase<Result: Sendable>(
        database: String = ManagedPostgres.databaseName,
        logger: Logger,
        _ body: @Sendable (PostgresClient.Configuration, String) async throws -> Result
    ) async throws -> Result {
        if let explicitURL {
            let url = try DatabaseURL(explicitURL)
            var configuration = url.clientConfiguration()
            if database != ManagedPostgres.databaseName { configuration.database = database }
            return try await body(configuration, url.description)
        }
        let server = try managedServer(logger: logger)
        let outcome = try await server.start()
        if database != ManagedPostgres.databaseName {
            try await DatabaseBootstrap.createDatabaseIfNeeded(
                database, maintenance: try server.clientConfiguration(database: "postgres"), logger: logger)
        }
        do {
            let result = try await body(try server.clientConfiguration(database: database), try server.connectionURL(database: database))
            if case .started = outcome { try await server.stop() }
            return result
        } catch {
            if case .started = outcome { _ = try? await server.stop() }
            throw error
        }
    }
}

/// Logging goes to standard error, so that standard output carries only results
/// (`psql "$(oms db url)"`).
/// How log lines are written.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// The process-wide log handler, chosen by the first command that logs (swift-log allows one bootstrap).
enum LoggingSetup {
    private static let bootstrapped = Mutex(false)

    static func bootstrapOnce(format: LogFormat) {
        bootstrapped.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { label in
                switch format {
                case .text: StreamLogHandler.standardError(label: label)
                case .json: JSONLogHandler(label: label)
                }
            }
            done = true
        }
    }
}
