import Foundation
import Hummingbird

/// Refuses, before any route sees it, a query string or path parameter that could not mean what it
/// seems to: a parameter that is not percent-encoded UTF-8, one holding a control character (NUL
/// among them: PostgreSQL text cannot hold it), or a query parameter given twice where a route reads
/// one value (`?limit=1&limit=1000`: which one counts?). 400 naming the parameter. (It runs once the
/// request is routed, so the route's path parameters are known.)
struct RequestHygieneMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Parameters a route reads as a list (`status=confirmed&status=restored`).
    static var repeatable: Set<String> { ["status"] }
    /// The longest query string accepted.
    static var maximumQueryLength: Int { 8 * 1024 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let query = request.uri.query, !query.isEmpty {
            try Self.check(query: query)
        }
        for (name, value) in context.parameters {
            guard let text = Self.decoded(value) else {
                throw InvalidInput(String(name), "is not percent-encoded UTF-8", title: "Invalid path parameter")
            }
            guard !Self.holdsControlCharacter(text) else {
                throw InvalidInput(String(name), "holds a control character (such as NUL)", title: "Invalid path parameter")
            }
        }
        return try await next(request, context)
    }

    static func check(query: String) throws {
        guard query.utf8.count <= maximumQueryLength else {
            throw InvalidInput(nil, "the query string is longer than \(maximumQueryLength) bytes")
        }
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decoded(parts[0]) else {
                throw InvalidInput(printable(parts[0]), "the parameter's name is not percent-encoded UTF-8")
            }
            guard !holdsControlCharacter(name) else {
                throw InvalidInput(printable(name[...]), "the parameter's name holds a control character")
            }
            if parts.count == 2 {
                guard let value = decoded(parts[1]) else {
                    throw InvalidInput(name, "the value is not percent-encoded UTF-8")
                }
                guard !holdsControlCharacter(value) else {
                    throw InvalidInput(name, "the value holds a control character (such as NUL)")
                }
            }
            guard seen.insert(name).inserted || repeatable.contains(name) else {
                throw InvalidInput(name, "is given more than once")
            }
        }
    }

    /// Percent-decoded text; nil when an escape is broken or the bytes are not UTF-8.
    static func decoded(_ text: Substring) -> String? {
        String(text).removingPercentEncoding
    }

    static func holdsControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// A name as it may be quoted back: at most 60 characters, control characters escaped.
    static func printable(_ text: Substring) -> String {
        String(text.prefix(60)).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }
}
