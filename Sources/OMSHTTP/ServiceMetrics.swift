import Logging
import NIOCore
import OMSDomain
import OMSStore
import PostgresNIO
import Prometheus

/// The service's Prometheus metrics, served at `GET /metrics` (text format, scope `read`).
/// One registry per application (not the process-wide swift-metrics bootstrap), so that
/// every application, in tests too, counts only its own requests.
///
///   oms_http_requests_total{method, route, status}          requests answered
///   oms_http_request_duration_seconds{method, route}         their latency
///   oms_feed_events_total{feed, outcome}                     feed events applied, duplicate or rejected
///   oms_feed_request_duration_seconds{feed}                  a feed request's processing time
///   oms_outages{status}                                      outages by status (read from the database at each scrape)
///   oms_db_connections_open                                  the pool's open connections (see poolLogger)
///   oms_intake_events_applied_total{feed}, oms_intake_events_refused_total{feed}, oms_intake_lag_seconds,
///   oms_intake_backlog_events                                the feed intake (IntakeCorrelator)
public final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Feed events received per second (the console's storm summary).
    let eventRate = EventRate()
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    public init() {}

    /// Counts one answered request.
    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "oms_http_requests_total", labels: [("method", method), ("route", route), ("status", String(status))],
            help: "HTTP requests answered, by method, route template and status."
        ).increment()
        registry.makeDurationHistogram(
            name: "oms_http_request_duration_seconds", labels: [("method", method), ("route", route)],
            buckets: Self.latencyBuckets, help: "HTTP request latency, by method and route template."
        ).record(duration)
    }

    /// Counts a feed request's events by outcome, and its processing time.
    func recordFeed(_ feed: String, applied: Int, late: Int = 0, duplicates: Int, rejected: Int, duration: Duration) {
        recordFeedRequest(
            feed, [.applied: applied, .late: late, .duplicate: duplicates, .rejected: rejected], duration: duration)
    }

    /// Counts a feed request kept in the intake (`Prefer: respond-async`): its events accepted
    /// (applied later: `recordIntakeApplied`) or refused by their decoder, and its time.
    func recordFeedAccepted(_ feed: String, accepted: Int, rejected: Int, duration: Duration) {
        recordFeedRequest(feed, [.accepted: accepted, .rejected: rejected], duration: duration)
    }

    /// A feed request's events by outcome, and its time.
    private func recordFeedRequest(_ feed: String, _ counts: [FeedOutcome: Int], duration: Duration) {
        eventRate.record(counts.values.reduce(0, +))
        for (outcome, count) in counts {
            let counter = registry.makeCounter(
                name: "oms_feed_events_total", labels: [("feed", feed), ("outcome", outcome.rawValue)],
                help: "Feed events received, by feed and outcome (applied; late: stored, no status change applied; duplicate; rejected; accepted: kept in the feed intake).")
            if count > 0 { counter.increment(by: Int64(count)) }
        }
        registry.makeDurationHistogram(
            name: "oms_feed_request_duration_seconds", labels: [("feed", feed)], buckets: Self.latencyBuckets,
            help: "Time to decode, store and correlate one feed request (one event or a batch), or to keep it in the feed intake."
        ).record(duration)
    }

    /// Counts a synchronous meter-feed request by how it was applied: in the request (`direct`,
    /// alone in the instance) or through the feed intake (`intake`).
    func recordSynchronousPath(_ feed: String, direct: Bool) {
        registry.makeCounter(
            name: "oms_feed_synchronous_requests_total", labels: [("feed", feed), ("path", direct ? "direct" : "intake")],
            help: "Synchronous KAIFA and ONU requests, by how they were applied: in the request (direct: nothing else in hand) or through the feed intake (grouped)."
        ).increment()
    }

    /// Counts intake rows a correlator applied: their events, those refused then, and how long
    /// each waited from its acknowledgement to its application (the lag).
    public func recordIntakeApplied(_ applied: [FeedIntake.Applied]) {
        for row in applied {
            registry.makeCounter(
                name: "oms_intake_events_applied_total", labels: [("feed", row.feed)],
                help: "Events applied from the feed intake (acknowledged before), by feed."
            ).increment(by: Int64(row.events))
            if row.refused > 0 {
                registry.makeCounter(
                    name: "oms_intake_events_refused_total", labels: [("feed", row.feed)],
                    help: "Events of the feed intake the database refused when applying them (oms_feed_intake_refused)."
                ).increment(by: Int64(row.refused))
            }
            registry.makeDurationHistogram(
                name: "oms_intake_lag_seconds", labels: [], buckets: Self.lagBuckets,
                help: "From a request's acknowledgement (its intake row) to its messages applied."
            ).record(row.waited)
        }
    }

    /// Buckets of the intake's lag.
    static let lagBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
    ]

    /// The text exposition, after reading the outage counts from the database.
    func exposition(client: PostgresClient, logger: Logger) async throws -> String {
        let backlog = try await FeedIntake(client: client, logger: logger).backlog()
        registry.makeGauge(
            name: "oms_intake_backlog_events", labels: [], help: "Events acknowledged and not applied yet (the feed intake)."
        ).set(Double(backlog.events))
        for (status, count) in try await OutageQueries(client: client, logger: logger).countsByStatus() {
            registry.makeGauge(
                name: "oms_outages", labels: [("status", status)], help: "Outages in the database, by status."
            ).set(Double(count))
        }
        return registry.emitToString()
    }
}

extension ServiceMetrics {
    /// A logger for a `PostgresClient` (its `backgroundLogger`) that also counts the pool's open
    /// connections into `oms_db_connections_open`. PostgresNIO (1.33) reports its pool only as log
    /// lines — "Creating new connection" (debug), "Connection creation failed" (info), "Connection
    /// closed" (debug) — and not which connections are leased; so this logger lets debug lines
    /// through to a handler that counts those and passes on to `logger` only what `logger`'s own
    /// level admits. (If a PostgresNIO release words them otherwise, `MetricsTests` fails.)
    public func poolLogger(wrapping logger: Logger) -> Logger {
        let gauge = registry.makeGauge(
            name: "oms_db_connections_open", labels: [], help: "Database connections the pool holds open (or is opening) now.")
        var counting = Logger(label: logger.label) { _ in
            PoolConnectionsLogHandler(inner: logger, open: gauge)
        }
        counting.logLevel = min(logger.logLevel, .debug)
        return counting
    }
}

/// Counts the pool's connections opened and closed; passes every line `inner` would write on to it.
struct PoolConnectionsLogHandler: LogHandler {
    let inner: Logger
    let open: Gauge
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        switch "\(event.message)" {
        case "Creating new connection": open.increment()
        case "Connection creation failed", "Connection closed": open.decrement()
        default: break
        }
        guard event.level >= inner.logLevel else { return }
        inner.log(
            level: event.level, event.message, metadata: metadata.merging(event.metadata ?? [:]) { _, new in new },
            source: event.source, file: event.file, function: event.function, line: event.line)
    }
}
