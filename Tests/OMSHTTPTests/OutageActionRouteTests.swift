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

@Suite("POST /api/v1/outages/{event_id}/actions and GET /api/v1/reliability")
struct OutageActionRouteTests {
    @Test("operator actions need the operate scope; a refused one is 409 naming the state; the timeline names the key")
    func actions() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let ingest = try await bearer(database, [.ingestSCADA])
            let read = try await bearer(database, [.read])
            let operate = try await bearer(database, [.operate, .read])
            try await withApp(database) { http in
                let trip = #"{"eventId": "A-1", "eventType": "Lockout", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "Lockout"}"#
                let created = try await http.execute(
                    uri: "/api/v1/scada/events", method: .post, headers: [.authorization: ingest, .contentType: "application/json"],
                    body: ByteBuffer(string: trip)) { try json($0) }
                let code = try #require(created["outage_event_code"] as? String)
                func act(_ body: String, key: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(
                        uri: "/api/v1/outages/\(code)/actions", method: .post,
                        headers: [.authorization: key, .contentType: "application/json"], body: ByteBuffer(string: body)) {
                            ($0.status, try json($0))
                        }
                }
                let (forbidden, _) = try await act(#"{"action": "acknowledge"}"#, key: read)
                #expect(forbidden == .forbidden)
                let (assigned, outage) = try await act(#"{"action": "assign", "crew": "Crew 7"}"#, key: operate)
                #expect(assigned == .ok)
                #expect(outage["status"] as? String == "in_progress")
                #expect(outage["crew"] as? String == "Crew 7")
                let timeline = try #require(outage["timeline"] as? [[String: Any]])
                #expect((timeline.last?["description"] as? String)?.hasSuffix("— test") == true)
                let (conflict, problem) = try await act(#"{"action": "close", "cause": "vegetation"}"#, key: operate)
                #expect(conflict == .conflict)
                #expect((problem["detail"] as? String)?.contains("is in_progress") == true)
                let (bad, named) = try await act(#"{"action": "assign", "crew": ""}"#, key: operate)
                #expect(bad == .badRequest)
                #expect((named["detail"] as? String)?.contains("crew") == true)
                let (unknown, _) = try await act(#"{"action": "explode"}"#, key: operate)
                #expect(unknown == .badRequest)
                let (restored, after) = try await act(#"{"action": "restore", "at": "2025-09-30T10:45:00Z"}"#, key: operate)
                #expect(restored == .ok)
                #expect(after["status"] as? String == "restored")
                let (missing, _) = try await http.execute(
                    uri: "/api/v1/outages/NOPE/actions", method: .post,
                    headers: [.authorization: operate, .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"action": "acknowledge"}"#)) { ($0.status, 0) }
                #expect(missing == .notFound)

                let (indicesStatus, indices) = try await http.execute(
                    uri: "/api/v1/reliability?from=2025-09-01T00:00:00Z&to=2025-10-01T00:00:00Z&substation=SS001", method: .get,
                    headers: [.authorization: read]) { ($0.status, try json($0)) }
                #expect(indicesStatus == .ok)
                #expect(indices["sustained_interruptions"] as? Int == 1)
                #expect(indices["customers_served"] as? Int == 900)
                // 300 customers of FD002 out 45 minutes over 900 served: SAIDI 15 minutes, SAIFI 1/3.
                #expect(indices["saidi"] as? Double == 15)
                let (badFeeder, _) = try await http.execute(
                    uri: "/api/v1/reliability?feeder=NOPE", method: .get, headers: [.authorization: read]) { ($0.status, 0) }
                #expect(badFeeder == .badRequest)
            }
        }
    }
}
