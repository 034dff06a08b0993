import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("POST /api/v1/scada/events")
struct SCADARouteTests {
    struct Reply {
        var status: HTTPResponse.Status
        var contentType: String?
        var json: [String: Any]
    }

    func post(_ bodies: [String], to database: TestDatabase.Handle) async throws -> [Reply] {
        let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
        let app = try buildApplication(
            client: client, settings: ServerSettings(migrateOnStart: false, maximumBodySize: 64 * 1024),
            logger: TestDatabase.logger)
        let key = try await bearer(database, [.ingestSCADA])
        return try await withRouterApp(app) { http in
            var replies: [Reply] = []
            for body in bodies {
                let reply = try await http.execute(
                    uri: "/api/v1/scada/events", method: .post, headers: [.contentType: "application/json", .authorization: key],
                    body: ByteBuffer(string: body)
                ) { response in
                    Reply(
                        status: response.status, contentType: response.headers[.contentType],
                        json: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:])
                }
                replies.append(reply)
            }
            return replies
        }
    }

    static let trip = """
        {"eventId": "HTTP-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002",
         "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault", "severity": "critical"}
        """

    @Test("one event: 201 with the summary, 200 when repeated")
    func singleEvent() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let replies = try await post([Self.trip, Self.trip], to: database)
            #expect(replies[0].status == .created)
            #expect(replies[0].json["meters_checked"] as? Bool == true)
            #expect(replies[0].json["total_meters"] as? Int == 300)
            #expect((replies[0].json["outage_event_code"] as? String)?.hasPrefix("OMS_SCADA_1759226400_") == true)
            #expect(replies[1].status == .ok)
            #expect(replies[1].json["duplicate"] as? Bool == true)
            #expect(replies[1].json["scada_event_id"] as? String == replies[0].json["scada_event_id"] as? String)
            // The id as the database writes it (psql users see the same text).
            let stored = try await database.client.scalar("SELECT id::text FROM scada_events", as: String.self)
            #expect(replies[0].json["scada_event_id"] as? String == stored)
        }
    }

    @Test("a bad event: 400 problem+json naming the field; nothing written")
    func badEvent() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let replies = try await post([
                #"{"eventType": "trip", "substationId": "SS001", "timestamp": "09/30/2025"}"#,
                #"{"eventType": "trip", "substationId": "SS001", "feederId": "FD004", "timestamp": "2025-09-30T10:00:00Z"}"#,
                "not json",
            ], to: database)
            for reply in replies {
                #expect(reply.status == .badRequest)
                #expect(reply.contentType == "application/problem+json")
                #expect(reply.json["status"] as? Int == 400)
                #expect(reply.json["title"] as? String == "Invalid SCADA event")
            }
            let fields = replies.map { (($0.json["errors"] as? [[String: Any]])?.first?["field"] as? String) }
            #expect(fields == ["timestamp", "feederId", nil])
            #expect(try await database.client.scalar("SELECT count(*)::int FROM scada_events", as: Int.self) == 0)
        }
    }

    @Test("a batch: one outcome per item, the good ones applied")
    func batch() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let replies = try await post(["""
                [\(Self.trip),
                 {"eventType": "trip", "substationId": "SS001"},
                 {"eventId": "HTTP-2", "eventType": "lockout", "substationId": "SS003", "timestamp": "2025-09-30T10:01:00Z"}]
                """], to: database)
            #expect(replies[0].status == .ok)
            #expect(replies[0].json["applied"] as? Int == 2)
            #expect(replies[0].json["rejected"] as? Int == 1)
            let results = replies[0].json["results"] as? [[String: Any]] ?? []
            #expect(results.map { $0["outcome"] as? String } == ["applied", "rejected", "applied"])
            #expect((results[1]["error"] as? [String: Any])?["field"] as? String == "timestamp")
        }
    }

    @Test("a body over the limit gets 413")
    func tooLarge() async throws {
        try await TestDatabase.with(.migrated) { database in
            let huge = "[" + Array(repeating: Self.trip, count: 400).joined(separator: ",") + "]"
            let replies = try await post([huge], to: database)
            #expect(replies[0].status == .contentTooLarge)
        }
    }
}

