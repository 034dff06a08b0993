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

@Suite("GET /api/v1/meters/{meter_number} and its history")
struct MeterRouteTests {
    @Test("a meter with its topology and status; 404 problem+json for an unknown one")
    func meter() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.read])
            try await withApp(database) { http in
                try await http.execute(uri: "/api/v1/meters/M10000311", method: .get, headers: [.authorization: key]) { response in
                    #expect(response.status == .ok)
                    let body = try json(response)
                    #expect(body["meter_number"] as? String == "M10000311")
                    #expect(body["feeder_code"] as? String == "FD002")
                    #expect(body["substation_code"] as? String == "SS001")
                    #expect(body["power_status"] as? String != nil)
                }
                try await http.execute(uri: "/api/v1/meters/NOPE", method: .get, headers: [.authorization: key]) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try json(response)
                    #expect(body["detail"] as? String == "no meter NOPE")
                }
            }
        }
    }

    @Test("history: newest first, cursor pages that add up to the whole, bad limit and cursor refused by name")
    func history() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            for (index, status) in ["off", "on", "off", "on", "off"].enumerated() {
                try await database.client.execute(
                    """
                    SELECT update_meter_status('M10000311', \(status), 'test', 'manual', \("H-\(index)"),
                                               now() - make_interval(mins => \(Int32(10 - index))))
                    """)
            }
            let expected = try await database.client.scalar(
                "SELECT string_agg(e.id::text, ',' ORDER BY e.event_timestamp DESC, e.id DESC) FROM oms_meter_status_events e JOIN oms_meters m ON m.id = e.meter_id WHERE m.meter_number = 'M10000311'",
                as: String.self)
            let key = try await bearer(database, [.read])
            try await withApp(database) { http in
                var ids: [String] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let uri = "/api/v1/meters/M10000311/history?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let body = try await http.execute(uri: uri, method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status == .ok)
                        return try json(response)
                    }
                    let items = try #require(body["items"] as? [[String: Any]])
                    #expect(items.count <= 2)
                    ids += items.compactMap { $0["id"] as? String }
                    cursor = body["next_cursor"] as? String
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(ids.joined(separator: ",") == expected)
                #expect(ids.count == 5 && pages == 3)

                for (uri, field) in [("/api/v1/meters/M10000311/history?limit=0", "limit"),
                                     ("/api/v1/meters/M10000311/history?limit=5000", "limit"),
                                     ("/api/v1/meters/M10000311/history?cursor=bm90LWEtY3Vyc29y", "cursor")] {
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status == .badRequest, "\(uri)")
                        #expect(response.headers[.contentType] == "application/problem+json")
                        let body = try json(response)
                        #expect(((body["errors"] as? [[String: Any]])?.first?["field"]) as? String == field)
                    }
                }
                try await http.execute(uri: "/api/v1/meters/NOPE/history", method: .get, headers: [.authorization: key]) { response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }
}
