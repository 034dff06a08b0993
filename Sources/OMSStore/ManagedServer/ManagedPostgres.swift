import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded default: a private PostgreSQL cluster that `oms` initialises,
/// starts and stops itself when no database URL is given.
///
/// The cluster lives in `directory` (`.oms/postgres` by default) and listens only
/// on a Unix socket (TCP only when asked). Where that folder cannot work, the
/// cluster's files go to a folder of their own under the system temp directory,
/// recorded in `directory/cluster.json` so every later command finds them:
/// - as root, the server runs as `postgres` (or `nobody`), which must be able to
///   reach the folder (a checkout under /root is not reachable);
/// - a socket path must stay under 108 bytes.
public struct ManagedPostgres: Sendable {
    /// Where the cluster's files are, as recorded in `cluster.json`.
    public struct Layout: Codable, Sendable, Equatable {
        /// PGDATA.
        public var dataDirectory: String
        /// The folder holding the Unix socket.
        public var socketDirectory: String
        /// The port, which also names the socket file (`.s.PGSQL.<port>`).
        public var port: Int
        /// The server's log file.
        public var logFile: String

        /// The socket file PostgresNIO connects to.
        public var socketPath: String { "\(socketDirectory)/.s.PGSQL.\(port)" }
    }

    /// Whether the cluster exists and runs.
    public enum Status: Sendable, Equatable {
        case notInitialized
        case stopped
        case running(pid: Int32)
        /// A pid file left by a server that is gone (a crash); `start` recovers it.
        case stalePidFile(pid: Int32)
    }

    /// How `start` found the server.
    public enum StartOutcome: Sendable, Equatable {
        /// This call started it; the caller should stop it when done.
        case started(pid: Int32)
        /// It was already running (e.g. `oms db start`); leave it running.
        case alreadyRunning(pid: Int32)
    }

    /// Server options.
    public struct Options: Sendable {
        /// Trade durability for speed (tests): `initdb --no-sync`, `fsync=off`.
        public var unsafeFast = false
        /// Also listen on TCP at this address (e.g. "127.0.0.1"); nil: Unix socket only.
        public var tcpListenAddress: String?
        /// Seconds to wait for the server to accept connections.
        public var startTimeout: Double = 60
        /// `max_connections`, when the default (100) is not enough (the test suite runs many pools at once).
        public var maxConnections: Int?
        /// How long a client configuration (`clientConfiguration`) waits for a connection; nil:
        /// PostgresNIO's default (10 s). The test suite's server, shared by hundreds of tests on two
        /// cores, gives its clients longer.
        public var connectTimeout: Duration?

        public init(unsafeFast: Bool = false, tcpListenAddress: String? = nil, maxConnections: Int? = nil,
                    connectTimeout: Duration? = nil) {
            self.unsafeFast = unsafeFast
            self.tcpListenAddress = tcpListenAddress
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
        }
    }

    /// The database `oms` uses inside the cluster.
    public static let databaseName = "oms"
    /// The cluster's superuser (`initdb -U`).
    public static let superuser = "postgres"
    /// The default folder, relative to the working directory.
    public static let defaultDirectory = ".oms/postgres"

    /// The folder that identifies this cluster (absolute).
    public let directory: String
    public let installation: PostgresInstallation
    public var options: Options
    let logger: Logger

    public init(directory: String, installation: PostgresInstallation, options: Options = Options(), logger: Logger) {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.installation = installation
        self.options = options
        self.logger = logger
    }

    var layoutFile: String { "\(directory)/cluster.json" }

    // MARK: - State

    /// The recorded layout, or nil before the cluster has been initialised.
    public func layout() throws -> Layout? {
        guard let data = FileManager.default.contents(atPath: layoutFile) else { return nil }
        do {
            return try JSONDecoder().decode(Layout.self, from: data)
        } catch {
            throw ManagedPostgresError.unreadableState("\(layoutFile) is not a cluster description: \(error)")
        }
    }

    /// Whether the cluster exists, runs, or left a stale pid file.
    public func status() throws -> Status {
        guard let layout = try layout(), isInitialized(layout) else { return .notInitialized }
        guard let pid = Self.postmasterPID(dataDirectory: layout.dataDirectory) else { return .stopped }
        return Self.isOurServer(pid: pid) ? .running(pid: pid) : .stalePidFile(pid: pid)
    }

    func isInitialized(_ layout: Layout) -> Bool {
        FileManager.default.fileExists(atPath: "\(layout.dataDirectory)/PG_VERSION")
    }

    // MARK: - Initialise

