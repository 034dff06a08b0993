import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The service and a database it cannot use (issue 13): it starts anyway, `/health` 200, `/ready`
/// 503 with the server's reason, every request that needs the database 503 with `Retry-After`
/// within seconds (before: a 66 s hang, then 500 `connectionCreationCircuitBreakerTripped`),
/// and it recovers (migrating first) without a restart once the database can be used.
///
/// The time limits are generous for a loaded 2-core machine; the gate answers at once when it
/// knows and checks after 2 s of waiting otherwise.
@Suite("a database the service cannot use", .serialized)
struct UnreachableDatabaseTests {
    static let limit = Duration.seconds(20)

    struct Ready: Decodable {
        var status: String
        var database: String
        var error: String?
    }

    /// An application as `oms serve` builds it: migrating on start, its pool watched.
    static func served(_ configuration: PostgresClient.Configuration, migrateOnStart: Bool = true) throws -> some ApplicationProtocol {
        let watch = DatabaseWatch(configuration: configuration)
        let client = PostgresClient(configuration: configuration, backgroundLogger: watch.poolLogger(wrapping: TestDatabase.logger))
        return try buildApplication(
            client: client, settings: ServerSettings(migrateOnStart: migrateOnStart, healthProbeTimeout: 30),
            logger: TestDatabase.logger, watch: watch)
    }

    /// (status, Retry-After, content type, seconds taken) of one request.
    static func timed(_ http: any TestClientProtocol, _ uri: String, key: String? = nil) async throws
        -> (status: HTTPResponse.Status, retryAfter: String?, contentType: String?, took: Duration, body: String)
    {
        let start = ContinuousClock.now
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await http.execute(uri: uri, method: .get, headers: headers) { response in
            (response.status, response.headers[.retryAfter], response.headers[.contentType], ContinuousClock.now - start,
             String(buffer: response.body))
        }
    }

    static func ready(_ http: any TestClientProtocol) async throws -> (HTTPResponse.Status, Ready) {
        try await http.execute(uri: "/ready", method: .get) { response in
            (response.status, try JSONDecoder().decode(Ready.self, from: Data(response.body.readableBytesView)))
        }
    }

