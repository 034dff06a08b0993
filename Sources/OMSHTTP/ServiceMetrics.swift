import Hummingbird
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
public final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
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
    func recordFeed(_ feed: String, applied: Int, duplicates: Int, rejected: Int, duration: Duration) {
        for (outcome, count) in [("applied", applied), ("duplicate", duplicates), ("rejected", rejected)] {
            let counter = registry.makeCounter(
                name: "oms_feed_events_total", labels: [("feed", feed), ("outcome", outcome)],
                help: "Feed events received, by feed and outcome (applied, duplicate, rejected).")
            if count > 0 { counter.increment(by: Int64(count)) }
        }
        registry.makeDurationHistogram(
            name: "oms_feed_request_duration_seconds", labels: [("feed", feed)], buckets: Self.latencyBuckets,
            help: "Time to decode, store and correlate one feed request (one event or a batch)."
        ).record(duration)
    }

    /// The text exposition, after reading the outage counts from the database.
    func exposition(client: PostgresClient, logger: Logger) async throws -> String {
        var counts: [String: Int] = [:]
        let rows = try await client.query(
            "SELECT status, count(*)::int FROM oms_outage_events GROUP BY status", logger: logger)
        for try await (status, count) in rows.decode((String, Int).self) { counts[status] = count }
        let statuses = try await client.query("SELECT unnest(oms_outage_statuses())", logger: logger)
        for try await status in statuses.decode(String.self) {
            registry.makeGauge(
                name: "oms_outages", labels: [("status", status)], help: "Outages in the database, by status."
            ).set(Double(counts[status] ?? 0))
        }
        return registry.emitToString()
    }
}

/// Records every request's route, status and latency in `ServiceMetrics`.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            method: request.method.rawValue, route: context.endpointPath ?? "unmatched",
            status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }
}
