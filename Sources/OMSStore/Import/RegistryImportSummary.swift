/// What importing one file did.
public struct RegistryImportSummary: Sendable, Equatable {
    public var file: String
    public var kind: RegistryKind
    public var rowsRead: Int
    public var inserted: Int
    public var updated: Int
    public var unchanged: Int
    /// Refused rows, by line.
    public var rejects: [RegistryReject]
}
