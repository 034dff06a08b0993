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

/// Keeps `/openapi.json` true: the router's routes are exactly the documented ones, and real
/// answers of every documented operation (but the endless stream) match the documented status
/// codes and JSON shapes.
@Suite("OpenAPI document")
struct OpenAPITests {
    /// The document, as served.
    static func document(_ http: some TestClientProtocol, key: String) async throws -> [String: Any] {
        try await http.execute(uri: "/openapi.json", method: .get, headers: [.authorization: key]) { response in
            #expect(response.status == .ok)
            return try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
        }
    }

    @Test("every route of the router is documented, and every documented operation is a route")
    func routesMatch() async throws {
        try await TestDatabase.with(.migrated) { database in
            let key = try await bearer(database, [.read])
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let router = try buildRouter(
                client: client,
                hub: LiveEventHub(
                    client: client, logger: TestDatabase.logger,
                    keyCheck: KeyCheck(store: APIKeyStore(client: client, logger: TestDatabase.logger))),
                settings: ServerSettings(migrateOnStart: false), logger: TestDatabase.logger)
            let routes = Set(router.routes.map { route in
                "\(route.method.rawValue) " + route.path.description.split(separator: "/")
                    .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            }.map { $0.replacingOccurrences(of: " ", with: " /") })
            let app = try buildApplication(client: client, settings: ServerSettings(migrateOnStart: false), logger: TestDatabase.logger)
            try await withRouterApp(app) { http in
                let doc = try await Self.document(http, key: key)
                let paths = try #require(doc["paths"] as? [String: [String: Any]])
                let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
                #expect(routes.subtracting(documented).isEmpty, "routes missing from openapi.json: \(routes.subtracting(documented).sorted())")
                #expect(documented.subtracting(routes).isEmpty, "documented but not routes: \(documented.subtracting(routes).sorted())")
                #expect(doc["openapi"] as? String == "3.1.0")
            }
        }
    }

