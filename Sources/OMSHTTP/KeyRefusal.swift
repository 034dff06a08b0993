import Hummingbird
import OMSDomain

/// The answers to a request whose key is refused, shared by `RequireScope` and the console's
/// sign-in: 401 with `WWW-Authenticate`, 429 with `Retry-After`, and what a log may show of a key.
enum KeyRefusal {
    static func unauthorized(_ detail: String) throws -> Response {
        var response = try ProblemDetails(type: "/problems/unauthorized", title: "Unauthorized", status: 401, detail: detail).response()
        response.headers[.wwwAuthenticate] = "Bearer realm=\"oms\""
        return response
    }

    static func tooManyFailures(retryAfter: Duration) throws -> Response {
        let seconds = Self.seconds(retryAfter)
        var response = try ProblemDetails(
            type: "/problems/too-many-requests", title: "Too Many Requests", status: 429,
            detail: "too many failed API key checks from this address; try again in \(seconds) s"
        ).response()
        response.headers[.retryAfter] = "\(seconds)"
        return response
    }

    /// Whole seconds, rounded up, at least 1.
    static func seconds(_ duration: Duration) -> Int {
        max(1, Int(duration.seconds.rounded(.up)))
    }

    /// What the log may show of a presented key: at most its first 12 characters (what `oms keys
    /// list` shows of a real key), and never more than a third of it.
    static func prefix(of key: String) -> String {
        let shown = min(12, key.count / 3)
        return shown == 0 ? "(\(key.count) characters)" : String(key.prefix(shown)) + "…"
    }
}
