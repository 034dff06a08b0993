import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSHTTP

/// The console's sign-in: a session cookie instead of the key, CSRF tokens on actions, sign-out
/// and revocation ending sessions, the console's reads.
@Suite("Console sessions: cookie, CSRF, sign-out, revocation, reads")
struct ConsoleSessionTests {
    /// Signs in with `key` (without "Bearer "); (status, Set-Cookie, body).
    static func signIn(_ http: any TestClientProtocol, key: String) async throws -> (HTTPResponse.Status, String?, [String: Any]) {
        try await http.execute(
            uri: "/api/v1/console/session", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"key": "\#(key)"}"#)
        ) { ($0.status, $0.headers[.setCookie], try json($0)) }
    }

    /// "name=value" of a Set-Cookie value.
    static func cookie(_ setCookie: String?) -> String {
        String(setCookie?.split(separator: ";").first ?? "")
    }

    static func key(_ bearer: String) -> String { String(bearer.dropFirst("Bearer ".count)) }

    @Test("sign-in: a key that grants read gets a HttpOnly, SameSite=Strict, Secure __Host- cookie and a CSRF token; the cookie opens the reads; refusals store nothing")
    func signIn() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let operate = try await bearer(database, [.read, .operate])
            let ingest = try await bearer(database, [.ingestSCADA])
            try await withApp(database) { http in
                let (status, setCookie, body) = try await Self.signIn(http, key: Self.key(operate))
                #expect(status == .ok)
                let attributes = try #require(setCookie).split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                #expect(attributes.first?.hasPrefix("__Host-oms_session=") == true)
                #expect(Set(attributes.dropFirst()).isSuperset(of: ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"]))
                #expect(attributes.contains { $0.hasPrefix("Max-Age=") && Int($0.dropFirst(8)).map { $0 > 11 * 3600 && $0 <= 12 * 3600 } == true })
                #expect((body["csrf_token"] as? String)?.count == 64)
                #expect(body["name"] as? String == "test")
                #expect(body["scopes"] as? [String] == ["operate", "read"])
                // The cookie's value is not the key, and the database keeps only its hash.
                let token = String(Self.cookie(setCookie).dropFirst("__Host-oms_session=".count))
                #expect(token.count >= 43 && !operate.contains(token))
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_console_sessions WHERE token_sha256 = sha256(convert_to(\(token), 'UTF8'))", as: Int.self) == 1)

                let cookie = Self.cookie(setCookie)
                let (summaryStatus, summary) = try await http.execute(
                    uri: "/api/v1/console/summary", method: .get, headers: [.cookie: cookie]) { ($0.status, try json($0)) }
                #expect(summaryStatus == .ok)
                #expect(summary["active_outages"] as? Int == 0)
                let who = try await http.execute(uri: "/api/v1/console/session", method: .get, headers: [.cookie: cookie]) { try json($0) }
                #expect(who["csrf_token"] as? String == body["csrf_token"] as? String)

                // Refusals: an unknown key, a key without read, a body that is not {"key"}: no session stored.
                let before = try await database.client.scalar("SELECT count(*)::int FROM oms_console_sessions", as: Int.self)
                #expect(try await Self.signIn(http, key: "oms_nope").0 == .unauthorized)
                let (noRead, _, problem) = try await Self.signIn(http, key: Self.key(ingest))
                #expect(noRead == .forbidden)
                #expect((problem["detail"] as? String)?.contains("scope read") == true)
                let badBody = try await http.execute(
                    uri: "/api/v1/console/session", method: .post, body: ByteBuffer(string: "key=x")) { $0.status }
                #expect(badBody == .badRequest)
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_console_sessions WHERE ended_at IS NULL", as: Int.self) == before)
                // A forged cookie opens nothing.
                let forged = try await http.execute(
                    uri: "/api/v1/console/summary", method: .get, headers: [.cookie: "__Host-oms_session=\(String(repeating: "A", count: 43))"]
                ) { $0.status }
                #expect(forged == .unauthorized)
            }
        }
    }

    @Test("a session's action needs its CSRF token: without it or with a wrong one 403 and nothing done; with it done, in the key's name")
    func csrf() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let operate = try await bearer(database, [.read, .operate])
            let ingest = try await bearer(database, [.ingestSCADA])
            try await withApp(database) { http in
                let trip = #"{"eventId": "C-1", "eventType": "Lockout", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "Lockout"}"#
                let created = try await http.execute(
                    uri: "/api/v1/scada/events", method: .post, headers: [.authorization: ingest, .contentType: "application/json"],
                    body: ByteBuffer(string: trip)) { try json($0) }
                let code = try #require(created["outage_event_code"] as? String)
                let (_, setCookie, session) = try await Self.signIn(http, key: Self.key(operate))
                let csrf = try #require(session["csrf_token"] as? String)
                func act(_ token: String?) async throws -> HTTPResponse.Status {
                    var headers: HTTPFields = [.cookie: Self.cookie(setCookie), .contentType: "application/json"]
                    if let token { headers[.csrfToken] = token }
                    return try await http.execute(
                        uri: "/api/v1/outages/\(code)/actions", method: .post, headers: headers,
                        body: ByteBuffer(string: #"{"action": "assign", "crew": "Crew 9"}"#)) { $0.status }
                }
                #expect(try await act(nil) == .forbidden)
                #expect(try await act(String(repeating: "0", count: 64)) == .forbidden)
                #expect(try await database.client.scalar(
                    "SELECT crew IS NULL FROM oms_outage_events WHERE event_id = \(code)", as: Bool.self))
                #expect(try await act(csrf) == .ok)
                #expect(try await database.client.scalar(
                    "SELECT crew FROM oms_outage_events WHERE event_id = \(code)", as: String.self) == "Crew 9")
                // The console's outage page: its actions now, its timeline naming the key.
                let page = try await http.execute(
                    uri: "/api/v1/console/outages/\(code)?meters=5", method: .get, headers: [.cookie: Self.cookie(setCookie)]) { try json($0) }
                #expect(page["actions"] as? [String] == ["acknowledge", "assign", "cancel", "etr", "merge", "restore", "split"])
                #expect((page["meters"] as? [Any])?.count == 5)
                #expect(page["meters_total"] as? Int == 300)
                let timeline = try #require(page["timeline"] as? [[String: Any]])
                #expect(timeline.contains { ($0["description"] as? String)?.contains("— test") == true })
                // A key (not a session) needs no CSRF token: CSRF is a browser's problem.
                let byKey = try await http.execute(
                    uri: "/api/v1/outages/\(code)/actions", method: .post, headers: [.authorization: operate, .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"action": "acknowledge"}"#)) { $0.status }
                #expect(byKey == .ok)
            }
        }
    }

    @Test("sign-out ends the session at once and removes the cookie; revoking the key ends its sessions; an expired session opens nothing")
    func endings() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let operate = try await bearer(database, [.read, .operate])
            try await withApp(database) { http in
                func status(_ cookie: String) async throws -> HTTPResponse.Status {
                    try await http.execute(uri: "/api/v1/console/summary", method: .get, headers: [.cookie: cookie]) { $0.status }
                }
                let (_, first, session) = try await Self.signIn(http, key: Self.key(operate))
                let csrf = try #require(session["csrf_token"] as? String)
                #expect(try await status(Self.cookie(first)) == .ok)
                let (signedOut, cleared) = try await http.execute(
                    uri: "/api/v1/console/session", method: .delete, headers: [.cookie: Self.cookie(first), .csrfToken: csrf]
                ) { ($0.status, $0.headers[.setCookie]) }
                #expect(signedOut == .noContent)
                #expect(cleared?.contains("Max-Age=0") == true)
                #expect(try await status(Self.cookie(first)) == .unauthorized)

                // Revoking the key ends every session opened with it.
                let (_, second, _) = try await Self.signIn(http, key: Self.key(operate))
                #expect(try await status(Self.cookie(second)) == .ok)
                let keyID = try await database.client.scalar(
                    "SELECT key_id FROM oms_console_sessions WHERE ended_at IS NULL", as: UUID.self)
                #expect(try await APIKeyStore(client: database.client, logger: TestDatabase.logger).revoke(id: keyID))
                // This instance learns it from the database's announcement (LISTEN), within moments.
                var refused = false
                for _ in 0..<100 where !refused {
                    refused = try await status(Self.cookie(second)) == .unauthorized
                    if !refused { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(refused, "a session of a revoked key is refused")
            }
            // A session past its end opens nothing (the SQL function, as the service asks it).
            let other = try await bearer(database, [.read])
            let store = ConsoleStore(client: database.client, logger: TestDatabase.logger)
            let token = ConsoleStore.generateToken()
            let opened = try #require(try await store.openSession(key: Self.key(other), token: token, hours: 1, client: "test"))
            let sessionID = try #require(opened.session?.id)
            #expect(try await store.authenticateSession(token) != nil)
            // Its end moved into the past (a short lifetime raced a loaded CI machine: the session
            // could expire before the first check).
            try await database.client.execute("""
                UPDATE oms_console_sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second'
                WHERE id = \(sessionID)
                """)
            #expect(try await store.authenticateSession(token) == nil)
        }
    }

    @Test("the cookie is __Host- and Secure over HTTPS or loopback, plain oms_session over HTTP to another host; a plain cookie is never read on a secure origin")
    func cookieNames() {
        func request(_ authority: String, scheme: String = "http", headers: HTTPFields = [:]) -> Request {
            Request(head: HTTPRequest(method: .get, scheme: scheme, authority: authority, path: "/", headerFields: headers), body: .init(buffer: ByteBuffer()))
        }
        let expires = Date().addingTimeInterval(3600)
        for secure in [request("127.0.0.1:8080"), request("localhost"), request("[::1]:80"), request("oms.example", scheme: "https"),
                       request("oms.example", headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"])] {
            #expect(SessionCookie.isSecure(secure))
            let value = SessionCookie.setting("T", expires: expires, for: secure)
            #expect(value.hasPrefix("__Host-oms_session=T;") && value.hasSuffix("; Secure"))
        }
        let plain = request("oms.example:8080")
        #expect(!SessionCookie.isSecure(plain))
        let value = SessionCookie.setting("T", expires: expires, for: plain)
        #expect(value.hasPrefix("oms_session=T;") && !value.contains("Secure"))
        #expect(SessionCookie.token(in: request("oms.example", headers: [.cookie: "oms_session=abc"])) == "abc")
        #expect(SessionCookie.token(in: request("localhost", headers: [.cookie: "oms_session=abc"])) == nil)
        #expect(SessionCookie.token(in: request("localhost", headers: [.cookie: "__Host-oms_session=xyz"])) == "xyz")
    }

    @Test("the console's page is served at / with a Content-Security-Policy of its own origin (and the tile server's), no framing")
    func pageAndPolicy() async throws {
        let policy = SecurityHeadersMiddleware<OMSRequestContext>(tileURL: "https://{s}.tile.example/{z}/{x}/{y}.png").policy
        #expect(policy.contains("img-src 'self' data: https://*.tile.example;"))
        #expect(policy.contains("script-src 'self';") && policy.contains("frame-ancestors 'none'"))
        #expect(!SecurityHeadersMiddleware<OMSRequestContext>(tileURL: "").policy.contains("https:"))
        try await TestDatabase.with(.migrated) { database in
            try await withApp(database) { http in
                let (status, type, headers, body) = try await http.execute(uri: "/", method: .get) {
                    ($0.status, $0.headers[.contentType], $0.headers, String(buffer: $0.body))
                }
                #expect(status == .ok && type?.hasPrefix("text/html") == true)
                #expect(body.contains("<script src=\"/console.js\" defer></script>"))
                #expect(headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
                #expect(headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                let script = try await http.execute(uri: "/console.js", method: .get) { ($0.status, $0.headers[.contentType]) }
                #expect(script.0 == .ok && script.1?.contains("javascript") == true)
                let leaflet = try await http.execute(uri: "/vendor/leaflet/leaflet.js", method: .get) { $0.status }
                #expect(leaflet == .ok, "Leaflet from /usr/share/javascript/leaflet (libjs-leaflet)")
                let escape = try await http.execute(uri: "/vendor/leaflet/../../../../etc/passwd", method: .get) { $0.status }
                #expect(escape != .ok)
            }
        }
    }

    @Test("the console's reads refuse bad parameters by name: bbox, zoom, ids, recent_minutes, meters, from")
    func badParameters() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let read = try await bearer(database, [.read])
            try await withApp(database) { http in
                for (uri, field) in [
                    ("/api/v1/console/network?zoom=3", "bbox"), ("/api/v1/console/network?bbox=a,b,c,d&zoom=3", "bbox"),
                    ("/api/v1/console/network?bbox=10,0,5,1&zoom=3", "bbox"), ("/api/v1/console/network?bbox=0,0,1,1&zoom=40", "zoom"),
                    ("/api/v1/console/outages?recent_minutes=x", "recent_minutes"),
                    ("/api/v1/console/outages?ids=" + Array(repeating: "X", count: 501).joined(separator: ","), "ids"),
                    ("/api/v1/console/outages/X?meters=9999", "meters"), ("/api/v1/console/reliability/daily?from=yesterday", "from"),
                    ("/api/v1/console/reliability/daily?feeder=NOPE", "feeder"),
                ] {
                    let (status, problem) = try await http.execute(uri: uri, method: .get, headers: [.authorization: read]) {
                        ($0.status, try json($0))
                    }
                    #expect(status == .badRequest, "\(uri)")
                    #expect((problem["detail"] as? String)?.hasPrefix(field) == true, "\(uri): \(problem["detail"] ?? "")")
                }
            }
        }
    }

    @Test("events per second: the last whole seconds' counts over the window, nothing older than a minute")
    func eventRate() {
        let rate = EventRate()
        let now = Date(timeIntervalSince1970: 1_000_000)
        rate.record(100, now: now.addingTimeInterval(-1))
        rate.record(50, now: now.addingTimeInterval(-2))
        rate.record(1_000, now: now)  // the current second is not over: not counted yet
        rate.record(7, now: now.addingTimeInterval(-61))  // a minute ago: its slot is reused
        #expect(rate.perSecond(over: 10, now: now) == 15)
        #expect(rate.perSecond(over: 1, now: now) == 100)
        #expect(rate.perSecond(over: 59, now: now) == 150.0 / 59)
    }

    @Test("a sign-out announced by the database ends that session's live streams, not others")
    func signOutEndsStreams() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let hub = LiveEventHub(client: client, logger: TestDatabase.logger, keyCheck: KeyCheck(store: APIKeyStore(client: client, logger: TestDatabase.logger)))
            let session = UUID()
            // (The streams are kept: a stream nobody holds ends its subscription.)
            let (endedStream, ended) = hub.subscribe(keyID: UUID(), sessionID: session)
            let (otherStream, other) = hub.subscribe(keyID: UUID(), sessionID: UUID())
            withExtendedLifetime((endedStream, otherStream)) {
                hub.publish(#"{"type": "console_session.ended", "session_id": "\#(session)"}"#)
                #expect(ended.reason == .signedOut)
                #expect(other.reason == nil)
            }
        }
    }
}
