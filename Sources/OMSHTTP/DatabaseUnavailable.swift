/// The database is unavailable to this request: answered 503 with `Retry-After` (ProblemMiddleware).
/// `reason` goes to the log; the answer points at `GET /ready`, which says it.
public struct DatabaseUnavailable: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { "the database is unavailable: \(reason)" }
}
