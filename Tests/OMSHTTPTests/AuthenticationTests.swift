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

/// Every route but /health needs a key with the route's scope: the whole matrix of
/// scopes against routes, on a real database.
@Suite("API keys: 401 without a key in force, 403 without the scope")
struct AuthenticationTests {
    /// A route and the scope it needs.
    struct Route: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var scope: APIScope
        var body: String?
        var description: String { "\(method) \(path)" }
    }

    static let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
    static let routes: [Route] = [
        Route(method: .post, path: "/api/v1/scada/events", scope: .ingestSCADA,
              body: #"{"eventId": "A-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "timestamp": "\#(now)"}"#),
        Route(method: .post, path: "/api/v1/onu/events", scope: .ingestONU,
              body: #"{"type": "ONU_LastGaspAlert", "eventId": "A-2", "onuId": "ONU-000001", "timestamp": "\#(now)"}"#),
        Route(method: .post, path: "/api/v1/kaifa/events", scope: .ingestKAIFA,
              body: #"{"mRID": "A-3", "createdDateTime": "\#(now)", "assetMRID": "nobody", "eventType": "3.26.136.47"}"#),
        Route(method: .post, path: "/api/v1/callcenter/tickets", scope: .ingestCallCenter,
              body: #"{"ticketId": "A-4", "timestamp": "\#(now)", "customer": {"meterNumber": "M10000311"}}"#),
        Route(method: .get, path: "/api/v1/substations/SS001/meters", scope: .read),
        Route(method: .get, path: "/api/v1/feeders/FD002/meters", scope: .read),
        Route(method: .get, path: "/api/v1/meters/M10000311", scope: .read),
        Route(method: .get, path: "/api/v1/meters/M10000311/history?limit=5", scope: .read),
        Route(method: .get, path: "/api/v1/outages?active=true", scope: .read),
        Route(method: .get, path: "/api/v1/outages/OMS_NONE", scope: .read),
        Route(method: .get, path: "/api/v1/substations", scope: .read),
        Route(method: .get, path: "/api/v1/feeders?substation=SS001", scope: .read),
        Route(method: .get, path: "/api/v1/settings", scope: .read),
        Route(method: .get, path: "/api/v1/proximity/meters?lat=39.95&lng=-75.16&radius_km=1", scope: .read),
        Route(method: .put, path: "/api/v1/settings/correlation.window_minutes", scope: .admin, body: #"{"value": 60}"#),
        Route(method: .put, path: "/api/v1/meters/M10000311/status", scope: .admin,
              body: #"{"power_status": "on", "request_id": "AUTH-1"}"#),
    ]

    @Test("each scope against each route; no key, a wrong key, a revoked key; /health stays open")
    func matrix() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
            var made: [APIScope: String] = [:]
            for scope in APIScope.allCases {
                made[scope] = try await keys.create(scopes: [scope], name: scope.rawValue).key
            }
            let keyOf = made
            let (revokedID, revokedKey) = try await keys.create(scopes: [.admin], name: "gone")
            #expect(try await keys.revoke(id: revokedID))
            #expect(try await keys.revoke(id: revokedID) == false)

            try await withApp(database) { http in
                @Sendable func status(_ route: Route, authorization: String?) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let authorization { headers[.authorization] = authorization }
                    return try await http.execute(
                        uri: route.path, method: route.method, headers: headers,
                        body: route.body.map { ByteBuffer(string: $0) }
                    ) { response in
                        let body = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
                        var fields = response.headers
                        fields[.contentType] = response.headers[.contentType]
                        return (response.status, body, fields)
                    }
                }
                for route in Self.routes {
                    let (missing, problem, headers) = try await status(route, authorization: nil)
                    #expect(missing == .unauthorized, "\(route) without a key")
                    #expect(headers[.contentType] == "application/problem+json")
                    #expect(headers[.wwwAuthenticate] == #"Bearer realm="oms""#)
                    #expect(problem["status"] as? Int == 401)
                    for wrong in ["Bearer oms_not-a-key-at-all-0000000000000000000000", "Bearer \(revokedKey)", "Basic \(keyOf[.admin]!)"] {
                        let (code, _, _) = try await status(route, authorization: wrong)
                        #expect(code == .unauthorized, "\(route) with \(wrong.prefix(12))…")
                    }
                    for scope in APIScope.allCases {
                        let (code, body, headers) = try await status(route, authorization: "Bearer \(keyOf[scope]!)")
                        if scope == route.scope || scope == .admin {
                            #expect(![.unauthorized, .forbidden].contains(code), "\(route) with \(scope.rawValue): \(code)")
                            #expect(code.code < 500, "\(route) with \(scope.rawValue): \(code)")
                        } else {
                            #expect(code == .forbidden, "\(route) with \(scope.rawValue): \(code)")
                            #expect(headers[.contentType] == "application/problem+json")
                            #expect((body["detail"] as? String)?.contains("needs the scope \(route.scope.rawValue)") == true)
                        }
                    }
                }
                let health = try await http.execute(uri: "/health", method: .get) { $0.status }
                #expect(health == .ok)
            }
        }
    }

    @Test("the database keeps a key's SHA-256 and first characters, never the key; bad scopes are refused by name")
    func storedHashed() async throws {
        try await TestDatabase.with(.migrated) { database in
            let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
            let (id, key) = try await keys.create(scopes: [.read, .ingestONU, .read], name: "dashboard")
            #expect(key.hasPrefix("oms_") && key.count == 47)
            let rowText = try await database.client.scalar("SELECT row_to_json(k)::text FROM oms_api_keys k", as: String.self)
            #expect(!rowText.contains(key), "the key itself is not stored")
            #expect(!rowText.contains(String(key.dropFirst(12))), "nor any part of it beyond the first 12 characters")
            let hashMatches = try await database.client.scalar(
                "SELECT key_sha256 = sha256(convert_to(\(key), 'UTF8')) FROM oms_api_keys", as: Bool.self)
            #expect(hashMatches)
            let listed = try await keys.list()
            #expect(listed.map(\.id) == [id])
            #expect(listed.first?.scopes == [.ingestONU, .read])
            #expect(listed.first?.prefix == String(key.prefix(12)))
            #expect(try await keys.authenticate(key)?.name == "dashboard")
            #expect(try await keys.authenticate(key + "x") == nil)

            await #expect {
                _ = try await database.psql(
                    "SELECT oms_api_key_create('oms_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', ARRAY['read', 'write:all'])")
            } throws: { error in
                (error as? PsqlError)?.output.contains("unknown scope write:all") == true
            }
            await #expect {
                _ = try await database.psql("SELECT oms_api_key_create('short', ARRAY['read'])")
            } throws: { error in
                (error as? PsqlError)?.output.contains("at least 32 characters") == true
            }
        }
    }

    @Test("a key revoked while the service runs is refused at once, though the service remembers keys it has checked")
    func revokedWhileRunning() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
            let (id, key) = try await keys.create(scopes: [.read], name: "soon gone")
            try await withApp(database) { http in
                func status() async throws -> HTTPResponse.Status {
                    try await http.execute(uri: "/api/v1/settings", method: .get, headers: [.authorization: "Bearer \(key)"]) { $0.status }
                }
                #expect(try await status() == .ok)
                #expect(try await status() == .ok)
                // Revoked through another connection (as `oms keys revoke` does); the announcement reaches the service.
                let started = ContinuousClock.now
                var refused = false
                // A minute is how long the service would take the key on trust without the announcement;
                // a loaded machine may be slow, so allow most of that minute, not all of it.
                while !refused && ContinuousClock.now - started < .seconds(45) {
                    if ContinuousClock.now - started > .milliseconds(300), try await database.client.scalar(
                        "SELECT revoked_at IS NULL FROM oms_api_keys WHERE id = \(id)", as: Bool.self) {
                        _ = try await keys.revoke(id: id)
                    }
                    refused = try await status() == .unauthorized
                    if !refused { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(refused)
                #expect(ContinuousClock.now - started < .seconds(45), "within the minute a key is remembered")
            }
        }
    }
}
