import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import OMSAPI
import OMSDomain
import OMSStore
import OpenAPIHummingbird
import OpenAPIRuntime
import PostgresNIO

/// Builds the HTTP application: the database pool, the live-event hub, the database gate, the
/// engine's sweeper (deferred roll-ups), the partition keeper and the intake's correlators (feed
/// messages acknowledged before they are applied) run as its services, migrations run before the server accepts requests (or, when the
/// database cannot be used then, as soon as it can: the service starts anyway), routes come
/// from `buildRouter`. Give the client `metrics.poolLogger(wrapping:)` as its background
/// logger for `/metrics` to count the pool's connections in use, and `watch.poolLogger(wrapping:)`
/// for the gate to see the pool failing (`DatabaseWatch`).
///
/// With `tls` (or, without it, `settings.tls`, whose files are then read here and may be refused
/// with a `TLSFilesError`) the server speaks HTTPS only, each new connection with the certificate
/// current when it is accepted (`TLSCertificates.reload()`).
public func buildApplication(
    client: PostgresClient,
    settings: ServerSettings,
    logger: Logger,
    metrics: ServiceMetrics = ServiceMetrics(),
    watch: DatabaseWatch? = nil,
    tls: TLSCertificates? = nil,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let migrations = try MigrationRunner.bundled(logger: logger)
    let gate = DatabaseGate(
        client: client, watch: watch, migrations: settings.migrateOnStart ? migrations : nil,
        probeTimeout: .milliseconds(Int(settings.healthProbeTimeout * 1000)), logger: logger)
    let hub = LiveEventHub(
        client: client, logger: logger,
        keyCheck: KeyCheck(
            store: APIKeyStore(client: client, logger: logger), gate: gate, limiter: FailedKeyLimiter(settings: settings.failedKeyLimit)),
        bufferLimit: settings.streamBufferEvents)
    let intakeWakeUp = IntakeWakeUp()
    let intakeApplications = IntakeApplications()
    let router = try buildRouter(
        client: client, hub: hub, settings: settings, logger: logger, metrics: metrics, intakeWakeUp: intakeWakeUp,
        intakeApplications: intakeApplications)
    let http1 = HTTP1Channel.Configuration(idleTimeout: .milliseconds(Int64(settings.idleTimeout * 1000)))
    let certificates = try tls ?? settings.tls.map { files throws(TLSFilesError) in try TLSCertificates(files: files, logger: logger) }
    var app = Application(
        router: router,
        server: certificates.map { .http1(configuration: http1, tls: $0) } ?? .http1(configuration: http1),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "oms"),
        services: [
            client, hub, gate, EngineSweeper(sweep: EngineSweep(client: client, logger: logger), gate: gate, logger: logger),
            PartitionKeeper(client: client, gate: gate, logger: logger),
            IntakeCorrelator(
                intake: FeedIntake(client: client, logger: logger), gate: gate, metrics: metrics, wakeUp: intakeWakeUp,
                applications: intakeApplications, logger: logger),
        ],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
        logger: logger
    )
    app.beforeServerStarts { try await gate.startUp() }
    return app
}

