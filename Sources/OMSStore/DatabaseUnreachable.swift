/// The database cannot be used, in the words of the server (or of the network), and where it was.
///
/// `reason` is what PostgreSQL said (`database "x" does not exist`, `password authentication failed
/// for user "u"`, `role "u" does not exist`) or what the connection attempt met (`connection
/// refused at 127.0.0.1:5999`, `cannot resolve host "db.example"`, `no answer within 5 s`).
public struct DatabaseUnreachable: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where: `user@host:port/database` or `user@/database (socket path)`.
    public var target: String
    public var reason: String

    public init(target: String, reason: String) {
        self.target = target
        self.reason = reason
    }

    public var description: String { "cannot use the database \(target): \(reason)" }
}
