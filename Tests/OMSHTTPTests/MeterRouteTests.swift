import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSAPI
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("GET /api/v1/meters/{meter_number} and its history")
struct MeterRouteTests {
    /// Reads the API's documents into the generated types, times as the API writes them.
    static func apiDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = ISO8601Time.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: text))
            }
            return date
        }
        return decoder
    }

    /// Writes the generated types with sorted keys and the API's times: two documents compared as text.
    static func apiEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601Time.text(date))
        }
        return encoder
    }

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

    @Test("meters by substation, by feeder, and one meter: PostgreSQL's documents say what the generated types say, in the lookup's order, times to the microsecond, absent fields left out")
    func meterLists() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.read])
            // The format's edges: a time with microseconds; a meter without customer, location or last message.
            try await database.client.execute(
                "UPDATE oms_meters SET last_communication = timestamptz '2025-09-30 10:00:00.123456Z' WHERE meter_number = 'M10000301'")
            try await database.client.execute(
                """
                UPDATE oms_meters SET customer_id = NULL, location_lat = NULL, location_lng = NULL, last_communication = NULL
                 WHERE meter_number = 'M10000302'
                """)
            let queries = MeterQueries(client: database.client, logger: TestDatabase.logger)
            let decoder = Self.apiDecoder()
            /// What a client compares: every field, times as the API writes them.
            @Sendable func fields(_ meter: Components.Schemas.MeterSummary) -> [String] {
                [meter.meterId, meter.meterNumber, meter.powerStatus, meter.communicationStatus, meter.customerId ?? "-",
                 meter.lastCommunication.map(ISO8601Time.text) ?? "-", meter.locationLat.map { "\($0)" } ?? "-",
                 meter.locationLng.map { "\($0)" } ?? "-"]
            }
            let lists: [(String, [Components.Schemas.MeterSummary])] = [
                ("/api/v1/substations/SS001/meters", try await queries.metersBySubstation("SS001")),
                ("/api/v1/feeders/FD002/meters", try await queries.metersByFeeder("FD002")),
                ("/api/v1/feeders/FD%30%302/meters", try await queries.metersByFeeder("FD002")),
                ("/api/v1/substations/NOPE/meters", []),
            ]
            #expect(lists[0].1.count == 900 && lists[1].1.count == 300)
            try await withApp(database) { http in
                for (path, expected) in lists {
                    try await http.execute(uri: path, method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status == .ok, "\(path)")
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                        let list = try decoder.decode(Components.Schemas.MeterList.self, from: Data(response.body.readableBytesView))
                        #expect(list.count == expected.count, "\(path)")
                        #expect(list.meters.map(fields) == expected.map(fields), "\(path)")
                    }
                }
                try await http.execute(uri: "/api/v1/feeders/FD002/meters", method: .get, headers: [.authorization: key]) { response in
                    let body = try json(response)
                    let meters = try #require(body["meters"] as? [[String: Any]])
                    let first = try #require(meters.first { $0["meter_number"] as? String == "M10000301" })
                    #expect(first["last_communication"] as? String == "2025-09-30T10:00:00.123456Z")
                    let bare = try #require(meters.first { $0["meter_number"] as? String == "M10000302" })
                    #expect(Set(bare.keys) == ["communication_status", "meter_id", "meter_number", "power_status"])
                }
                // One meter: the same document as the generated type, field for field.
                let encoder = Self.apiEncoder()
                for number in ["M10000301", "M10000302", "M10000311"] {
                    let expected = try #require(try await queries.meter(number))
                    try await http.execute(uri: "/api/v1/meters/\(number)", method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status == .ok)
                        let meter = try decoder.decode(Components.Schemas.Meter.self, from: Data(response.body.readableBytesView))
                        #expect(String(decoding: try encoder.encode(meter), as: UTF8.self)
                                == String(decoding: try encoder.encode(expected), as: UTF8.self))
                    }
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

    @Test("history as PostgreSQL builds it: the generated types' page field for field (metadata as stored, nulls in it kept; a confidence score; no previous status), next_cursor only when a row follows")
    func historyDocument() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await database.client.execute(
                """
                SELECT update_meter_status('M10000312', 'off', 'power_off', 'kaifa', 'D-1', now() - interval '3 minutes',
                                           '{"reason": null, "code": "3.26.0.85", "nested": {"gone": null}}')
                """)
            try await database.client.execute(
                "SELECT update_meter_status('M10000312', 'on', 'power_on', 'onu', NULL, now() - interval '2 minutes', 'null'::jsonb)")
            try await database.client.execute(
                """
                INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, status_field, new_status,
                                                     event_timestamp, confidence_score, applied)
                SELECT id, 'comm_lost', 'system', 'communication_status', 'offline', now() - interval '1 minute', 0.875, true
                  FROM oms_meters WHERE meter_number = 'M10000312'
                """)
            let key = try await bearer(database, [.read])
            let queries = MeterQueries(client: database.client, logger: TestDatabase.logger)
            let decoder = Self.apiDecoder()
            let encoder = Self.apiEncoder()
            let all = try await queries.history("M10000312", limit: 100, cursor: nil)
            #expect(all.count == 3)
            try await withApp(database) { http in
                for (limit, cursor, expectedCount, more) in [(100, nil, 3, false), (3, nil, 3, false), (2, nil, 2, true),
                                                             (2, all[1].cursor, 1, false)] as [(Int, String?, Int, Bool)] {
                    let uri = "/api/v1/meters/M10000312/history?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let expected = try await queries.history("M10000312", limit: limit, cursor: cursor)
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status == .ok, "\(uri)")
                        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                        let data = Data(response.body.readableBytesView)
                        let page = try decoder.decode(Components.Schemas.HistoryPage.self, from: data)
                        #expect(page.items.count == expectedCount, "\(uri)")
                        #expect(String(decoding: try encoder.encode(page.items), as: UTF8.self)
                                == String(decoding: try encoder.encode(expected), as: UTF8.self), "\(uri)")
                        let body = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                        #expect((body["next_cursor"] as? String) == (more ? expected.last?.cursor : nil), "\(uri)")
                        #expect(body.keys.contains("next_cursor"), "\(uri)")
                    }
                }
                // The stored metadata whole, its nulls kept; a score as a number.
                let body = try await http.execute(uri: "/api/v1/meters/M10000312/history", method: .get, headers: [.authorization: key]) {
                    try json($0)
                }
                let items = try #require(body["items"] as? [[String: Any]])
                let metadata = try #require(items.last?["metadata"] as? [String: Any])
                #expect(metadata["reason"] is NSNull)
                #expect((metadata["nested"] as? [String: Any])?["gone"] is NSNull)
                #expect(items.first?["confidence_score"] as? Double == 0.875)
                #expect(items.first?["status_field"] as? String == "communication_status")
            }
        }
    }
}
