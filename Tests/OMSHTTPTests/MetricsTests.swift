import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("GET /metrics")
struct MetricsTests {
    @Test("Prometheus text: requests by route and status, feed events by outcome, outages by status; needs a key")
    func metrics() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let ingest = try await bearer(database, [.ingestSCADA])
            let read = try await bearer(database, [.read])
            try await withApp(database) { http in
                let trip = #"{"eventId": "M-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}"#
                for _ in 0..<2 {
                    _ = try await http.execute(
                        uri: "/api/v1/scada/events", method: .post, headers: [.authorization: ingest, .contentType: "application/json"],
                        body: ByteBuffer(string: trip)) { $0.status }
                }
                _ = try await http.execute(
                    uri: "/api/v1/scada/events", method: .post, headers: [.authorization: ingest, .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"eventType": "trip"}"#)) { $0.status }
                let unauthorized = try await http.execute(uri: "/metrics", method: .get) { $0.status }
                #expect(unauthorized == .unauthorized)
                let (status, contentType, text) = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: read]) {
                    ($0.status, $0.headers[.contentType], String(buffer: $0.body))
                }
                #expect(status == .ok)
                #expect(contentType?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(text.contains(#"oms_feed_events_total{feed="scada",outcome="applied"} 1"#))
                #expect(text.contains(#"oms_feed_events_total{feed="scada",outcome="duplicate"} 1"#))
                #expect(text.contains(#"oms_feed_events_total{feed="scada",outcome="rejected"} 1"#))
                #expect(text.contains(#"oms_http_requests_total{method="POST",route="/api/v1/scada/events",status="201"} 1"#))
                #expect(text.contains(#"oms_http_requests_total{method="POST",route="/api/v1/scada/events",status="400"} 1"#))
                #expect(text.contains(#"oms_http_request_duration_seconds_count{method="POST",route="/api/v1/scada/events"} 3"#))
                let outages = try await database.client.scalar("SELECT status FROM oms_outage_events", as: String.self)
                #expect(text.contains(#"oms_outages{status="\#(outages)"} 1"#))
                #expect(text.contains(#"oms_outages{status="restored"} 0"#))

                // The pool: it holds at least the live-event hub's connection (in LISTEN) open.
                func inUse() async throws -> Double? {
                    let text = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: read]) { String(buffer: $0.body) }
                    return text.split(separator: "\n").first { $0.hasPrefix("oms_db_connections_open ") }
                        .flatMap { Double($0.split(separator: " ").last ?? "") }
                }
                var connections = try await inUse()
                let deadline = ContinuousClock.now + .seconds(10)
                while (connections ?? 0) < 1 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    connections = try await inUse()
                }
                #expect((connections ?? 0) >= 1, "oms_db_connections_open counts PostgresNIO's connection log lines")
            }
        }
    }
}
