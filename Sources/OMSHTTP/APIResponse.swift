import Hummingbird
import NIOCore
import PostgresNIO

/// The answers the read routes share: JSON the database wrote, lists and cursor pages.
enum APIResponse {
    /// The largest page (or list) a client may ask for.
    static let maximumPageSize = 1000

    /// 200 with JSON text as it is.
    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `{"items": [...]}` of JSON objects.
    static func items(_ rows: [String]) -> Response {
        json(#"{"items":["# + rows.joined(separator: ",") + "]}")
    }

    /// `{"items": [...], "next_cursor": ...}` from up to `limit + 1` rows: a row beyond the page means there is a next one.
    static func page(_ rows: [(json: String, cursor: String)], limit: Int) -> Response {
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { "\"\($0.cursor)\"" } ?? "null" : "null"
        return json(#"{"items":["# + page.map(\.json).joined(separator: ",") + #"],"next_cursor":"# + next + "}")
    }
}

/// A query parameter or body field that is refused. Routes throw it; `ProblemMiddleware`
/// answers 400 `application/problem+json` naming the field.
struct InvalidInput: Error {
    var field: String?
    var reason: String
    var title = "Invalid query parameter"

    init(_ field: String?, _ reason: String, title: String = "Invalid query parameter") {
        self.field = field
        self.reason = reason
        self.title = title
    }

    /// A SQL function's refusal (SQLSTATE 22023): its COLUMN `p_x` names the parameter `x`.
    init(_ error: PSQLError) {
        let column = error.serverInfo?[.columnName] ?? ""
        self.init(column.hasPrefix("p_") ? String(column.dropFirst(2)) : column, error.serverInfo?[.message] ?? "invalid")
    }

    var problem: ProblemDetails {
        ProblemDetails(
            type: "/problems/invalid-input", title: title, status: 400, detail: field.map { "\($0): \(reason)" } ?? reason,
            errors: [ProblemDetails.FieldError(index: nil, field: field, reason: reason)])
    }
}

extension PSQLError {
    /// Whether the server refused the statement with this SQLSTATE.
    func isState(_ state: String) -> Bool { serverInfo?[.sqlState] == state }
}

extension Request {
    /// The `limit` query parameter: 100 when absent, else a whole number from 1 to `APIResponse.maximumPageSize`.
    func pageLimit(_ noun: String = "page size") throws -> Int {
        let text = uri.queryParameters["limit"].map(String.init)
        guard let limit = text.map({ Int($0) }) ?? 100, (1...APIResponse.maximumPageSize).contains(limit) else {
            throw InvalidInput("limit", "\(text ?? "") is not a \(noun) from 1 to \(APIResponse.maximumPageSize)")
        }
        return limit
    }
}
