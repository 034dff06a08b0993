import Foundation
import Logging
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The managed local cluster, each test in a folder of its own (these start
/// their own servers besides the shared test server, so they run one at a time).
@Suite("Managed local PostgreSQL", .serialized)
struct ManagedPostgresTests {
    let logger = TestDatabase.logger

    func withScratchFolder<T>(_ body: (String) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-mp-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o755)
        do {
            let result = try await body(folder)
            try? FileManager.default.removeItem(atPath: folder)
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    func makeServer(_ directory: String) throws -> ManagedPostgres {
        ManagedPostgres(
            directory: directory, installation: try PostgresInstallation.locate(),
            options: .init(unsafeFast: true), logger: logger)
    }

    func canQuery(_ server: ManagedPostgres) async throws -> Int {
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(), logger: logger) { client in
            try await client.scalar("SELECT 40 + 2", as: Int.self)
        }
    }

    @Test("start, status, stop and start again keep the data")
    func lifecycle() async throws {
        try await withScratchFolder { folder in
            let server = try makeServer("\(folder)/.oms/postgres")
            #expect(try server.status() == .notInitialized)
            guard case .started = try await server.start() else { Issue.record("not started"); return }
            guard case .running(let pid) = try server.status() else { Issue.record("not running"); return }
            #expect(try await canQuery(server) == 42)
            if case .alreadyRunning(let again) = try await server.start() {
                #expect(again == pid)
            } else {
                Issue.record("a second start must find the running server")
            }
            try await DatabaseBootstrap.withClient(try server.clientConfiguration(), logger: logger) { client in
                try await client.execute("CREATE TABLE kept (x int)")
                try await client.execute("INSERT INTO kept VALUES (7)")
            }
            #expect(try await server.stop())
            #expect(try server.status() == .stopped)
            #expect(try await server.stop() == false)

            guard case .started = try await server.start() else { Issue.record("not restarted"); return }
            let kept = try await DatabaseBootstrap.withClient(try server.clientConfiguration(), logger: logger) { client in
                try await client.scalar("SELECT x FROM kept", as: Int.self)
            }
            #expect(kept == 7)
            try await server.stop()
        }
    }

    @Test("a pid file left by a killed server is recovered")
    func stalePidFile() async throws {
        try await withScratchFolder { folder in
            let server = try makeServer("\(folder)/pg")
            guard case .started(let pid) = try await server.start() else { Issue.record("not started"); return }
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            let layout = try #require(try server.layout())
            // The server's helper processes notice the postmaster's death and exit.
            for _ in 0..<200 {
                guard (try? await ExternalCommand.run("/usr/bin/pgrep", ["-f", layout.dataDirectory]))?.status == 0 else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(FileManager.default.fileExists(atPath: "\(layout.dataDirectory)/postmaster.pid"))
            #expect(try server.status() == .stalePidFile(pid: pid))

            guard case .started = try await server.start() else { Issue.record("not recovered"); return }
            #expect(try await canQuery(server) == 42)
            try await server.stop()
        }
    }

    @Test("its URL works for psql and for DatabaseURL")
    func connectionURL() async throws {
        try await withScratchFolder { folder in
            let server = try makeServer("\(folder)/pg")
            _ = try await server.start()
            let url = try server.connectionURL()
            let parsed = try DatabaseURL(url)
            #expect(parsed.database == "oms")
            let viaURL = try await DatabaseBootstrap.withClient(parsed.clientConfiguration(), logger: logger) { client in
                try await client.scalar("SELECT current_database()", as: String.self)
            }
            #expect(viaURL == "oms")
            let psql = try await ExternalCommand.run(
                server.installation.tool("psql"), ["-X", "-A", "-t", "-d", url, "-c", "SELECT 6 * 7"], workingDirectory: "/")
            #expect(psql.status == 0)
            #expect(psql.output.trimmingCharacters(in: .whitespacesAndNewlines) == "42")
            try await server.stop()
        }
    }

    @Test("a folder too deep for a socket path gets a short socket folder")
    func longPath() async throws {
        try await withScratchFolder { folder in
            let deep = "\(folder)/" + Array(repeating: "a-rather-long-folder-name", count: 5).joined(separator: "/")
            let server = try makeServer(deep)
            _ = try await server.start()
            let layout = try #require(try server.layout())
            #expect(layout.socketPath.utf8.count <= 107)
            #expect(!layout.socketDirectory.hasPrefix(deep))
            #expect(try await canQuery(server) == 42)
            try await server.stop()
            try? FileManager.default.removeItem(atPath: layout.socketDirectory)
        }
    }

    @Test("as root, a folder the server user cannot reach falls back to a private temp folder",
          .enabled(if: geteuid() == 0))
    func unreachableFolder() async throws {
        try await withScratchFolder { folder in
            let locked = "\(folder)/locked"
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
            chmod(locked, 0o700)
            let server = try makeServer("\(locked)/project/.oms/postgres")
            _ = try await server.start()
            let layout = try #require(try server.layout())
            #expect(!layout.dataDirectory.hasPrefix(locked))
            #expect(try await canQuery(server) == 42)
            try await server.stop()
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: layout.dataDirectory).deletingLastPathComponent().path)
        }
    }

    @Test("the server programs are found")
    func installation() throws {
        let installation = try PostgresInstallation.locate()
        #expect(FileManager.default.isExecutableFile(atPath: installation.tool("initdb")))
        let explicit = try PostgresInstallation.locate(
            environment: ["PATH": "/nonexistent", "OMS_PG_BINDIR": installation.binDirectory], standardFolders: [])
        #expect(explicit == installation)
        #expect(throws: ManagedPostgresError.serverNotInstalled) {
            try PostgresInstallation.locate(environment: ["PATH": "/nonexistent"], standardFolders: [])
        }
        #expect(ManagedPostgresError.serverNotInstalled.description.contains("apt-get install postgresql"))
    }
}
