import Foundation
import OMSDomain

/// The key a request presented, when it is one in force; or, for a console session
/// (`session` set), the key the session was opened with.
public struct AuthenticatedKey: Sendable, Equatable {
    /// A console session: the browser's sign-in with a key (`23_console.sql`).
    public struct Session: Sendable, Equatable {
        public var id: UUID
        /// When it ends at the latest.
        public var expiresAt: Date
        /// What the page must send with every action (`X-CSRF-Token`).
        public var csrfToken: String
    }

    public var id: UUID
    public var name: String
    public var scopes: [APIScope]
    /// The console session the request came with (nil: the key itself was presented).
    public var session: Session?

    public init(id: UUID, name: String, scopes: [APIScope], session: Session? = nil) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.session = session
    }
}
