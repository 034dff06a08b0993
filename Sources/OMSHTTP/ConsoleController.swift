import Foundation
import Hummingbird
import OMSDomain
import OMSStore
import PostgresNIO

/// The operator console's API (`/api/v1/console/...`): signing in and out, and the reads its page
/// makes — the network for a map view, the work list, one outage's page, the storm summary, daily
/// SAIDI. The reads answer the JSON the database builds (`23_console.sql`) as it is.
///
/// Signing in: `POST /api/v1/console/session` with `{"key": "oms_..."}` opens a session for the key
/// (it must grant `read`) and sets the session cookie (`SessionCookie`); the answer gives the
/// session's CSRF token, which the page keeps in memory (never in storage) and sends with every
/// action. Unknown keys count against the address like any failed key check (`FailedKeyLimiter`).
struct ConsoleController: Sendable {
    let store: ConsoleStore
    let keys: KeyCheck
    let settings: ConsoleSettings
    let metrics: ServiceMetrics
    /// The most meters an outage's page lists.
    static let meterPageLimit = 5000
    /// The most outages `?ids=` may name.
    static let idsLimit = 500

    /// The session as the page learns it (sign-in and `GET /api/v1/console/session`).
    struct SessionInfo: Encodable {
        var name: String
        var scopes: [String]
        var expiresAt: Date
        var csrfToken: String
        /// Whether the cookie is kept only over a secure origin; false: the page warns.
        var secure: Bool
        var tileURL: String
        var tileAttribution: String

        enum CodingKeys: String, CodingKey {
            case name, scopes, secure
            case expiresAt = "expires_at", csrfToken = "csrf_token", tileURL = "tile_url", tileAttribution = "tile_attribution"
        }
    }

