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

@Suite("GET /api/v1/stream: Server-Sent Events from LISTEN/NOTIFY")
struct StreamTests {
    @Test("a client receives an outage opened and meter status changes written through another connection")
    func receivesChangesFromAnotherConnection() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let read = try await bearer(database, [.read])
            try await withApp(database) { http in
                // Another connection writes until the stream has what it waits for: the stream may
                // subscribe a moment after the first writes, so they repeat (a new trip each time).
                let writer = Task {
                    var round = 0
                    while !Task.isCancelled {
                        round += 1
                        try await database.client.execute(
                            """
                            SELECT insert_scada_event_with_meter_check(jsonb_build_object(
                                'eventId', \("S-\(round)"), 'eventType', 'breaker_trip', 'substationId', 'SS001',
                                'feederId', 'FD002', 'timestamp', now() - make_interval(mins => \(Int32(100 - round))),
                                'alarmType', 'fault'))
                            """)
                        try await database.client.execute(
                            "SELECT update_meter_status('M10000311', \(round % 2 == 0 ? "on" : "off"), 'test', 'manual', \("W-\(round)"))")
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                defer { writer.cancel() }
                let (status, contentType, body) = try await http.execute(
                    uri: "/api/v1/stream?max_events=6", method: .get, headers: [.authorization: read]
                ) { ($0.status, $0.headers[.contentType], String(buffer: $0.body)) }
                writer.cancel()
                #expect(status == .ok)
                #expect(contentType == "text/event-stream")
                let events = body.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: ") }
                #expect(events.count == 6)
                let types = Set(events.compactMap { $0.split(separator: "\n").first.map { String($0.dropFirst("event: ".count)) } })
                #expect(types.contains("outage.opened") || types.contains("outage.updated"))
                #expect(types.contains("meter.status_changed"))
                let change = try #require(events.first { $0.hasPrefix("event: meter.status_changed") })
                let data = try #require(change.split(separator: "\n").first { $0.hasPrefix("data: ") }).dropFirst("data: ".count)
                let payload = try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
                let changes = try #require(payload["changes"] as? [[String: Any]])
                #expect(changes.allSatisfy { $0["meter_number"] is String && $0["status"] is String })
            }
        }
    }
}
