/// A refused row: where, which field, why.
public struct RegistryReject: Sendable, Equatable, Codable {
    public var line: Int
    public var field: String?
    public var reason: String

    public init(line: Int, field: String?, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }
}
