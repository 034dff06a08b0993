/// A database that is needed, does not exist and could not be created.
public struct DatabaseCreationError: Error, CustomStringConvertible, Sendable {
    public var database: String
    /// The server, as the maintenance connection named it (`user@host:port/db`).
    public var server: String
    public var user: String
    /// The server's words (e.g. "permission denied to create database [SQLSTATE 42501]").
    public var reason: String

    public var description: String {
        var text = "the database \"\(database)\" does not exist and cannot be created (connected as \(server)): \(reason)"
        if reason.contains("42501") {
            text += "; create it as a role that may (CREATE DATABASE \(DatabaseBootstrap.quoteIdentifier(database)) OWNER \(DatabaseBootstrap.quoteIdentifier(user))), or grant CREATEDB to \(DatabaseBootstrap.quoteIdentifier(user))"
        }
        return text
    }
}
