import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The service outlives its database: a server of its own is stopped and started under it.
@Suite("Recovery after a database restart", .serialized)
struct RecoveryTests {
    @Test("while the database is down /ready says 503 and /health 200; once it is back, requests succeed without a restart")
    func databaseRestart() async throws {
        try await TestDatabase.withPrivateServer { server in
            let configuration = try server.clientConfiguration()
            let key = try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
                _ = try await MigrationRunner.bundled(logger: TestDatabase.logger).migrate(client)
                return try await APIKeyStore(client: client, logger: TestDatabase.logger).create(scopes: [.read], name: "restart").key
            }
            let client = PostgresClient(configuration: configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(
                client: client, settings: ServerSettings(migrateOnStart: false, healthProbeTimeout: 5), logger: TestDatabase.logger)
            try await withRouterApp(app) { http in
                func status(_ uri: String) async throws -> HTTPResponse.Status {
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(key)"]) { $0.status }
                }
                #expect(try await status("/ready") == .ok)
                #expect(try await status("/api/v1/settings") == .ok)

                #expect(try await server.stop())
                #expect(try await status("/ready") == .serviceUnavailable)
                #expect(try await status("/health") == .ok)

                _ = try await server.start()
                var settings = try await status("/api/v1/settings")
                let deadline = ContinuousClock.now + .seconds(30)
                while settings != .ok && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(250))
                    settings = try await status("/api/v1/settings")
                }
                #expect(settings == .ok)
                // /ready follows within seconds (a check begun while the database was down may answer first).
                var ready = try await status("/ready")
                while ready != .ok && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(250))
                    ready = try await status("/ready")
                }
                #expect(ready == .ok)
            }
        }
    }
}
