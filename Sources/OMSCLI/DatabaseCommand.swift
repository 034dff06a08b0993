import ArgumentParser
import OMSStore

/// `oms db start|stop|status|url`: manage the private local PostgreSQL cluster.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the private local PostgreSQL cluster (used when no --database-url is given).",
        subcommands: [Start.self, Stop.self, Status.self, URL.self]
    )

    /// `oms db start`: start the cluster and leave it running.
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the managed cluster (initialising it if needed) and leave it running.")

        @OptionGroup var database: DatabaseOptions

        @Option(name: .customLong("tcp-address"), help: "Also listen on TCP at this address (e.g. 127.0.0.1).")
        var tcpAddress: String?

        func run() async throws {
            let logger = database.makeLogger()
            let server = try database.managedServer(logger: logger, options: .init(tcpListenAddress: tcpAddress))
            switch try await server.start() {
            case .started(let pid): print("started (pid \(pid))")
            case .alreadyRunning(let pid): print("already running (pid \(pid))")
            }
            print(try server.connectionURL())
        }
    }

    /// `oms db stop`: stop the cluster.
    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the managed cluster.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let server = try database.managedServer(logger: database.makeLogger())
            print(try await server.stop() ? "stopped" : "not running")
        }
    }

    /// `oms db status`: whether the cluster exists and runs (exit 3 when it does not run, like pg_ctl).
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show whether the managed cluster runs (exit status 3 when it does not).")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let server = try database.managedServer(logger: database.makeLogger())
            let status = try server.status()
            switch status {
            case .notInitialized:
                print("not initialised (\(server.directory))")
            case .stopped:
                print("stopped")
            case .stalePidFile(let pid):
                print("stopped (stale pid file of pid \(pid); the next start recovers it)")
            case .running(let pid):
                print("running (pid \(pid))")
            }
            if let layout = try server.layout() {
                print("data    \(layout.dataDirectory)")
                print("socket  \(layout.socketPath)")
                print("log     \(layout.logFile)")
                print("url     \(try server.connectionURL())")
            }
            if case .running = status { return }
            throw ExitCode(3)
        }
    }

    /// `oms db url`: print the connection URL, starting the cluster if needed.
    struct URL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the managed cluster's URL, starting it if it is not running: psql \"$(oms db url)\"."
        )

        @OptionGroup var database: DatabaseOptions

        @Option(name: .customLong("database"), help: "Database inside the cluster (oms_demo for the demo's data).")
        var databaseName: String = ManagedPostgres.databaseName

        func run() async throws {
            let server = try database.managedServer(logger: database.makeLogger())
            _ = try await server.start()
            print(try server.connectionURL(database: databaseName))
        }
    }
}
