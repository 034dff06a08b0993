import Hummingbird
import Logging
import OMSDomain
import OMSStore
import PostgresNIO

/// How `oms serve` listens.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Apply pending migrations before accepting requests.
    public var migrateOnStart: Bool
    /// The largest request body accepted (bytes); larger ones get 413.
    public var maximumBodySize: Int
    /// How long `GET /health` waits for the database before reporting it unreachable (seconds).
    public var healthProbeTimeout: Double

    public init(host: String = "127.0.0.1", port: Int = 8080, migrateOnStart: Bool = true,
                maximumBodySize: Int = 8 * 1024 * 1024, healthProbeTimeout: Double = 3) {
        self.host = host
        self.port = port
        self.migrateOnStart = migrateOnStart
        self.maximumBodySize = maximumBodySize
        self.healthProbeTimeout = healthProbeTimeout
    }
}

/// Builds the HTTP application: the database pool and the live-event hub run as its
/// services, migrations run before the server accepts requests, routes come from
/// `buildRouter`. Give the client `metrics.poolLogger(wrapping:)` as its background
/// logger for `/metrics` to count the pool's connections in use.
public func buildApplication(
    client: PostgresClient,
    settings: ServerSettings,
    logger: Logger,
    metrics: ServiceMetrics = ServiceMetrics(),
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let migrations = try MigrationRunner.bundled(logger: logger)
    let hub = LiveEventHub(client: client, logger: logger, keyCheck: KeyCheck(store: APIKeyStore(client: client, logger: logger)))
    let router = try buildRouter(client: client, hub: hub, settings: settings, logger: logger, metrics: metrics)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "oms"),
        services: [client, hub],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
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

/// Every route of the API, each from its controller, with the middleware that all share
/// (request id, metrics, problem documents); `router.routes` lists them (the OpenAPI test does).
public func buildRouter(
    client: PostgresClient, hub: LiveEventHub, settings: ServerSettings, logger: Logger,
    metrics: ServiceMetrics = ServiceMetrics()
) throws -> Router<BasicRequestContext> {
    let migrations = try MigrationRunner.bundled(logger: logger)
    let router = Router()
    router.middlewares.add(LogRequestsMiddleware(.debug))
    router.middlewares.add(RequestIDMiddleware())
    router.middlewares.add(MetricsMiddleware(metrics: metrics))
    router.middlewares.add(ProblemMiddleware())
    HealthController(
        inspector: SchemaInspector(client: client, logger: logger),
        expectedSchemaVersion: migrations.migrations.last?.version ?? 0,
        probeTimeout: settings.healthProbeTimeout
    ).addRoutes(to: router)
    // Every route under /api/v1 needs an API key with the route's scope (RequireScope).
    let api = router.group("api/v1")
    let keys = hub.keyCheck
    FeedController(
        feed: .scada, ingestor: FeedIngestor(.scada, client: client, logger: logger), path: "scada/events",
        maximumBodySize: settings.maximumBodySize, scope: .ingestSCADA, keys: keys, metrics: metrics
    ).addRoutes(to: api)
    FeedController(
        feed: .onu, ingestor: FeedIngestor(.onu, client: client, logger: logger), path: "onu/events",
        maximumBodySize: settings.maximumBodySize, scope: .ingestONU, keys: keys, metrics: metrics
    ).addRoutes(to: api)
    FeedController(
        feed: .kaifa, ingestor: FeedIngestor(.kaifa, client: client, logger: logger), path: "kaifa/events",
        maximumBodySize: settings.maximumBodySize, scope: .ingestKAIFA, keys: keys, metrics: metrics
    ).addRoutes(to: api)
    FeedController(
        feed: .callCenter, ingestor: FeedIngestor(.callCenter, client: client, logger: logger),
        path: "callcenter/tickets", maximumBodySize: settings.maximumBodySize, scope: .ingestCallCenter, keys: keys, metrics: metrics
    ).addRoutes(to: api)
    let meterQueries = MeterQueries(client: client, logger: logger)
    NetworkController(queries: meterQueries, keys: keys).addRoutes(to: api)
    let meters = MeterController(queries: meterQueries, keys: keys)
    meters.addRoutes(to: api)
    meters.addProximityRoute(to: api)
    OutageController(queries: OutageQueries(client: client, logger: logger), keys: keys).addRoutes(to: api)
    router.group("metrics").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
        let text = try await metrics.exposition(client: client, logger: logger)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
    StreamController(hub: hub, keys: keys).addRoutes(to: api)
    AdminController(queries: meterQueries, keys: keys, maximumBodySize: settings.maximumBodySize).addRoutes(to: api)

    OpenAPIController(keys: keys).addRoutes(to: router)
    return router
}
