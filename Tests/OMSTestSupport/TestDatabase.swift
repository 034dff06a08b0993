import Foundation
import Logging
import OMSStore
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real PostgreSQL for the tests: one throwaway server per test process,
/// started on first use with the same `ManagedPostgres` code `oms` uses, and a
/// fresh database per test, copied from a migrated template (cheap: no
/// migration per test).
public enum TestDatabase {
    /// A test's own database.
    public struct Handle: Sendable {
        public let client: PostgresClient
        public let name: String
        public let configuration: PostgresClient.Configuration
    }

    /// Which template a test database starts from.
    public enum Content: Sendable {
        /// Nothing at all: not even the schema.
        case empty
        /// The migrated schema, no rows but the settings.
        case migrated
        /// The migrated schema and the sample network (2,700 meters).
        case sampleNetwork
    }

    public static let logger: Logger = {
        var logger = Logger(label: "oms-tests")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a new database of the given content, dropped afterwards.
    public static func with<Result: Sendable>(
        _ content: Content = .migrated,
        _ body: @Sendable (Handle) async throws -> Result
    ) async throws -> Result {
        let server = try await SharedServer.shared.server()
        let name = "t_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
        let template: String? = switch content {
        case .empty: nil
        case .migrated: SharedServer.migratedTemplate
        case .sampleNetwork: SharedServer.sampleTemplate
        }
        let maintenance = try server.clientConfiguration(database: "postgres")
        try await DatabaseBootstrap.createDatabaseIfNeeded(
            name, template: template, maintenance: maintenance, logger: logger)
        var pooled = try server.clientConfiguration(database: name)
        // Many tests run at once: a few connections each is plenty.
        pooled.options.maximumConnections = 4
        let configuration = pooled
        do {
            let result = try await withPool(configuration) { client in
                try await body(Handle(client: client, name: name, configuration: configuration))
            }
            try await drop(name, maintenance: maintenance)
            return result
        } catch {
            try? await drop(name, maintenance: maintenance)
            throw error
        }
    }

    /// `DatabaseBootstrap.withClient` for a test's database, except that a pool whose `run()` has
    /// not ended 30 s after its cancellation is left behind (with a line on stderr) instead of
    /// waited for. Full runs on 2 cores stalled for good, several times, after a test's body had
    /// ended and its database had no session left, before the database was dropped (2026-12-05:
    /// TLSTests.https, AdminRouteTests.proximity; every thread idle): a pool that never finished
    /// shutting down is the likeliest cause. A stray pool costs a test run nothing.
    static func withPool<Result: Sendable>(
        _ configuration: PostgresClient.Configuration, _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = try await DatabaseBootstrap.checkedClient(configuration, logger: logger)
        let running = Task { await client.run() }
        func stop() async {
            running.cancel()
            if await !waitForEnd(of: running, within: .seconds(30)) {
                FileHandle.standardError.write(Data("warning: a test database's pool did not stop within 30 s of its cancellation; left behind\n".utf8))
            }
        }
        do {
            let result = try await body(client)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    /// The shared server (for tests of the server's own URL or tools).
    public static func server() async throws -> ManagedPostgres {
        try await SharedServer.shared.server()
    }

    static func drop(_ name: String, maintenance: PostgresClient.Configuration) async throws {
        try await DatabaseBootstrap.withClient(maintenance, logger: logger) { client in
            try await client.fetch(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(DatabaseBootstrap.quoteIdentifier(name)) WITH (FORCE)"),
                logger: logger)
        }
    }
}

/// Starts the test server once per process and stops it when the process exits.
actor SharedServer {
    static let shared = SharedServer()
    static let migratedTemplate = "oms_template_migrated"
    static let sampleTemplate = "oms_template_sample"

    private var starting: Task<ManagedPostgres, any Error>?

    func server() async throws -> ManagedPostgres {
        if let starting { return try await starting.value }
        let task = Task { try await Self.start() }
        starting = task
        return try await task.value
    }

    private static func start() async throws -> ManagedPostgres {
        let logger = TestDatabase.logger
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oms-test-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        let server = ManagedPostgres(
            directory: directory, installation: try PostgresInstallation.locate(),
            // At the suite's peak the server takes seconds to accept a connection: give it a minute
            // (the pool itself would keep trying that long), so a busy moment is not an unreachable database.
            // 1,000 connections: besides a few per test database, `oms serve` child processes (the fault
            // and TLS tests) each bring a pool of up to 20; at 400 the suite's busiest minute was refused
            // ("too many clients already").
            options: .init(unsafeFast: true, maxConnections: 1000, connectTimeout: .seconds(60)), logger: logger)
        guard case .started(let pid) = try await server.start() else {
            fatalError("the test server in \(directory) was already running")
        }
        ServerCleanup.register(pid: pid, directory: directory)

        let maintenance = try server.clientConfiguration(database: "postgres")
        try await DatabaseBootstrap.createDatabaseIfNeeded(migratedTemplate, maintenance: maintenance, logger: logger)
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(database: migratedTemplate), logger: logger) {
            try await MigrationRunner.bundled(logger: logger).migrate($0)
        }
        try await DatabaseBootstrap.createDatabaseIfNeeded(
            sampleTemplate, template: migratedTemplate, maintenance: maintenance, logger: logger)
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(database: sampleTemplate), logger: logger) {
            try await SampleNetwork.load(into: $0, logger: logger)
        }
        return server
    }
}

/// Stops the test server at process exit (fast shutdown, then reap) and removes its files.
enum ServerCleanup {
    nonisolated(unsafe) static var pid: pid_t = 0
    nonisolated(unsafe) static var directory: [CChar] = []

    static func register(pid: pid_t, directory: String) {
        Self.pid = pid
        Self.directory = Array(directory.utf8CString)
        atexit {
            guard ServerCleanup.pid > 0 else { return }
            kill(ServerCleanup.pid, SIGINT)
            var status: Int32 = 0
            waitpid(ServerCleanup.pid, &status, 0)
            let path = String(decoding: ServerCleanup.directory.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

extension TestDatabase {
    /// Runs `body` with a PostgreSQL cluster of its own (not the shared test server), for tests that
    /// stop, restart or reconfigure a server; stopped and removed afterwards, also when `body` throws.
    /// `durable`: the settings of a real cluster (fsync, synchronous commit), for tests that crash
    /// the server and count what survived; else the suite's fast, unsafe ones.
    public static func withPrivateServer<Result: Sendable>(
        durable: Bool = false,
        _ body: @Sendable (ManagedPostgres) async throws -> Result
    ) async throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-own-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // As root the server runs as user postgres, which must reach the folder.
        chmod(folder, 0o755)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let server = ManagedPostgres(
            directory: folder, installation: try PostgresInstallation.locate(), options: .init(unsafeFast: !durable), logger: logger)
        _ = try await server.start()
        do {
            let result = try await body(server)
            _ = try? await server.stop()
            return result
        } catch {
            _ = try? await server.stop()
            throw error
        }
    }
}
