import PostgresNIO

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
