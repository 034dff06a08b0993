import Foundation
import OMSDomain

/// The key a request presented, when it is one in force.
public struct AuthenticatedKey: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var scopes: [APIScope]
}
