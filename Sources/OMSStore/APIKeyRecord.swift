import Foundation
import OMSDomain

/// An API key as stored (never the key itself: its SHA-256 and first characters).
public struct APIKeyRecord: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var scopes: [APIScope]
    /// The key's first 12 characters, to recognise it.
    public var prefix: String
    public var createdAt: Date
    public var revokedAt: Date?
}
