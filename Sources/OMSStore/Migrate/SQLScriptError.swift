/// A malformed script: a quote, comment or dollar-quoted body that never ends.
public struct SQLScriptError: Error, Equatable, CustomStringConvertible {
    /// What was left open, e.g. "dollar-quoted string $$".
    public let unterminated: String
    /// The line on which it was opened.
    public let line: Int

    public init(unterminated: String, line: Int) {
        self.unterminated = unterminated
        self.line = line
    }

    public var description: String { "unterminated \(unterminated) opened on line \(line)" }
}