@Suite("POST /api/v1/onu/events")
struct ONURouteTests {
    @Test("201 with the sync summary; 400 problem+json naming the field")
    func onuRoute() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(
                client: client, settings: ServerSettings(migrateOnStart: false), logger: TestDatabase.logger)
            let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
            let key = try await bearer(database, [.ingestONU])
            try await withRouterApp(app) { http in
                try await http.execute(
                    uri: "/api/v1/onu/events", method: .post, headers: [.authorization: key],
                    body: ByteBuffer(string: #"{"type": "ONU_LastGaspAlert", "eventId": "H1", "onuId": "ONU-000001", "timestamp": "\#(now)"}"#)
                ) { response in
                    #expect(response.status == .created)
                    let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect(json?["meters_matched"] as? Int == 2)
                    #expect(json?["kind"] as? String == "power_off")
                }
                try await http.execute(
                    uri: "/api/v1/onu/events", method: .post, headers: [.authorization: key],
                    body: ByteBuffer(string: #"{"type": "ONU_LastGaspAlert", "onuSerial": "HWTC123", "timestamp": "\#(now)"}"#)
                ) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect(json?["title"] as? String == "Invalid ONU event")
                    #expect(((json?["errors"] as? [[String: Any]])?.first?["field"]) as? String == "onuSerial")
                }
            }
        }
    }
}

/// `Bearer KEY` for a new key with these scopes.
func bearer(_ database: TestDatabase.Handle, _ scopes: [APIScope]) async throws -> String {
    let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
    return "Bearer \(try await keys.create(scopes: scopes, name: "test").key)"
}

/// A response body as a JSON object.
@Sendable func json(_ response: TestResponse) throws -> [String: Any] {
    (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
}

@Suite("POST /api/v1/kaifa/events and /api/v1/callcenter/tickets")
struct KAIFAAndCallCenterRouteTests {
    @Test("KAIFA XML (SOAP) and JSON, call-center tickets; errors name the element or field")
    func routes() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let asset = try await database.client.scalar(
                "SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(
                client: client, settings: ServerSettings(migrateOnStart: false), logger: TestDatabase.logger)
            let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
            let xml = """
                <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
                <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message" xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#">
                <ns0:Header><ns0:Verb>created</ns0:Verb><ns0:Noun>EndDeviceEvents</ns0:Noun></ns0:Header>
                <ns0:Payload><ns2:EndDeviceEvents><ns2:EndDeviceEvent><ns2:mRID>H-1</ns2:mRID>
                <ns2:createdDateTime>\(now)</ns2:createdDateTime><ns2:Assets><ns2:mRID>\(asset)</ns2:mRID></ns2:Assets>
                <ns2:EndDeviceEventType ref="3.26.136.47"/></ns2:EndDeviceEvent></ns2:EndDeviceEvents></ns0:Payload>
                </ns0:CreatedEndDeviceEvents></soapenv:Body></soapenv:Envelope>
                """
            let key = try await bearer(database, [.ingestKAIFA, .ingestCallCenter])
            try await withRouterApp(app) { http in
                try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: [.contentType: "application/soap+xml", .authorization: key],
                    body: ByteBuffer(string: xml)
                ) { response in
                    let body = try json(response)
                    #expect(response.status == .created)
                    #expect(body["meter_numbers"] as? [String] == ["M10000311"])
                }
                try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: [.contentType: "text/xml", .authorization: key],
                    body: ByteBuffer(string: "<CreatedEndDeviceEvents><Header><Noun>MeterReadings</Noun></Header></CreatedEndDeviceEvents>")
                ) { response in
                    let body = try json(response)
                    #expect(response.status == .badRequest)
                    #expect(((body["errors"] as? [[String: Any]])?.first?["field"]) as? String == "Header.Noun")
                }
                try await http.execute(
                    uri: "/api/v1/callcenter/tickets", method: .post, headers: [.authorization: key],
                    body: ByteBuffer(string: #"{"ticketId": "H-T1", "timestamp": "\#(now)", "customer": {"meterNumber": "m-1000-0311"}}"#)
                ) { response in
                    let body = try json(response)
                    #expect(response.status == .created)
                    #expect(body["kind"] as? String == "call")
                }
                try await http.execute(
                    uri: "/api/v1/callcenter/tickets", method: .post, headers: [.authorization: key],
                    body: ByteBuffer(string: #"{"ticketId": "H-T2", "timestamp": "\#(now)"}"#)
                ) { response in
                    let body = try json(response)
                    #expect(response.status == .badRequest)
                    #expect(body["title"] as? String == "Invalid call-center ticket")
                }
            }
        }
    }
}
