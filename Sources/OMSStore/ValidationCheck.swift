/// One named check of the seed's validation checklist (`oms_validation_report()`).
public struct ValidationCheck: Sendable, Equatable {
    public let name: String
    public let passed: Bool
    public let detail: String

    public init(name: String, passed: Bool, detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }
}