    @Test("a database that does not exist: the service starts, /ready says why, requests 503 at once; created, it is migrated and served")
    func missingThenCreated() async throws {
        let server = try await TestDatabase.server()
        let name = "oms_t_later_\(UUID().uuidString.prefix(8).lowercased())"
        let app = try Self.served(try server.clientConfiguration(database: name))
        try await withRouterApp(app) { http in
            #expect(try await Self.timed(http, "/health").status == .ok)

            let (status, ready) = try await Self.ready(http)
            #expect(status == .serviceUnavailable)
            #expect(ready.database == "unreachable")
            #expect(ready.error?.contains("database \"\(name)\" does not exist") == true, "\(ready.error ?? "")")

            for uri in ["/api/v1/settings", "/api/v1/outages", "/metrics"] {
                let answer = try await Self.timed(http, uri, key: "oms_unknown-key-while-the-database-is-missing")
                #expect(answer.status == .serviceUnavailable, "\(uri): \(answer.status) \(answer.body)")
                #expect(answer.retryAfter == "5")
                #expect(answer.contentType == "application/problem+json")
                #expect(answer.took < .seconds(5), "\(uri) took \(answer.took)")
            }
            // A request without a key is still refused for that (no database needed to say so).
            #expect(try await Self.timed(http, "/api/v1/settings").status == .unauthorized)

            // The database appears: the service migrates it and serves, without a restart.
            try await DatabaseBootstrap.createDatabaseIfNeeded(
                name, maintenance: try server.clientConfiguration(database: "postgres"), logger: TestDatabase.logger)
            // Migrating a new database takes a minute and more on two busy cores: allow five.
            let deadline = ContinuousClock.now + .seconds(300)
            var now = try await Self.ready(http)
            while now.0 != .ok && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                now = try await Self.ready(http)
            }
            #expect(now.0 == .ok, "\(now.1)")
            let key = try await DatabaseBootstrap.withClient(try server.clientConfiguration(database: name), logger: TestDatabase.logger) {
                try await APIKeyStore(client: $0, logger: TestDatabase.logger).create(scopes: [.read], name: "later").key
            }
            #expect(try await Self.timed(http, "/api/v1/settings", key: key).status == .ok)
        }
        try await DatabaseBootstrap.withClient(try server.clientConfiguration(database: "postgres"), logger: TestDatabase.logger) { client in
            try await client.fetch(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: TestDatabase.logger)
        }
    }

    @Test("nothing listening at the URL's port: /ready says connection refused at host:port; requests 503 within seconds")
    func closedPort() async throws {
        let port = try closedTCPPort()
        var configuration = try DatabaseURL("postgres://postgres@127.0.0.1:\(port)/oms").clientConfiguration()
        configuration.options.connectTimeout = .seconds(5)
        let app = try Self.served(configuration)
        try await withRouterApp(app) { http in
            let (status, ready) = try await Self.ready(http)
            #expect(status == .serviceUnavailable)
            #expect(ready.error?.contains("connection refused at 127.0.0.1:\(port)") == true, "\(ready.error ?? "")")
            let answer = try await Self.timed(http, "/api/v1/meters/M10000001", key: "oms_not-a-key")
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.took < .seconds(5), "took \(answer.took)")
            #expect(try await Self.timed(http, "/health").status == .ok)
        }
    }

    @Test("the database stops under the service: remembered keys are not refused, every request 503s within seconds, /ready names why; back, it serves again")
    func stoppedUnderTheService() async throws {
        try await TestDatabase.withPrivateServer { server in
            let configuration = try server.clientConfiguration()
            let key = try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
                _ = try await MigrationRunner.bundled(logger: TestDatabase.logger).migrate(client)
                return try await APIKeyStore(client: client, logger: TestDatabase.logger).create(scopes: [.read], name: "stop").key
            }
            let app = try Self.served(configuration)
            try await withRouterApp(app) { http in
                #expect(try await Self.timed(http, "/api/v1/settings", key: key).status == .ok)
                #expect(try await server.stop())

                // The first request after the stop may wait for the gate's check: seconds, not a minute.
                let remembered = try await Self.timed(http, "/api/v1/settings", key: key)
                #expect(remembered.status == .serviceUnavailable, "\(remembered.body)")
                #expect(remembered.retryAfter == "5")
                #expect(remembered.took < Self.limit, "took \(remembered.took)")
                let unknown = try await Self.timed(http, "/api/v1/outages", key: "oms_unknown-key")
                #expect(unknown.status == .serviceUnavailable)
                #expect(unknown.took < Self.limit, "took \(unknown.took)")
                let (status, ready) = try await Self.ready(http)
                #expect(status == .serviceUnavailable)
                #expect(ready.database == "unreachable")
                #expect(ready.error?.isEmpty == false)
                #expect(try await Self.timed(http, "/health").status == .ok)

                _ = try await server.start()
                let deadline = ContinuousClock.now + .seconds(60)
                var answer = try await Self.timed(http, "/api/v1/settings", key: key)
                while answer.status != .ok && ContinuousClock.now < deadline {
                    #expect(answer.status == .serviceUnavailable, "while recovering: \(answer.status) \(answer.body)")
                    try await Task.sleep(for: .milliseconds(250))
                    answer = try await Self.timed(http, "/api/v1/settings", key: key)
                }
                #expect(answer.status == .ok)
                #expect(try await Self.ready(http).0 == .ok)
            }
        }
    }

    @Test("the service stops within seconds while its database is down (its services queue nothing in the pool)")
    func stopsWhileTheDatabaseIsDown() async throws {
        try await TestDatabase.withPrivateServer { server in
            let configuration = try server.clientConfiguration()
            try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
                _ = try await MigrationRunner.bundled(logger: TestDatabase.logger).migrate(client)
            }
            let app = try Self.served(configuration)
            let clock = ContinuousClock()
            let stopping = Mutex(clock.now)
            try await withRouterApp(app) { http in
                #expect(try await Self.timed(http, "/health").status == .ok)
                #expect(try await server.stop())
                // The gate learns it (the engine's sweeper ticks meanwhile, five times a second).
                #expect(try await Self.ready(http).0 == .serviceUnavailable)
                try await Task.sleep(for: .seconds(3))
                stopping.withLock { $0 = clock.now }
            }
            // Before: the sweeper's tick and its last sweep waited in the pool for a database
            // that was not there, and the service did not stop.
            let took = clock.now - stopping.withLock { $0 }
            #expect(took < Self.limit, "stopping took \(took)")
        }
    }
}
