/// One statement of a SQL script, with the line it starts on (1-based).
public struct SQLStatement: Equatable, Sendable {
    /// The statement's text, without the terminating semicolon.
    public let text: String
    /// The line of the script on which the statement's first token stands.
    public let line: Int
}
