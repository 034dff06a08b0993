import Hummingbird
import HummingbirdTesting
import OMSHTTP
import OMSTestSupport
import PostgresNIO

/// Runs `body` against the application on a test database (router test mode: no socket).
func withApp<Value: Sendable>(
    _ database: TestDatabase.Handle, settings: ServerSettings = ServerSettings(migrateOnStart: false),
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value
) async throws -> Value {
    let metrics = ServiceMetrics()
    let client = PostgresClient(configuration: database.configuration, backgroundLogger: metrics.poolLogger(wrapping: TestDatabase.logger))
    let app = try buildApplication(client: client, settings: settings, logger: TestDatabase.logger, metrics: metrics)
    return try await withRouterApp(app, body)
}
