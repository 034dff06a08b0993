import Foundation
import HTTPTypes
import Hummingbird

/// The console's session cookie (OWASP's session management advice): HttpOnly (no script reads
/// it), SameSite=Strict (no other site's page sends it), Path=/, for the session's lifetime; its
/// value is the session's random token, of which the database keeps only a hash.
///
/// Over a secure origin (HTTPS as the client sees it, or a loopback address, which browsers count
/// as secure) it is `__Host-oms_session` with `Secure`: the browser keeps it only for this host,
/// from a secure page. Over plain HTTP to another host a `Secure` cookie would not be kept at all,
/// so it is `oms_session` without `Secure`, and the page says the connection is not encrypted:
/// serve the console over TLS in production, with `oms serve --tls-cert --tls-key` (each request of
/// a TLS connection has the scheme `https`: `HTTPSSchemeHandler`) or behind a proxy that sets
/// `X-Forwarded-Proto: https`. That header is believed from whoever sends it (the service cannot
/// tell a proxy from a client): a client that lies only makes its own cookie one its browser will
/// not send back over plain HTTP.
enum SessionCookie {
    static let secureName = "__Host-oms_session"
    static let plainName = "oms_session"

    /// Whether the client reached the service over a secure origin.
    static func isSecure(_ request: Request) -> Bool {
        if request.headers[.init("X-Forwarded-Proto")!]?.lowercased() == "https" { return true }
        if request.head.scheme == "https" { return true }
        guard let authority = request.head.authority else { return false }
        let host: Substring
        if authority.hasPrefix("[") {
            host = authority.dropFirst().prefix { $0 != "]" }
        } else {
            host = authority.prefix { $0 != ":" }
        }
        return host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasPrefix("127.")
    }

    /// The session token the request's cookie carries, if any: the secure cookie, or over plain
    /// HTTP the plain one.
    static func token(in request: Request) -> String? {
        if let token = request.cookies[secureName]?.value, !token.isEmpty { return token }
        if !isSecure(request), let token = request.cookies[plainName]?.value, !token.isEmpty { return token }
        return nil
    }

    /// The `Set-Cookie` value that keeps `token` until `expires`.
    static func setting(_ token: String, expires: Date, for request: Request) -> String {
        header(value: token, maxAge: max(0, Int(expires.timeIntervalSinceNow.rounded(.down))), for: request)
    }

    /// The `Set-Cookie` value that removes the cookie.
    static func clearing(for request: Request) -> String {
        header(value: "", maxAge: 0, for: request)
    }

    static func header(value: String, maxAge: Int, for request: Request) -> String {
        let secure = isSecure(request)
        return "\(secure ? secureName : plainName)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }
}
