/// A database URL that cannot be used, and why.
public struct DatabaseURLError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = "invalid database URL: \(description)" }
}
