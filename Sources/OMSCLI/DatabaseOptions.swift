import ArgumentParser
import Foundation
import Logging
import OMSStore
import PostgresNIO

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

    @Option(
        name: .customLong("connect-timeout"),
        help: "Seconds to wait for the database to accept a connection before giving up with its reason (default 5; also $OMS_CONNECT_TIMEOUT)."
    )
    var connectTimeoutSeconds: Double?

    /// The default of `--connect-timeout`.
    static let defaultConnectTimeout = 5.0

    /// How long a connection attempt may take: the flag, else $OMS_CONNECT_TIMEOUT, else 5 s.
    func connectTimeout(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration {
        var seconds = Self.defaultConnectTimeout
        if let connectTimeoutSeconds {
            seconds = connectTimeoutSeconds
        } else if let text = environment["OMS_CONNECT_TIMEOUT"], !text.isEmpty {
            guard let value = Double(text) else { throw ValidationError("OMS_CONNECT_TIMEOUT=\(text): not a number of seconds") }
            seconds = value
        }
        guard seconds > 0, seconds <= 3600 else {
            throw ValidationError("connect timeout \(seconds): must be more than 0 and at most 3600 seconds")
        }
        return .milliseconds(Int((seconds * 1000).rounded()))
    }

    /// These options as command-line arguments, for a command that runs others on the same
    /// database with the same logging (`oms bench`): each flag given, and the folder and levels.
    var arguments: [String] {
        var arguments = ["--data-dir", dataDirectory, "--log-level", logLevel, "--log-format", logFormat.rawValue]
        if let databaseURL { arguments += ["--database-url", databaseURL] }
        if let connectTimeoutSeconds { arguments += ["--connect-timeout", String(connectTimeoutSeconds)] }
        return arguments
    }

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
    ///
    /// Every configuration handed to `body` carries `--connect-timeout` as its
    /// `options.connectTimeout`, which `DatabaseBootstrap.withClient` uses to fail fast with the
    /// server's reason. A database of its own that a command asks for (`database`, e.g. the
    /// benchmarks' `oms_bench_50000`) is created when missing, on the managed cluster or on the
    /// server of the URL (connecting to the URL's database to do so), or refused by name.
    func withDatabase<Result: Sendable>(
        database: String = ManagedPostgres.databaseName,
        logger: Logger,
        _ body: @Sendable (PostgresClient.Configuration, String) async throws -> Result
    ) async throws -> Result {
        let connectTimeout = try connectTimeout()
        if let explicitURL {
            let url = try DatabaseURL(explicitURL)
            var configuration = url.clientConfiguration()
            configuration.options.connectTimeout = connectTimeout
            logger.info("database from the URL", metadata: ["url": "\(url.description)"])
            if database != ManagedPostgres.databaseName {
                try await DatabaseBootstrap.createDatabaseIfNeeded(database, maintenance: configuration, logger: logger)
                configuration.database = database
            }
            return try await body(configuration, url.description)
        }
        let server = try managedServer(logger: logger)
        let outcome = try await server.start()
        func configuration(_ name: String) throws -> PostgresClient.Configuration {
            var configuration = try server.clientConfiguration(database: name)
            configuration.options.connectTimeout = connectTimeout
            return configuration
        }
        if database != ManagedPostgres.databaseName {
            try await DatabaseBootstrap.createDatabaseIfNeeded(
                database, maintenance: try configuration("postgres"), logger: logger)
        }
        do {
            let result = try await body(try configuration(database), try server.connectionURL(database: database))
            if case .started = outcome { try await server.stop() }
            return result
        } catch {
            if case .started = outcome { _ = try? await server.stop() }
            throw error
        }
    }
}
