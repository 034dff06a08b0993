import Hummingbird
import Logging
import OMSStore
import PostgresNIO

/// How `oms serve` listens.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Apply pending migrations before accepting requests.
    public var migrateOnStart: Bool

    public init(host: String = "127.0.0.1", port: Int = 8080, migrateOnStart: Bool = true) {
        self.host = host
        self.port = port
        self.migrateOnStart = migrateOnStart
    }
}

/// Builds the HTTP application: the database pool runs as one of its services,
/// migrations run before the server accepts requests, routes are mounted from
/// their controllers.
public func buildApplication(
    client: PostgresClient,
    settings: ServerSettings,
    logger: Logger
) throws -> some ApplicationProtocol {
    let migrations = try MigrationRunner.bundled(logger: logger)
    let router = Router()
    router.middlewares.add(LogRequestsMiddleware(.debug))
    HealthController(
        inspector: SchemaInspector(client: client, logger: logger),
        expectedSchemaVersion: migrations.migrations.last?.version ?? 0
    ).addRoutes(to: router)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "oms"),
        services: [client],
        logger: logger
    )
    if settings.migrateOnStart {
        app.beforeServerStarts {
            let summary = try await migrations.migrate(client)
            logger.info("schema ready", metadata: [
                "version": "\(summary.schemaVersion)", "applied": "\(summary.applied.count)",
            ])
        }
    }
    return app
}
