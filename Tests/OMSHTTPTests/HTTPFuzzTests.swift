import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSDomain
import OMSFuzzing
import OMSHTTP
import OMSSimulation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The fuzzer's inputs posted to a running service (a real socket), and random query strings
/// on every GET route: every answer is 2xx, or 4xx as a problem document; never 5xx, never a
/// dropped connection; the service answers `/health` afterwards; and the feed tables hold rows
/// only for the messages the service said it accepted.
@Suite("Fuzzing the service over HTTP", .serialized)
struct HTTPFuzzTests {
    static let inputsPerRoute = 2_000

    static func table(_ feed: FeedKind) -> String {
        switch feed {
        case .scada: "scada_events"
        case .onu: "onu_events"
        case .kaifa: "kaifa_events"
        case .callcenter: "callcenter_tickets"
        }
    }

    /// How many new rows an answer says its messages made (applied or late; repeats make none).
    static func storedMessages(status: HTTPResponse.Status, body: [String: Any]) -> Int {
        if let applied = body["applied"] as? Int, body["results"] != nil {
            return applied + (body["late"] as? Int ?? 0)
        }
        guard status == .created || status == .ok else { return 0 }
        if body["duplicate"] as? Bool == true || body["rechecked"] as? Bool == true { return 0 }
        return 1
    }

    @Test("mutated messages posted to each feed route: 2xx or 4xx problem+json, rows only for what was accepted", arguments: FeedKind.allCases)
    func feedRoutes(feed: FeedKind) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let scope: APIScope = switch feed {
            case .scada: .ingestSCADA
            case .onu: .ingestONU
            case .kaifa: .ingestKAIFA
            case .callcenter: .ingestCallCenter
            }
            let key = try await bearer(database, [scope])
            let table = Self.table(feed)
            let before = try await database.client.scalar(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), as: Int.self)
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
            let (stored, answers) = try await withLiveClient({
                try buildApplication(client: client, settings: settings, logger: TestDatabase.logger, onServerRunning: $0)
            }) { http in
                var mutator = FeedMutator(feed: feed, seed: 1313)
                var stored = 0
                var answers: [Int: Int] = [:]
                for index in 0..<Self.inputsPerRoute {
                    let input = mutator.next()
                    let contentType = feed == .kaifa && input.first(where: { $0 > 0x20 }) == UInt8(ascii: "<") ? "application/xml" : "application/json"
                    try await http.execute(
                        uri: feed.path, method: .post,
                        headers: [.authorization: key, .contentType: contentType], body: ByteBuffer(bytes: input)
                    ) { response in
                        answers[Int(response.status.code), default: 0] += 1
                        #expect(response.status.code < 500, "input \(index): \(response.status) \(String(buffer: response.body).prefix(300))")
                        if response.status.code >= 400 {
                            #expect(response.headers[.contentType] == "application/problem+json", "input \(index): \(response.status)")
                        }
                        let body = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
                        stored += Self.storedMessages(status: response.status, body: body)
                    }
                }
                try await http.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
                return (stored, answers)
            }
            let after = try await database.client.scalar(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), as: Int.self)
            print("HTTP fuzz \(feed.rawValue): \(Self.inputsPerRoute) posts, answers \(answers.sorted { $0.key < $1.key }), \(stored) messages stored")
            #expect(after - before == stored, "\(table): \(after - before) new rows, the answers said \(stored)")
            #expect(stored > 0, "no input was accepted: the test would show nothing")
        }
    }

    static let routes = [
        "/api/v1/outages", "/api/v1/outages/OMS_SCADA_1_x", "/api/v1/meters/M10000311", "/api/v1/meters/M10000311/history",
        "/api/v1/substations", "/api/v1/substations/SS001", "/api/v1/feeders/FD002", "/api/v1/proximity/meters",
        "/api/v1/settings", "/metrics", "/openapi.json", "/health", "/ready",
    ]
    static let names = ["limit", "cursor", "status", "active", "from", "to", "substation", "lat", "lng", "radius_km", "max_events", "x", "", "%00", "l%69mit"]
    static let values = [
        "", "1", "0", "-1", "100", "1000", "1001", "99999999999999999999", "1e308", "-1e308", "NaN", "inf", "0x10", "true", "maybe",
        "' OR 1=1--", "1;DROP TABLE oms_meters", "%27%20OR%20%271%27%3D%271", "%00", "a%00b", "%ZZ", "%C8", "%E2%82", "%F0%9F%98%80",
        "2025-09-30T10:00:00Z", "0001-01-01T00:00:00Z", "2999-01-01", "confirmed", "confirmed,restored", "SS001", "%5C", "%5C%22",
        String(repeating: "A", count: 5000), "eyJ0IjoxfQ", "MjAyNS0wOS0zMFQxMDowMDowMFp8eA", "24.7", "46.6", "5",
    ]

    @Test("random query strings on every GET route: never 5xx, refusals are problem documents")
    func queryStrings() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.read])
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
            try await withLiveClient({
                try buildApplication(client: client, settings: settings, logger: TestDatabase.logger, onServerRunning: $0)
            }) { http in
                var random = SeededRandom(seed: 77)
                for index in 0..<Self.inputsPerRoute {
                    let route = Self.routes[Int(random.next() % UInt64(Self.routes.count))]
                    let pairs = (0..<Int(random.next() % 5)).map { _ in
                        Self.names[Int(random.next() % UInt64(Self.names.count))] + "="
                            + Self.values[Int(random.next() % UInt64(Self.values.count))].replacingOccurrences(of: " ", with: "%20")
                    }
                    let uri = pairs.isEmpty ? route : route + "?" + pairs.joined(separator: "&")
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: key]) { response in
                        #expect(response.status.code < 500, "query \(index): \(uri.prefix(200)): \(response.status) \(String(buffer: response.body).prefix(300))")
                        if response.status.code >= 400 {
                            #expect(response.headers[.contentType] == "application/problem+json", "\(uri.prefix(200))")
                        }
                    }
                }
                try await http.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }
}
