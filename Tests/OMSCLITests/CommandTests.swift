import ArgumentParser
import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

/// The `oms` commands against real PostgreSQL: a managed cluster in a scratch
/// folder, or a test database by --database-url.
@Suite("oms commands", .serialized)
struct CommandTests: RunsOMSCommands {
    func managed(_ folder: String) throws -> ManagedPostgres {
        ManagedPostgres(directory: folder, installation: try PostgresInstallation.locate(), logger: TestDatabase.logger)
    }

    func schemaVersion(_ server: ManagedPostgres) async throws -> Int? {
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(), logger: TestDatabase.logger) {
            try await SchemaInspector(client: $0, logger: TestDatabase.logger).schemaVersion()
        }
    }

    @Test("oms migrate with no URL creates the cluster, migrates, and stops the server it started")
    func migrateManaged() async throws {
        try await withScratchFolder { folder in
            let dataDir = "\(folder)/.oms/postgres"
            try await run(["migrate", "--data-dir", dataDir])
            let server = try managed(dataDir)
            #expect(try server.status() == .stopped)

            // Started explicitly, it is left running by later commands.
            try await run(["db", "start", "--data-dir", dataDir])
            guard case .running = try server.status() else { Issue.record("db start did not start"); return }
            #expect(try await schemaVersion(server) == (try Migration.bundled().last?.version))
            try await run(["migrate", "--data-dir", dataDir])
            guard case .running = try server.status() else { Issue.record("migrate stopped a server it did not start"); return }
            await #expect(throws: ExitCode(1)) { try await run(["validate", "--data-dir", dataDir]) }
            try await run(["db", "stop", "--data-dir", dataDir])
            #expect(try server.status() == .stopped)
            await #expect(throws: ExitCode(3)) { try await run(["db", "status", "--data-dir", dataDir]) }
        }
    }

    @Test("oms db url starts the cluster so that psql can use the URL at once")
    func databaseURL() async throws {
        try await withScratchFolder { folder in
            let dataDir = "\(folder)/pg"
            try await run(["db", "url", "--data-dir", dataDir])
            let server = try managed(dataDir)
            guard case .running = try server.status() else { Issue.record("db url did not start the server"); return }
            let psql = try await ExternalCommand.run(
                server.installation.tool("psql"), ["-X", "-A", "-t", "-d", try server.connectionURL(), "-c", "SELECT 1"],
                workingDirectory: "/")
            #expect(psql.status == 0)
            try await run(["db", "stop", "--data-dir", dataDir])
        }
    }

    @Test("oms migrate --database-url twice leaves the same schema")
    func migrateByURL() async throws {
        try await TestDatabase.with(.empty) { database in
            let server = try await TestDatabase.server()
            let url = try server.connectionURL(database: database.name)
            try await run(["migrate", "--database-url", url])
            let first = try await database.client.schemaFingerprint()
            try await run(["migrate", "--database-url", url])
            #expect(try await database.client.schemaFingerprint() == first)
            #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_schema_migrations", as: Int.self)
                    == (try Migration.bundled().count))
        }
    }

    @Test("oms validate passes on a loaded registry and fails on an empty one")
    func validate() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let url = try await TestDatabase.server().connectionURL(database: database.name)
            try await run(["validate", "--database-url", url])
        }
        try await TestDatabase.with(.migrated) { database in
            let url = try await TestDatabase.server().connectionURL(database: database.name)
            await #expect(throws: ExitCode(1)) { try await run(["validate", "--database-url", url]) }
        }
    }

    @Test("oms demo --no-serve loads the sample network into its own database, again and again")
    func demo() async throws {
        try await withScratchFolder { folder in
            let dataDir = "\(folder)/pg"
            try await run(["demo", "--no-serve", "--data-dir", dataDir])
            try await run(["demo", "--no-serve", "--data-dir", dataDir])
            let server = try managed(dataDir)
            #expect(try server.status() == .stopped)
            _ = try await server.start()
            let meters = try await DatabaseBootstrap.withClient(
                try server.clientConfiguration(database: DemoCommand.databaseName), logger: TestDatabase.logger
            ) { client in
                try await client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self)
            }
            #expect(meters == SampleNetwork.meterCount)
            let outage = try await DatabaseBootstrap.withClient(
                try server.clientConfiguration(database: DemoCommand.databaseName), logger: TestDatabase.logger
            ) { client in
                try await client.scalar(
                    "SELECT feeder_code || ' ' || status || ' ' || array_to_string(source_types, '+') FROM oms_active_outages",
                    as: String.self)
            }
            #expect(outage == "FD002 confirmed call_center+kaifa+onu+scada")
            try await server.stop()
        }
    }

    @Test("oms ingest scada applies a file's good events and exits 1 when one is refused")
    func ingestSCADA() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.sampleNetwork) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let good = "\(folder)/good.ndjson"
                try """
                    {"eventId": "F-1", "eventType": "breaker_trip", "substationId": "SS002", "feederId": "FD004", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}
                    {"eventId": "F-2", "eventType": "reclose", "substationId": "SS002", "feederId": "FD004", "timestamp": "2025-09-30T10:00:01Z"}
                    """.write(toFile: good, atomically: true, encoding: .utf8)
                try await run(["ingest", "scada", good, "--database-url", url])
                let bad = "\(folder)/bad.json"
                try #"[{"eventId": "F-3", "eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T11:00:00Z"}, {"eventType": "trip"}]"#
                    .write(toFile: bad, atomically: true, encoding: .utf8)
                await #expect(throws: ExitCode(1)) { try await run(["ingest", "scada", bad, "--database-url", url]) }
                let stored = try await database.client.scalar(
                    "SELECT string_agg(source_event_id || ':' || (meters_checked_at IS NOT NULL)::text, ',' ORDER BY source_event_id) FROM scada_events",
                    as: String.self)
                #expect(stored == "F-1:true,F-2:false,F-3:true")
            }
        }
    }

    @Test("oms ingest onu syncs the meters of a file's ONU events")
    func ingestONU() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.sampleNetwork) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let file = "\(folder)/onu.json"
                let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
                try #"[{"type": "ONU_LastGaspAlert", "eventId": "C-1", "onuId": "ONU-000001", "timestamp": "\#(now)"}]"#
                    .write(toFile: file, atomically: true, encoding: .utf8)
                try await run(["ingest", "onu", file, "--database-url", url])
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_meters WHERE onu_id = 'ONU-000001' AND power_status = 'off'", as: Int.self) == 2)
            }
        }
    }

    @Test("a bad --database-url is refused with the reason")
    func badURL() async throws {
        await #expect {
            try await run(["migrate", "--database-url", "mysql://root@localhost/oms"])
        } throws: { error in
            (error as? DatabaseURLError)?.description.contains("expected postgres://") == true
        }
    }
}
