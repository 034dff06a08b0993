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

@Suite("GET /api/v1/outages and /api/v1/outages/{event_id}")
struct OutageRouteTests {
    @Test("newest first, filtered, by cursor pages; one outage with its sources, timeline and meters; bad filters named")
    func outages() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let ingest = try await bearer(database, [.ingestSCADA])
            let read = try await bearer(database, [.read])
            try await withApp(database) { http in
                let trips = [
                    #"{"eventId": "O-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}"#,
                    #"{"eventId": "O-2", "eventType": "breaker_trip", "substationId": "SS002", "feederId": "FD004", "timestamp": "2025-09-30T11:00:00Z", "alarmType": "fault"}"#,
                ]
                for trip in trips {
                    let status = try await http.execute(
                        uri: "/api/v1/scada/events", method: .post, headers: [.authorization: ingest, .contentType: "application/json"],
                        body: ByteBuffer(string: trip)) { $0.status }
                    #expect(status == .created)
                }
                func get(_ uri: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: read]) { response in
                        (response.status, try json(response))
                    }
                }
                let (status, all) = try await get("/api/v1/outages")
                #expect(status == .ok)
                let items = try #require(all["items"] as? [[String: Any]])
                #expect(items.map { $0["substation_code"] as? String } == ["SS002", "SS001"])
                #expect(all["next_cursor"] is NSNull)

                let (_, first) = try await get("/api/v1/outages?limit=1")
                let cursor = try #require(first["next_cursor"] as? String)
                let (_, second) = try await get("/api/v1/outages?limit=1&cursor=\(cursor)")
                #expect((second["items"] as? [[String: Any]])?.first?["substation_code"] as? String == "SS001")
                #expect(second["next_cursor"] is NSNull)

                let (_, bySubstation) = try await get("/api/v1/outages?substation=SS001&active=true&from=2025-09-30T09:00:00Z")
                #expect((bySubstation["items"] as? [[String: Any]])?.count == 1)
                let (_, restored) = try await get("/api/v1/outages?status=restored,cancelled")
                #expect((restored["items"] as? [[String: Any]])?.isEmpty == true)

                let eventID = try #require(items.last?["event_id"] as? String)
                let (detailStatus, detail) = try await get("/api/v1/outages/\(eventID)")
                #expect(detailStatus == .ok)
                #expect(detail["feeder_code"] as? String == "FD002")
                #expect((detail["sources"] as? [[String: Any]])?.first?["source_type"] as? String == "scada")
                #expect((detail["timeline"] as? [[String: Any]])?.isEmpty == false)
                let meters = try #require(detail["meters"] as? [[String: Any]])
                // affected_meters_count counts every meter the outage covers (a tripped feeder: all of
                // them); meters_out those without power back; the check's offline ones are reported.
                #expect(meters.count == detail["affected_meters_count"] as? Int)
                #expect(meters.count == detail["meters_out"] as? Int)
                #expect(detail["basis"] as? String == "telemetry")
                // The meters the check found offline are the outage's own evidence; the others are
                // covered because their feeder tripped.
                let reported = meters.filter { $0["reported"] as? Bool == true }
                #expect(!reported.isEmpty && reported.count < meters.count)
                let (missing, _) = try await get("/api/v1/outages/NOPE")
                #expect(missing == .notFound)

                for (uri, field) in [("/api/v1/outages?status=bogus", "status"), ("/api/v1/outages?from=yesterday", "from"),
                                     ("/api/v1/outages?active=maybe", "active"), ("/api/v1/outages?substation=NOPE", "substation"),
                                     ("/api/v1/outages?from=2025-10-01T00:00:00Z&to=2025-09-01T00:00:00Z", "from"),
                                     ("/api/v1/outages?cursor=xyz", "cursor"), ("/api/v1/outages?limit=0", "limit")] {
                    let (code, problem) = try await get(uri)
                    #expect(code == .badRequest, "\(uri)")
                    #expect(((problem["errors"] as? [[String: Any]])?.first?["field"]) as? String == field, "\(uri)")
                }
            }
        }
    }
}