    @Test("the generated API code is that of this document (run scripts/generate-api.sh after changing openapi.json)")
    func generatedCodeIsCurrent() async throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/OMSAPI")
        let recorded = try String(contentsOf: sources.appendingPathComponent("Generated/openapi.json.sha256"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // As the script computes it: sha256sum of the file.
        let text = try await ExternalCommand.run("/usr/bin/sha256sum", [sources.appendingPathComponent("openapi.json").path]).output
        let digest = text.split(separator: " ").first.map(String.init)
        #expect(digest == recorded, "openapi.json changed since the code was generated: run scripts/generate-api.sh")
    }

    /// One request of the conformance run.
    struct Call {
        var method: HTTPRequest.Method
        var uri: String
        var template: String
        var body: String? = nil
        var contentType = "application/json"
        var prefer: String? = nil
    }

    @Test("real answers of every documented operation have a documented status and shape")
    func answersMatch() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.admin])
            let asset = try await database.client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
            let kaifa = """
                <CreatedEndDeviceEvents xmlns="http://iec.ch/TC57/2011/schema/message"><Header><Verb>created</Verb><Noun>EndDeviceEvents</Noun></Header>
                <Payload><EndDeviceEvents><EndDeviceEvent><mRID>OA-K1</mRID><createdDateTime>\(now)</createdDateTime>
                <Assets><mRID>\(asset)</mRID></Assets><EndDeviceEventType ref="3.26.136.47"/></EndDeviceEvent></EndDeviceEvents></Payload>
                </CreatedEndDeviceEvents>
                """
            let trip = #"{"eventId": "OA-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}"#
            let calls: [Call] = [
                Call(method: .get, uri: "/health", template: "/health"),
                Call(method: .get, uri: "/ready", template: "/ready"),
                Call(method: .get, uri: "/openapi.json", template: "/openapi.json"),
                Call(method: .post, uri: "/api/v1/scada/events", template: "/api/v1/scada/events", body: trip),
                Call(method: .post, uri: "/api/v1/scada/events", template: "/api/v1/scada/events", body: trip),
                Call(method: .post, uri: "/api/v1/scada/events", template: "/api/v1/scada/events", body: "[\(trip), {\"eventType\": \"trip\"}]"),
                Call(method: .post, uri: "/api/v1/scada/events", template: "/api/v1/scada/events", body: #"{"eventType": "trip"}"#),
                Call(method: .post, uri: "/api/v1/onu/events", template: "/api/v1/onu/events",
                     body: #"{"type": "ONU_LastGaspAlert", "eventId": "OA-2", "onuId": "ONU-000001", "timestamp": "\#(now)"}"#),
                Call(method: .post, uri: "/api/v1/onu/events", template: "/api/v1/onu/events", body: #"{"type": "ONU_LastGaspAlert"}"#),
                Call(method: .post, uri: "/api/v1/onu/events", template: "/api/v1/onu/events",
                     body: #"[{"type": "ONU_LastGaspAlert", "eventId": "OA-3", "onuId": "ONU-000001", "timestamp": "\#(now)"}, {"type": "ONU_LastGaspAlert"}]"#,
                     prefer: "respond-async"),
                Call(method: .post, uri: "/api/v1/kaifa/events", template: "/api/v1/kaifa/events", body: kaifa, contentType: "text/xml"),
                Call(method: .post, uri: "/api/v1/kaifa/events", template: "/api/v1/kaifa/events", body: "<nope/>", contentType: "text/xml"),
                Call(method: .post, uri: "/api/v1/callcenter/tickets", template: "/api/v1/callcenter/tickets",
                     body: #"{"ticketId": "OA-T1", "timestamp": "\#(now)", "customer": {"meterNumber": "m-1000-0311"}}"#),
                Call(method: .post, uri: "/api/v1/callcenter/tickets", template: "/api/v1/callcenter/tickets", body: #"{"ticketId": "OA-T2"}"#),
                Call(method: .get, uri: "/api/v1/substations", template: "/api/v1/substations"),
                Call(method: .get, uri: "/api/v1/feeders?substation=SS001", template: "/api/v1/feeders"),
                Call(method: .get, uri: "/api/v1/substations/SS001/meters", template: "/api/v1/substations/{substation_id}/meters"),
                Call(method: .get, uri: "/api/v1/feeders/FD002/meters", template: "/api/v1/feeders/{feeder_id}/meters"),
                Call(method: .get, uri: "/api/v1/meters/M10000311", template: "/api/v1/meters/{meter_number}"),
                Call(method: .get, uri: "/api/v1/meters/NOPE", template: "/api/v1/meters/{meter_number}"),
                Call(method: .put, uri: "/api/v1/meters/M10000311/status", template: "/api/v1/meters/{meter_number}/status",
                     body: #"{"power_status": "off", "request_id": "OA-R1"}"#),
                Call(method: .put, uri: "/api/v1/meters/M10000311/status", template: "/api/v1/meters/{meter_number}/status",
                     body: #"{"power_status": "off", "request_id": "OA-R1"}"#),
                Call(method: .put, uri: "/api/v1/meters/M10000311/status", template: "/api/v1/meters/{meter_number}/status", body: #"{"power_status": "dim"}"#),
                Call(method: .put, uri: "/api/v1/meters/NOPE/status", template: "/api/v1/meters/{meter_number}/status",
                     body: #"{"power_status": "on", "request_id": "OA-R2"}"#),
                Call(method: .get, uri: "/api/v1/meters/M10000311/history?limit=2", template: "/api/v1/meters/{meter_number}/history"),
                Call(method: .get, uri: "/api/v1/meters/M10000311/history?limit=0", template: "/api/v1/meters/{meter_number}/history"),
                Call(method: .get, uri: "/api/v1/meters/NOPE/history", template: "/api/v1/meters/{meter_number}/history"),
                Call(method: .get, uri: "/api/v1/outages?limit=5", template: "/api/v1/outages"),
                Call(method: .get, uri: "/api/v1/outages?status=bogus", template: "/api/v1/outages"),
                Call(method: .get, uri: "/api/v1/outages/NOPE", template: "/api/v1/outages/{event_id}"),
                Call(method: .get, uri: "/api/v1/settings", template: "/api/v1/settings"),
                Call(method: .put, uri: "/api/v1/settings/correlation.window_minutes", template: "/api/v1/settings/{key}", body: #"{"value": 45}"#),
                Call(method: .put, uri: "/api/v1/settings/correlation.window_minutes", template: "/api/v1/settings/{key}", body: #"{"value": "x"}"#),
                Call(method: .put, uri: "/api/v1/settings/no.such", template: "/api/v1/settings/{key}", body: #"{"value": 1}"#),
                Call(method: .get, uri: "/metrics", template: "/metrics"),
                Call(method: .get, uri: "/api/v1/proximity/meters?lat=39.9526&lng=-75.1652&radius_km=2&limit=5", template: "/api/v1/proximity/meters"),
                Call(method: .get, uri: "/api/v1/proximity/meters?lat=95&lng=0&radius_km=1", template: "/api/v1/proximity/meters"),
            ]
            try await withApp(database) { http in
                let doc = try await Self.document(http, key: key)
                let validator = SchemaValidator(document: doc)
                let paths = try #require(doc["paths"] as? [String: [String: Any]])
                var exercised = Set<String>()
                func check(_ call: Call) async throws {
                    let operation = try #require(paths[call.template]?[call.method.rawValue.lowercased()] as? [String: Any], "\(call.method) \(call.template) is not documented")
                    exercised.insert("\(call.method.rawValue) \(call.template)")
                    let (status, contentType, body) = try await http.execute(
                        uri: call.uri, method: call.method,
                        headers: [.authorization: key, .contentType: call.contentType]
                            + (call.prefer.map { [HTTPField(name: HTTPField.Name("Prefer")!, value: $0)] } ?? []),
                        body: call.body.map { ByteBuffer(string: $0) }
                    ) { ($0.status.code, $0.headers[.contentType] ?? "", Data($0.body.readableBytesView)) }
                    let responses = try #require(operation["responses"] as? [String: Any])
                    guard let documented = responses[String(status)] as? [String: Any] else {
                        Issue.record("\(call.method) \(call.uri) answered \(status), not documented (\(responses.keys.sorted()))")
                        return
                    }
                    let mediaType = String(contentType.split(separator: ";").first ?? "")
                    guard let content = documented["content"] as? [String: Any] else { return }
                    guard let media = content[mediaType] as? [String: Any] else {
                        Issue.record("\(call.method) \(call.uri) \(status): content type \(mediaType) not documented (\(content.keys.sorted()))")
                        return
                    }
                    guard mediaType.hasSuffix("json"), let schema = media["schema"] else { return }
                    let value = try JSONDecoder().decode(JSONValue.self, from: body)
                    let problems = validator.validate(value, against: schema, at: "body")
                    #expect(problems.isEmpty, "\(call.method) \(call.uri) \(status): \(problems.prefix(5))")
                }
                for call in calls { try await check(call) }
                let outage = try await database.client.scalar(
                    "SELECT event_id FROM oms_outage_events ORDER BY first_detected_at LIMIT 1", as: String.self)
                try await check(Call(method: .get, uri: "/api/v1/outages/\(outage)", template: "/api/v1/outages/{event_id}"))
                let actions = "/api/v1/outages/{event_id}/actions"
                for body in [#"{"action": "acknowledge"}"#, #"{"action": "close", "cause": "vegetation"}"#,
                             #"{"action": "assign", "crew": ""}"#, #"{"action": "nonsense"}"#] {
                    try await check(Call(method: .post, uri: "/api/v1/outages/\(outage)/actions", template: actions, body: body))
                }
                try await check(Call(method: .post, uri: "/api/v1/outages/NOPE/actions", template: actions, body: #"{"action": "acknowledge"}"#))
                try await check(Call(method: .get, uri: "/api/v1/reliability?from=2025-01-01T00:00:00Z", template: "/api/v1/reliability"))
                try await check(Call(method: .get, uri: "/api/v1/reliability?substation=NOPE", template: "/api/v1/reliability"))
                let console = "/api/v1/console"
                try await check(Call(method: .post, uri: "\(console)/session", template: "\(console)/session", body: #"{"key": "\#(key.dropFirst("Bearer ".count))"}"#))
                try await check(Call(method: .post, uri: "\(console)/session", template: "\(console)/session", body: #"{"key": "oms_nope"}"#))
                try await check(Call(method: .post, uri: "\(console)/session", template: "\(console)/session", body: #"{"kee": 1}"#))
                try await check(Call(method: .get, uri: "\(console)/session", template: "\(console)/session"))
                try await check(Call(method: .delete, uri: "\(console)/session", template: "\(console)/session"))
                try await check(Call(method: .get, uri: "\(console)/network?bbox=-76,39,-74,41&zoom=15", template: "\(console)/network"))
                try await check(Call(method: .get, uri: "\(console)/network?bbox=-180,-85,180,85&zoom=3", template: "\(console)/network"))
                try await check(Call(method: .get, uri: "\(console)/network?bbox=1,2,3&zoom=3", template: "\(console)/network"))
                try await check(Call(method: .get, uri: "\(console)/outages", template: "\(console)/outages"))
                try await check(Call(method: .get, uri: "\(console)/outages?ids=\(outage),NOPE&recent_minutes=0", template: "\(console)/outages"))
                try await check(Call(method: .get, uri: "\(console)/outages?recent_minutes=-1", template: "\(console)/outages"))
                try await check(Call(method: .get, uri: "\(console)/outages/\(outage)?meters=3", template: "\(console)/outages/{event_id}"))
                try await check(Call(method: .get, uri: "\(console)/outages/NOPE", template: "\(console)/outages/{event_id}"))
                try await check(Call(method: .get, uri: "\(console)/summary", template: "\(console)/summary"))
                try await check(Call(method: .get, uri: "\(console)/reliability/daily?from=2025-09-01T00:00:00Z&to=2025-10-02T00:00:00Z", template: "\(console)/reliability/daily"))
                try await check(Call(method: .get, uri: "\(console)/reliability/daily?substation=NOPE", template: "\(console)/reliability/daily"))
                let all = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
                #expect(all.subtracting(exercised) == ["GET /api/v1/stream"], "not exercised: \(all.subtracting(exercised).sorted())")
            }
        }
    }
}

/// Just enough JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the document's own schemas:
/// $ref, allOf, oneOf, type (one or several), enum, required, properties, items.
struct SchemaValidator {
    let document: [String: Any]

    func resolve(_ schema: Any) -> [String: Any] {
        guard var object = schema as? [String: Any] else { return [:] }
        while let ref = object["$ref"] as? String {
            let parts = ref.dropFirst(2).split(separator: "/").map(String.init)
            var node: Any = document
            for part in parts { node = (node as? [String: Any])?[part] ?? [:] }
            object = node as? [String: Any] ?? [:]
        }
        return object
    }

    func validate(_ value: JSONValue, against schema: Any, at path: String) -> [String] {
        let schema = resolve(schema)
        var problems: [String] = []
        if let all = schema["allOf"] as? [Any] {
            for part in all { problems += validate(value, against: part, at: path) }
        }
        if let one = schema["oneOf"] as? [Any], !one.contains(where: { validate(value, against: $0, at: path).isEmpty }) {
            problems.append("\(path): matches none of oneOf")
        }
        if let types = (schema["type"] as? [String]) ?? (schema["type"] as? String).map({ [$0] }),
           !types.contains(where: { value.isType($0) }) {
            return problems + ["\(path): \(value) is not \(types.joined(separator: " or "))"]
        }
        if let choices = schema["enum"] as? [String], case .string(let text) = value, !choices.contains(text) {
            problems.append("\(path): \(text) not in \(choices)")
        }
        if case .object(let object) = value {
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                problems.append("\(path).\(name): required, missing")
            }
            for (name, property) in schema["properties"] as? [String: Any] ?? [:] {
                if let member = object[name] { problems += validate(member, against: property, at: "\(path).\(name)") }
            }
        }
        if case .array(let array) = value, let items = schema["items"] {
            for (index, item) in array.enumerated() { problems += validate(item, against: items, at: "\(path)[\(index)]") }
        }
        return problems
    }
}

/// A JSON value that keeps booleans, integers and other numbers apart.
enum JSONValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), integer(Int), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func isType(_ type: String) -> Bool {
        switch (type, self) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
             ("string", .string), ("array", .array), ("object", .object): true
        default: false
        }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value.prefix(40))\""
        case .array(let value): "array of \(value.count)"
        case .object(let value): "object with \(value.keys.sorted().prefix(5))"
        }
    }
}
