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

@Suite("Settings, manual status changes, substations and feeders over HTTP")
struct AdminRouteTests {
    @Test("settings: read with read, changed with admin, a value of another type refused, unknown key 404")
    func settings() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let read = try await bearer(database, [.read])
            let admin = try await bearer(database, [.admin])
            try await withApp(database) { http in
                func call(_ method: HTTPRequest.Method, _ uri: String, _ key: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(
                        uri: uri, method: method, headers: [.authorization: key, .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }) { ($0.status, try json($0)) }
                }
                let (_, listed) = try await call(.get, "/api/v1/settings", read)
                let keys = (listed["items"] as? [[String: Any]])?.compactMap { $0["key"] as? String } ?? []
                #expect(keys.contains("correlation.window_minutes"))

                let (changed, setting) = try await call(.put, "/api/v1/settings/correlation.window_minutes", admin, #"{"value": 30}"#)
                #expect(changed == .ok)
                #expect(setting["value"] as? Int == 30)
                let stored = try await database.client.scalar(
                    "SELECT value::text FROM oms_settings WHERE key = 'correlation.window_minutes'", as: String.self)
                #expect(stored == "30")
                let (wrongType, problem) = try await call(.put, "/api/v1/settings/correlation.window_minutes", admin, #"{"value": "thirty"}"#)
                #expect(wrongType == .badRequest)
                #expect(((problem["errors"] as? [[String: Any]])?.first?["field"]) as? String == "value")
                let (unknown, _) = try await call(.put, "/api/v1/settings/no.such_key", admin, #"{"value": 1}"#)
                #expect(unknown == .notFound)
                let (forbidden, _) = try await call(.put, "/api/v1/settings/correlation.window_minutes", read, #"{"value": 5}"#)
                #expect(forbidden == .forbidden)
                let after = try await database.client.scalar(
                    "SELECT value::text FROM oms_settings WHERE key = 'correlation.window_minutes'", as: String.self)
                #expect(after == "30")
            }
        }
    }

    @Test("a manual status change: 201, a retry with the same request id changes nothing; bad fields named")
    func manualStatus() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let admin = try await bearer(database, [.admin])
            let audits: PostgresQuery = "SELECT count(*)::int FROM oms_meter_status_events WHERE source_type = 'manual' AND source_event_id = 'R-1'"
            try await withApp(database) { http in
                func put(_ uri: String, _ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(
                        uri: uri, method: .put, headers: [.authorization: admin, .contentType: "application/json"],
                        body: ByteBuffer(string: body)) { ($0.status, try json($0)) }
                }
                let change = #"{"power_status": "off", "request_id": "R-1", "note": "crew report"}"#
                let (first, created) = try await put("/api/v1/meters/M10000311/status", change)
                #expect(first == .created)
                #expect(created["duplicate"] as? Bool == false)
                let (again, repeated) = try await put("/api/v1/meters/M10000311/status", change)
                #expect(again == .ok)
                #expect(repeated["duplicate"] as? Bool == true)
                #expect(repeated["status_event_id"] as? String == created["status_event_id"] as? String)
                #expect(try await database.client.scalar(audits, as: Int.self) == 1)
                #expect(try await database.client.scalar("SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")

                for (body, field) in [(#"{"power_status": "dim", "request_id": "R-2"}"#, "power_status"),
                                      (#"{"power_status": "on"}"#, "request_id"),
                                      (#"{"power_status": "on", "request_id": "R-3", "timestamp": "noon"}"#, "timestamp")] {
                    let (status, problem) = try await put("/api/v1/meters/M10000311/status", body)
                    #expect(status == .badRequest, "\(body)")
                    #expect(((problem["errors"] as? [[String: Any]])?.first?["field"]) as? String == field, "\(body)")
                }
                let (unknown, _) = try await put("/api/v1/meters/NOPE/status", #"{"power_status": "on", "request_id": "R-4"}"#)
                #expect(unknown == .notFound)
            }
        }
    }

    @Test("substations and feeders with their meter counts")
    func network() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let read = try await bearer(database, [.read])
            try await withApp(database) { http in
                let substations = try await http.execute(uri: "/api/v1/substations", method: .get, headers: [.authorization: read]) { try json($0) }
                let items = substations["items"] as? [[String: Any]] ?? []
                #expect(items.map { $0["substation_id"] as? String } == ["SS001", "SS002", "SS003"])
                #expect(items.first?["total_meters"] as? Int == 900)
                let feeders = try await http.execute(uri: "/api/v1/feeders?substation=SS001", method: .get, headers: [.authorization: read]) { try json($0) }
                #expect((feeders["items"] as? [[String: Any]])?.map { $0["feeder_id"] as? String } == ["FD001", "FD002", "FD003"])
            }
        }
    }

    @Test("proximity over HTTP: nearest first, at most limit, bad coordinates refused by name")
    func proximity() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let read = try await bearer(database, [.read])
            let (lat, lng) = (39.9526, -75.1652)
            let expected = try await database.client.scalar(
                "SELECT string_agg(meter_number, ',' ORDER BY distance_km, meter_number) FROM (SELECT * FROM oms_meters_within(\(lat), \(lng), 2) LIMIT 7) w",
                as: String.self)
            try await withApp(database) { http in
                let body = try await http.execute(
                    uri: "/api/v1/proximity/meters?lat=\(lat)&lng=\(lng)&radius_km=2&limit=7", method: .get, headers: [.authorization: read]
                ) { try json($0) }
                let items = body["items"] as? [[String: Any]] ?? []
                #expect(body["count"] as? Int == 7)
                #expect(items.compactMap { $0["meter_number"] as? String }.joined(separator: ",") == expected)
                let distances = items.compactMap { $0["distance_km"] as? Double }
                #expect(distances == distances.sorted() && distances.allSatisfy { $0 <= 2 })
                for (uri, field) in [("/api/v1/proximity/meters?lat=95&lng=0&radius_km=1", "lat"),
                                     ("/api/v1/proximity/meters?lat=0&lng=0&radius_km=-1", "radius_km"),
                                     ("/api/v1/proximity/meters?lat=0&radius_km=1", "lng")] {
                    let (status, problem) = try await http.execute(uri: uri, method: .get, headers: [.authorization: read]) { ($0.status, try json($0)) }
                    #expect(status == .badRequest, "\(uri)")
                    #expect(((problem["errors"] as? [[String: Any]])?.first?["field"]) as? String == field, "\(uri)")
                }
            }
        }
    }
}