    /// Creates the cluster unless it exists; returns its layout.
    @discardableResult
    public func initializeIfNeeded() async throws -> Layout {
        if let layout = try layout(), isInitialized(layout) { return layout }

        let serverUser = try ServerUser.forCurrentProcess()
        try createFolder(directory)
        var base = directory
        if let serverUser {
            try serverUser.takeOwnership(of: directory)
            if !serverUser.canWrite(directory) {
                base = try privateTemporaryFolder(kind: "data", owner: serverUser)
                logger.notice(
                    "user \(serverUser.name) cannot reach \(directory); keeping the cluster's files in \(base)")
            }
        }
        let port = Int.random(in: 20_000...60_000)
        var socketDirectory = base
        if "\(socketDirectory)/.s.PGSQL.\(port)".utf8.count > 100 {
            socketDirectory = try privateTemporaryFolder(kind: "sock", owner: serverUser)
        }
        let layout = Layout(
            dataDirectory: "\(base)/data", socketDirectory: socketDirectory, port: port,
            logFile: "\(directory)/server.log")

        if FileManager.default.fileExists(atPath: layout.dataDirectory) {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: layout.dataDirectory)) ?? []
            guard contents.isEmpty else {
                throw ManagedPostgresError.filesystem(
                    "\(layout.dataDirectory) exists but holds no PostgreSQL cluster; move it away or pass --data-dir")
            }
        }
        var arguments = [
            "-D", layout.dataDirectory, "-U", Self.superuser, "--auth=trust", "-E", "UTF8", "--locale=C",
        ]
        if options.unsafeFast { arguments.append("--no-sync") }
        logger.info("initialising the managed PostgreSQL cluster", metadata: ["data": "\(layout.dataDirectory)"])
        let result = try await runAsServerUser(installation.tool("initdb"), arguments, user: serverUser, workingDirectory: base)
        guard result.status == 0 else { throw ManagedPostgresError.initdbFailed(output: result.output) }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(layout).write(to: URL(fileURLWithPath: layoutFile))
        return layout
    }

    /// Settings of the managed cluster beyond PostgreSQL's defaults, sized for a registry of
    /// a million meters: a registry's indexes in memory (the default 128MB of shared buffers
    /// is far smaller), and checkpoints far enough apart that a bulk import or a storm does
    /// not write every page it touches twice (full-page images after each checkpoint,
    /// compressed). Measured on `oms bench import`.
    public static let serverSettings: [(String, String)] = [
        ("shared_buffers", "512MB"),
        ("max_wal_size", "4GB"),
        ("checkpoint_timeout", "15min"),
        ("wal_compression", "on"),
    ]

    // MARK: - Start and stop

    /// Starts the server unless it runs, waits until it accepts connections and
    /// creates the `oms` database. A pid file left by a crashed server is removed first.
    public func start() async throws -> StartOutcome {
        let layout = try await initializeIfNeeded()
        switch try status() {
        case .running(let pid):
            try await createDatabaseIfNeeded()
            return .alreadyRunning(pid: pid)
        case .stalePidFile(let pid):
            logger.notice("removing the stale pid file of a server that is gone", metadata: ["pid": "\(pid)"])
            try? FileManager.default.removeItem(atPath: "\(layout.dataDirectory)/postmaster.pid")
            try? FileManager.default.removeItem(atPath: "\(layout.socketPath).lock")
            try? FileManager.default.removeItem(atPath: layout.socketPath)
            // A killed server's helper processes may still be exiting and hold its shared memory;
            // PostgreSQL refuses to start until they are gone ("pre-existing shared memory block
            // ... is still in use"): try again for a while.
            let deadline = ContinuousClock.now + .seconds(15)
            while true {
                do {
                    return try await launch(layout)
                } catch ManagedPostgresError.startFailed(_, let logTail)
                    where logTail.contains("pre-existing shared memory block") && ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        case .stopped, .notInitialized:
            break
        }
        return try await launch(layout)
    }

    /// Starts the server process, waits until it accepts connections and creates the `oms` database.
    private func launch(_ layout: Layout) async throws -> StartOutcome {

        let serverUser = try ServerUser.forCurrentProcess()
        var arguments = [
            "-D", layout.dataDirectory, "-k", layout.socketDirectory, "-p", String(layout.port),
            "-c", "listen_addresses=\(options.tcpListenAddress ?? "")",
        ]
        for (name, value) in Self.serverSettings { arguments += ["-c", "\(name)=\(value)"] }
        if options.unsafeFast {
            arguments += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        }
        if let maxConnections = options.maxConnections {
            arguments += ["-c", "max_connections=\(maxConnections)"]
        }
        let (executable, fullArguments) = serverUser?.wrap(installation.tool("postgres"), arguments)
            ?? (installation.tool("postgres"), arguments)
        let logStart = (try? FileManager.default.attributesOfItem(atPath: layout.logFile)[.size] as? Int) ?? 0
        let pid = try ChildProcess.spawn(
            executable, fullArguments, outputFile: layout.logFile,
            workingDirectory: layout.dataDirectory, newProcessGroup: true)

        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(options.startTimeout * 1000)))
        while !Self.isReady(dataDirectory: layout.dataDirectory, pid: pid) {
            if let exitStatus = ChildProcess.exitStatusIfExited(pid) {
                throw ManagedPostgresError.startFailed(exitStatus: exitStatus, logTail: logTail(layout, from: logStart))
            }
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGQUIT)
                _ = ChildProcess.waitForExit(pid)
                throw ManagedPostgresError.startFailed(exitStatus: nil, logTail: logTail(layout, from: logStart))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        logger.info("managed PostgreSQL started", metadata: ["pid": "\(pid)", "socket": "\(layout.socketPath)"])
        try await createDatabaseIfNeeded()
        return .started(pid: pid)
    }

    /// Stops the server (fast shutdown: SIGINT; `immediately`: SIGQUIT, `pg_ctl stop -m immediate`,
    /// no checkpoint, crash recovery at the next start) and waits until it is gone.
    /// Returns false when it was not running.
    @discardableResult
    public func stop(timeout: Double = 60, immediately: Bool = false) async throws -> Bool {
        guard case .running(let pid) = try status() else { return false }
        kill(pid, immediately ? SIGQUIT : SIGINT)
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000)))
        var escalated = false
        while true {
            if ChildProcess.exitStatusIfExited(pid) != nil || !ChildProcess.isAlive(pid) { break }
            if ContinuousClock.now >= deadline {
                guard !escalated else { throw ManagedPostgresError.stopTimedOut(pid: pid) }
                kill(pid, SIGQUIT)  // immediate shutdown
                escalated = true
                continue
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        logger.info("managed PostgreSQL stopped", metadata: ["pid": "\(pid)"])
        return true
    }

    // MARK: - Connecting

    /// A libpq-style URL for psql and other tools: `psql "$(oms db url)"`.
    public func connectionURL(database: String = ManagedPostgres.databaseName) throws -> String {
        guard let layout = try layout() else { throw ManagedPostgresError.notInitialized(directory: directory) }
        return DatabaseURL.unixSocketURL(
            socketDirectory: layout.socketDirectory, port: layout.port, user: Self.superuser, database: database)
    }

    /// PostgresNIO configuration for one database of the cluster.
    public func clientConfiguration(database: String = ManagedPostgres.databaseName) throws -> PostgresClient.Configuration {
        guard let layout = try layout() else { throw ManagedPostgresError.notInitialized(directory: directory) }
        var configuration = PostgresClient.Configuration(
            unixSocketPath: layout.socketPath, username: Self.superuser, password: nil, database: database)
        if let connectTimeout = options.connectTimeout { configuration.options.connectTimeout = connectTimeout }
        return configuration
    }

    func createDatabaseIfNeeded() async throws {
        try await DatabaseBootstrap.createDatabaseIfNeeded(
            Self.databaseName, maintenance: try clientConfiguration(database: "postgres"), logger: logger)
    }

    // MARK: - Helpers

    static func postmasterPID(dataDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: "\(dataDirectory)/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return Int32(first.trimmingCharacters(in: .whitespaces))
    }

    /// Whether `pid` is a live postgres (not a reused pid, not a zombie).
    static func isOurServer(pid: Int32) -> Bool {
        guard ChildProcess.isAlive(pid) else { return false }
        guard let commandLine = ChildProcess.commandLine(of: pid) else { return true }
        return commandLine.contains("postgres")
    }

    /// Line 8 of postmaster.pid reads "ready" once the server accepts connections.
    static func isReady(dataDirectory: String, pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "\(dataDirectory)/postmaster.pid", encoding: .utf8) else {
            return false
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count >= 8 && Int32(lines[0]) == pid
            && lines[7].trimmingCharacters(in: .whitespaces) == "ready"
    }

    func runAsServerUser(_ executable: String, _ arguments: [String], user: ServerUser?, workingDirectory: String)
        async throws -> (status: Int32, output: String)
    {
        let (program, fullArguments) = user?.wrap(executable, arguments) ?? (executable, arguments)
        return try await ChildProcess.run(program, fullArguments, workingDirectory: workingDirectory)
    }

    func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ManagedPostgresError.filesystem("cannot create \(path): \(error.localizedDescription)")
        }
    }

    /// A short folder under the temp directory, unique to this cluster's directory.
    func privateTemporaryFolder(kind: String, owner: ServerUser?) throws -> String {
        let temporary = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = "\(temporary)/oms-\(kind)-\(Self.fingerprint(directory))"
        try createFolder(path)
        chmod(path, 0o700)
        if let owner { try owner.takeOwnership(of: path) }
        return path
    }

    /// 64-bit FNV-1a of a path, in hex: names a folder after the cluster it serves.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    func logTail(_ layout: Layout, from offset: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: layout.logFile) else { return "(no log)" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(offset))
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}