/// Every route of the API, each from its controller, with the middleware that all share
/// (request id, metrics, problem documents); the feed routes wake `intakeWakeUp` when they keep a
/// request in the feed intake; `router.routes` lists them (the OpenAPI test does). With
/// `intakeApplications` (announced by correlators running with the router), synchronous KAIFA and ONU
/// requests are applied through the intake, grouped (`ServerSettings.meterFeedApplication`).
public func buildRouter(
    client: PostgresClient, hub: LiveEventHub, settings: ServerSettings, logger: Logger,
    metrics: ServiceMetrics = ServiceMetrics(), intakeWakeUp: IntakeWakeUp = IntakeWakeUp(),
    intakeApplications: IntakeApplications? = nil
) throws -> Router<OMSRequestContext> {
    let migrations = try MigrationRunner.bundled(logger: logger)
    let router = Router(context: OMSRequestContext.self)
    router.middlewares.add(LogRequestsMiddleware(.debug))
    router.middlewares.add(RequestIDMiddleware())
    router.middlewares.add(MetricsMiddleware(metrics: metrics))
    router.middlewares.add(ProblemMiddleware())
    router.middlewares.add(RequestHygieneMiddleware())
    router.middlewares.add(SecurityHeadersMiddleware(tileURL: settings.console.tileURL))
    // The console's files (index.html at /), and Leaflet from the OS package: what no route
    // answers is looked for there.
    if let console = Bundle.module.url(forResource: "Console", withExtension: nil) {
        router.middlewares.add(FileMiddleware(console.path, searchForIndexHtml: true, logger: logger))
    }
    router.middlewares.add(FileMiddleware(settings.console.leafletDirectory, urlBasePath: "/vendor/leaflet", logger: logger))
    // The routes generated from openapi.json (reads, admin writes, health, readiness, metrics): each
    // operation's scope is the document's (`x-oms-scope`), bodies are read within the limits first.
    let keys = hub.keyCheck
    let documented = try DocumentedOperations.load()
    let meters = MeterQueries(client: client, logger: logger)
    let generated = router.group()
        .add(middleware: RequireScope(requirement: .operation(documented), keys: keys))
        .add(middleware: DocumentedQueryCheck(operations: documented))
        .add(middleware: BoundedBody(limits: BodyLimits(settings)))
        .add(middleware: PrebuiltJSONReads(meters: meters))
    let handler = APIHandler(
        meters: meters, outages: OutageQueries(client: client, logger: logger),
        actions: OutageActions(client: client, logger: logger),
        health: HealthCheck(
            inspector: SchemaInspector(client: client, logger: logger),
            expectedSchemaVersion: migrations.migrations.last?.version ?? 0,
            probeTimeout: settings.healthProbeTimeout, gate: keys.gate, intake: FeedIntake(client: client, logger: logger)),
        logger: logger)
    try handler.registerHandlers(
        on: generated, configuration: .init(dateTranscoder: APIDateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]))

    // The routes written by hand: the feeds (one body in four formats, read by OMSFeeds' decoders),
    // the live stream, the metrics (Prometheus' content type), the document. Each needs an API key
    // with its scope.
    let api = router.group("api/v1")
    let grouped = intakeApplications.flatMap { applications in
        settings.meterFeedApplication == .direct
            ? nil
            : GroupedApplication(
                applications: applications, limit: .milliseconds(Int(settings.groupedAnswerLimit * 1000)),
                adaptive: settings.meterFeedApplication == .adaptive)
    }
    FeedController(
        feed: .scada, ingestor: FeedIngestor(.scada, client: client, logger: logger), path: "scada/events",
        bodyLimits: BodyLimits(settings), scope: .ingestSCADA, keys: keys, metrics: metrics,
        intakeWakeUp: intakeWakeUp
    ).addRoutes(to: api)
    FeedController(
        feed: .onu, ingestor: FeedIngestor(.onu, client: client, logger: logger), path: "onu/events",
        bodyLimits: BodyLimits(settings), scope: .ingestONU, keys: keys, metrics: metrics,
        intakeWakeUp: intakeWakeUp, grouped: grouped
    ).addRoutes(to: api)
    FeedController(
        feed: .kaifa, ingestor: FeedIngestor(.kaifa, client: client, logger: logger), path: "kaifa/events",
        bodyLimits: BodyLimits(settings), scope: .ingestKAIFA, keys: keys, metrics: metrics,
        intakeWakeUp: intakeWakeUp, grouped: grouped
    ).addRoutes(to: api)
    FeedController(
        feed: .callCenter, ingestor: FeedIngestor(.callCenter, client: client, logger: logger),
        path: "callcenter/tickets", bodyLimits: BodyLimits(settings), scope: .ingestCallCenter, keys: keys, metrics: metrics,
        intakeWakeUp: intakeWakeUp
    ).addRoutes(to: api)
    ConsoleController(
        store: ConsoleStore(client: client, logger: logger), keys: keys, settings: settings.console, metrics: metrics
    ).addRoutes(to: api)
    StreamController(hub: hub, keys: keys, closeGrace: .milliseconds(Int(settings.streamCloseGrace * 1000))).addRoutes(to: api)
    router.group("metrics").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
        let text = try await metrics.exposition(client: client, logger: logger)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
    OpenAPIController(keys: keys).addRoutes(to: router)
    return router
}
