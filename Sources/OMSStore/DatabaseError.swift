import PostgresNIO

extension Error {
    /// The server's own words for a failed statement (message, detail, hint and
    /// SQLSTATE), instead of PostgresNIO's deliberately generic description.
    public var readableDatabaseMessage: String {
        guard let error = self as? PSQLError else { return String(describing: self) }
        guard let server = error.serverInfo, let message = server[.message] else {
            return "\(error.code)"
        }
        var text = message
        if let detail = server[.detail] { text += " (\(detail))" }
        if let hint = server[.hint] { text += "; hint: \(hint)" }
        if let state = server[.sqlState] { text += " [SQLSTATE \(state)]" }
        return text
    }

    /// The SQLSTATE of a failed statement, if the server sent one (e.g. "23514" for a check violation).
    public var databaseSQLState: String? {
        (self as? PSQLError)?.serverInfo?[.sqlState]
    }
}