    /// The sign-in request's body.
    struct SignIn: Decodable {
        var key: String
    }

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        let console = api.group("console")
        console.post("session", use: signIn)
        let reading = console.group().add(middleware: RequireScope(scope: .read, keys: keys))
        reading.get("session") { request, _ in try self.sessionInfo(request) }
        reading.delete("session") { request, _ in try await self.signOut(request) }
        reading.get("network") { request, _ in
            let query = request.uri.queryParameters
            let box = try Self.boundingBox(query.get("bbox"))
            let zoom = try Self.integer(query.get("zoom"), "zoom", in: 0...22)
            return try await Self.answer { try await store.network(west: box[0], south: box[1], east: box[2], north: box[3], zoom: zoom) }
        }
        reading.get("outages") { request, _ in
            let query = request.uri.queryParameters
            let ids = try query.get("ids").map(Self.eventIDs)
            let recent = try query.get("recent_minutes").map { try Self.integer($0, "recent_minutes", in: 0...10_080) } ?? 60
            return try await Self.answer { try await store.outages(eventIDs: ids, recentMinutes: recent) }
        }
        reading.get("outages/{event_id}") { request, context in
            let eventID = try context.parameters.require("event_id")
            let meters = try request.uri.queryParameters.get("meters").map {
                try Self.integer($0, "meters", in: 0...Self.meterPageLimit)
            } ?? 500
            guard let json = try await store.outage(eventID: eventID, meterLimit: meters) else {
                throw ProblemDetails.notFound("no outage \(eventID)")
            }
            return Self.json(json)
        }
        reading.get("summary") { _, _ in
            let summary = try await store.summary()
            // The feed events this instance received per second over the last 10 s, added to the
            // database's counts.
            let rate = String(format: "%.1f", metrics.eventRate.perSecond(over: 10))
            return Self.json(String(summary.dropLast()) + ", \"events_per_second\": \(rate)}")
        }
        reading.get("reliability/daily") { request, _ in
            let query = request.uri.queryParameters
            let from = try query.get("from").map { try Self.time($0, "from") }
            let to = try query.get("to").map { try Self.time($0, "to") }
            return try await Self.answer {
                try await store.dailyReliability(from: from, to: to, substation: query.get("substation"), feeder: query.get("feeder"))
            }
        }
    }

    /// `POST /api/v1/console/session`.
    @Sendable func signIn(_ request: Request, context: some RequestContext) async throws -> Response {
        let client = ClientAddress(context)
        let countable = client != .unknown
        if countable, let wait = keys.limiter.retryAfter(for: client) {
            return try KeyRefusal.tooManyFailures(retryAfter: wait)
        }
        try keys.admit()
        let body = try await request.body.collect(upTo: 4096)
        guard let signIn = try? JSONDecoder().decode(SignIn.self, from: body) else {
            throw InvalidInput("key", "the body must be {\"key\": \"oms_...\"} (at most 4 KiB)", title: "Invalid body")
        }
        let token = ConsoleStore.generateToken()
        let opened = try await keys.guarded {
            try await store.openSession(key: signIn.key, token: token, hours: settings.sessionHours, client: "\(client)")
        }
        guard let key = opened else {
            let failure = countable ? keys.limiter.recordFailure(from: client) : .init(count: 1, limitedFor: nil)
            context.logger.notice("console sign-in refused: unknown or revoked API key", metadata: [
                "client": "\(client)", "key_prefix": "\(KeyRefusal.prefix(of: signIn.key))",
                "failures": "\(failure.count)",
            ])
            return try KeyRefusal.unauthorized("unknown or revoked API key")
        }
        guard APIScope.read.isGranted(by: key.scopes) else {
            _ = try? await store.closeSession(token)
            return try ProblemDetails(
                type: "/problems/forbidden", title: "Forbidden", status: 403,
                detail: "the console needs a key with the scope read; the key \"\(key.name)\" has \(key.scopes.map(\.rawValue).joined(separator: ", "))"
            ).response()
        }
        keys.remember(key, as: .session(token))
        context.logger.notice("console session opened", metadata: [
            "client": "\(client)", "api_key": "\(key.id)", "console_session": "\(key.session.map { "\($0.id)" } ?? "-")",
        ])
        var response = try JSONResponse.make(info(key, request: request), status: .ok)
        response.headers[.setCookie] = SessionCookie.setting(token, expires: key.session?.expiresAt ?? Date(), for: request)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// `GET /api/v1/console/session`: who the page is signed in as (also a key's holder).
    func sessionInfo(_ request: Request) throws -> Response {
        guard let key = RequestEnvironment.key else { throw ProblemDetails.notFound("no session") }
        var response = try JSONResponse.make(info(key, request: request), status: .ok)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// `DELETE /api/v1/console/session`: signs the session out (announced to every instance) and
    /// removes the cookie. With a key instead of a session: nothing to sign out, 204 all the same.
    func signOut(_ request: Request) async throws -> Response {
        if case .session(let token)? = try? Credential.of(request) {
            _ = try await store.closeSession(token)
            keys.forget(.session(token))
        }
        var response = Response(status: .noContent)
        response.headers[.setCookie] = SessionCookie.clearing(for: request)
        return response
    }

    func info(_ key: AuthenticatedKey, request: Request) -> SessionInfo {
        SessionInfo(
            name: key.name, scopes: key.scopes.map(\.rawValue), expiresAt: key.session?.expiresAt ?? .distantFuture,
            csrfToken: key.session?.csrfToken ?? "", secure: SessionCookie.isSecure(request),
            tileURL: settings.tileURL, tileAttribution: settings.tileAttribution)
    }

    /// Runs a read; a refusal of the SQL function (SQLSTATE 22023) is a 400 naming the parameter.
    static func answer(_ read: () async throws -> String) async throws -> Response {
        do {
            return json(try await read())
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput(error)
        }
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `bbox=west,south,east,north` in degrees.
    static func boundingBox(_ text: String?) throws -> [Double] {
        guard let text else { throw InvalidInput("bbox", "required: west,south,east,north in degrees") }
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
        guard values.count == 4, values.allSatisfy({ $0?.isFinite == true }) else {
            throw InvalidInput("bbox", "\(text.prefix(100)) is not four numbers west,south,east,north")
        }
        return values.map { $0! }
    }

    static func integer(_ text: String?, _ name: String, in range: ClosedRange<Int>) throws -> Int {
        guard let text else { throw InvalidInput(name, "required: a whole number from \(range.lowerBound) to \(range.upperBound)") }
        guard let value = Int(text), range.contains(value) else {
            throw InvalidInput(name, "\(text.prefix(40)) is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `ids=A,B,C`: outage event ids, at most `idsLimit`, each at most 200 characters.
    static func eventIDs(_ text: String) throws -> [String] {
        let ids = text.split(separator: ",").map(String.init)
        guard ids.count <= idsLimit, ids.allSatisfy({ $0.count <= 200 && !$0.contains("\u{0}") }) else {
            throw InvalidInput("ids", "at most \(idsLimit) event ids of at most 200 characters each, comma-separated")
        }
        return ids
    }

    static func time(_ text: String, _ name: String) throws -> Date {
        guard let date = ISO8601Time.parse(text) else {
            throw InvalidInput(name, "\(text.prefix(60)) is not an ISO 8601 time with a zone (2026-01-15T14:00:00Z)")
        }
        return date
    }
}

/// The console's settings (`oms serve --session-hours --leaflet-dir --map-tiles`).
public struct ConsoleSettings: Sendable {
    /// How long a console session lasts at most (hours; a shift, by default 12).
    public var sessionHours: Double = 12
    /// Where Leaflet is (Debian's libjs-leaflet puts it here); served at `/vendor/leaflet/`.
    public var leafletDirectory = "/usr/share/javascript/leaflet"
    /// A tile layer's URL template (`https://tile.example/{z}/{x}/{y}.png`); empty: no tiles, the
    /// network is the map (control rooms are often offline).
    public var tileURL = ""
    /// The tiles' attribution, shown on the map.
    public var tileAttribution = ""

    public init() {}
}
