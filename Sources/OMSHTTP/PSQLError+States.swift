import PostgresNIO

extension PSQLError {
    /// Whether the server refused the statement with this SQLSTATE.
    func isState(_ state: String) -> Bool { serverInfo?[.sqlState] == state }

    /// SQLSTATE class 22 (data exception): the value sent was refused (22023 out of range, 22021 or 22P05 a
    /// character PostgreSQL text cannot hold).
    var isDataException: Bool { serverInfo?[.sqlState]?.hasPrefix("22") ?? false }
}
