import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("GET /health and GET /ready")
struct HealthTests {
    struct Health: Decodable {
        var status: String
        var database: String
        var schemaVersion: Int?
        var expectedSchemaVersion: Int
        var error: String?

        enum CodingKeys: String, CodingKey {
            case status, database, error
            case schemaVersion = "schema_version", expectedSchemaVersion = "expected_schema_version"
        }
    }

    /// `GET /ready` of a fresh application (and `GET /health`, which must answer 200 whatever the database). The probe waits `probeTimeout` seconds: generous by
    /// default, as a loaded test machine can take seconds to open a connection.
    func health(configuration: PostgresClient.Configuration, migrateOnStart: Bool, probeTimeout: Double = 30)
        async throws -> (HTTPResponse.Status, Health)
    {
        let client = PostgresClient(configuration: configuration, backgroundLogger: TestDatabase.logger)
        let app = try buildApplication(
            client: client, settings: ServerSettings(migrateOnStart: migrateOnStart, healthProbeTimeout: probeTimeout),
            logger: TestDatabase.logger)
        return try await withRouterApp(app) { http in
            let alive = try await http.execute(uri: "/health", method: .get) { response in
                (response.status, String(buffer: response.body))
            }
            #expect(alive.0 == .ok)
            #expect(alive.1 == #"{"status":"alive"}"#)
            return try await http.execute(uri: "/ready", method: .get) { response in
                (response.status, try JSONDecoder().decode(Health.self, from: Data(response.body.readableBytesView)))
            }
        }
    }

    @Test("migrates on start, then reports the database reachable at the current schema version")
    func healthy() async throws {
        let expected = try Migration.bundled().last?.version
        try await TestDatabase.with(.empty) { database in
            let (status, body) = try await health(configuration: database.configuration, migrateOnStart: true)
            #expect(status == .ok)
            #expect(body.status == "ok")
            #expect(body.database == "reachable")
            #expect(body.schemaVersion == expected)
            #expect(body.expectedSchemaVersion == expected)
        }
    }

    @Test("a database that was never migrated is reachable but degraded")
    func notMigrated() async throws {
        try await TestDatabase.with(.empty) { database in
            let (status, body) = try await health(configuration: database.configuration, migrateOnStart: false)
            #expect(status == .serviceUnavailable)
            #expect(body.status == "degraded")
            #expect(body.database == "reachable")
            #expect(body.schemaVersion == nil)
            #expect(body.error?.contains("oms migrate") == true)
        }
    }

    @Test("an unreachable database is reported, the process still answers")
    func unreachable() async throws {
        let configuration = PostgresClient.Configuration(
            unixSocketPath: "/tmp/oms-no-such-server/.s.PGSQL.1", username: "postgres", password: nil, database: "oms")
        let (status, body) = try await health(configuration: configuration, migrateOnStart: false, probeTimeout: 3)
        #expect(status == .serviceUnavailable)
        #expect(body.database == "unreachable")
        #expect(body.error != nil)
    }
}
