import Foundation
import Hummingbird

/// What a request presents to say who it is: an API key (`Authorization: Bearer KEY`), or the
/// console's session cookie (set at sign-in, `ConsoleController`). The header wins when both come.
enum Credential: Sendable, Hashable {
    case key(String)
    case session(String)

    /// A malformed `Authorization` header.
    struct Malformed: Error {}

    /// The request's credential; nil when it presents none; `Malformed` for an Authorization
    /// header that is not "Bearer KEY".
    static func of(_ request: Request) throws -> Credential? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw Malformed() }
            return .key(parts[1].trimmingCharacters(in: .whitespaces))
        }
        return SessionCookie.token(in: request).map(Credential.session)
    }

    /// The secret itself (never logged whole).
    var secret: String {
        switch self {
        case .key(let key): key
        case .session(let token): token
        }
    }

    /// How it is remembered (`KeyCheck`): a key and a session token never collide.
    var memoryKey: String {
        switch self {
        case .key(let key): "key:" + key
        case .session(let token): "session:" + token
        }
    }
}
