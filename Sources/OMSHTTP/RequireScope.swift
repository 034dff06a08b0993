import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OMSDomain
import OMSStore

/// Lets a request through only with `Authorization: Bearer KEY` naming a key in
/// force that grants `scope` (or `admin`), or with the console's session cookie of a key that
/// does: 401 without a key or with an unknown or revoked one (or an ended session), 403 with a
/// key lacking the scope, or for a session's request that changes something without its
/// `X-CSRF-Token`; all `application/problem+json`.
///
/// Every route behind it needs the database, so it also keeps requests from waiting on a
/// database that is not there (`DatabaseGate`: 503 with `Retry-After`, at once while the gate is
/// closed, within seconds otherwise), and limits failed key checks per client address
/// (`FailedKeyLimiter`: 429 with `Retry-After`, without asking the database). Each failed check is
/// logged (notice) with the client's address and the key's first characters, never the key.
///
/// The scope is the route's (`scope`), or, for the routes generated from openapi.json, the
/// operation's `x-oms-scope` (`operations`): a generated route the document gives no scope needs
/// no key (`/health`, `/ready`). The request's logger (with the key's id) is handed to the route
/// (`RequestEnvironment.logger`).
struct RequireScope<Context: RequestContext>: RouterMiddleware {
    /// Which scope a request needs.
    enum Requirement: Sendable {
        /// This scope, for every route behind the middleware.
        case scope(APIScope)
        /// The scope the document names for the operation the request was routed to.
        case operation(DocumentedOperations)
    }

    let requirement: Requirement
    let keys: KeyCheck
    /// Whether the route's work is watched by the `DatabaseGate` (503 when the database goes away
    /// while it waits). Not for the live stream: it lasts for hours, and outlives a database
    /// restart by listening again (`LiveEventHub`).
    var guardsDatabaseWork = true

    init(scope: APIScope, keys: KeyCheck, guardsDatabaseWork: Bool = true) {
        self.init(requirement: .scope(scope), keys: keys, guardsDatabaseWork: guardsDatabaseWork)
    }

    init(requirement: Requirement, keys: KeyCheck, guardsDatabaseWork: Bool = true) {
        self.requirement = requirement
        self.keys = keys
        self.guardsDatabaseWork = guardsDatabaseWork
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let scope: APIScope
        switch requirement {
        case .scope(let fixed):
            scope = fixed
        case .operation(let operations):
            guard let named = operations.operation(method: request.method, route: context.endpointPath)?.scope else {
                return try await RequestEnvironment.$logger.withValue(context.logger) { try await next(request, context) }
            }
            scope = named
        }
        let credential: Credential
        do {
            guard let presented = try Credential.of(request) else {
                return try KeyRefusal.unauthorized(
                    "this route needs an API key: send Authorization: Bearer KEY (oms keys create), or sign in to the console")
            }
            credential = presented
        } catch {
            return try KeyRefusal.unauthorized("the Authorization header must be \"Bearer KEY\"")
        }
        let key: AuthenticatedKey
        if let known = keys.remembered(credential) {
            key = known
        } else {
            let client = ClientAddress(context)
            // A request without a peer address (only Hummingbird's router tests make those) has
            // no one to count against: it is not limited.
            let countable = client != .unknown
            if countable, let wait = keys.limiter.retryAfter(for: client) {
                context.logger.debug("API key not checked: too many failed key checks from this address", metadata: [
                    "client": "\(client)", "key_prefix": "\(KeyRefusal.prefix(of: credential.secret))",
                ])
                return try KeyRefusal.tooManyFailures(retryAfter: wait)
            }
            guard let found = try await keys.authenticate(credential) else {
                // Counted like an unknown key (each costs a lookup); a browser's ended session fails
                // once only: its stale cookie is removed with the answer.
                let failure = countable ? keys.limiter.recordFailure(from: client) : .init(count: 1, limitedFor: nil)
                if case .session = credential {
                    var response = try KeyRefusal.unauthorized("the console session has ended: sign in again")
                    response.headers[.setCookie] = SessionCookie.clearing(for: request)
                    return response
                }
                context.logger.notice("API key refused: unknown or revoked", metadata: [
                    "client": "\(client)", "key_prefix": "\(KeyRefusal.prefix(of: credential.secret))", "failures": "\(failure.count)",
                    "method": "\(request.method)", "path": "\(request.uri.path)",
                ])
                if let limited = failure.limitedFor {
                    context.logger.warning("too many failed API key checks: this address's unknown keys are refused for a while", metadata: [
                        "client": "\(client)", "failures": "\(failure.count)", "retry_after_s": "\(KeyRefusal.seconds(limited))",
                    ])
                }
                return try KeyRefusal.unauthorized("unknown or revoked API key")
            }
            key = found
        }
        // A request carried by the session cookie that changes something must also carry the
        // session's CSRF token: a page of another site can make the browser send the cookie
        // (SameSite aside), never read the token.
        if let session = key.session, ![.get, .head, .options].contains(request.method),
           request.headers[.csrfToken] != session.csrfToken
        {
            context.logger.notice("console request refused: missing or wrong CSRF token", metadata: [
                "client": "\(ClientAddress(context))", "method": "\(request.method)", "path": "\(request.uri.path)",
            ])
            return try ProblemDetails(
                type: "/problems/csrf", title: "Forbidden", status: 403,
                detail: "a console action must carry the session's X-CSRF-Token header"
            ).response()
        }
        guard scope.isGranted(by: key.scopes) else {
            return try ProblemDetails(
                type: "/problems/forbidden", title: "Forbidden", status: 403,
                detail: "this route needs the scope \(scope.rawValue); the key \"\(key.name)\" has \(key.scopes.map(\.rawValue).joined(separator: ", "))"
            ).response()
        }
        var context = context
        context.logger[metadataKey: "api_key"] = "\(key.id)"
        if let session = key.session { context.logger[metadataKey: "console_session"] = "\(session.id)" }
        guard guardsDatabaseWork else { return try await next(request, context) }
        let admitted = context
        return try await RequestEnvironment.$logger.withValue(context.logger) {
            try await RequestEnvironment.$key.withValue(key) {
                try await keys.guarded { try await next(request, admitted) }
            }
        }
    }
}

extension HTTPField.Name {
    /// The console's CSRF token header (`RequireScope`).
    static let csrfToken = HTTPField.Name("X-CSRF-Token")!
}
