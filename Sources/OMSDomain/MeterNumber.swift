/// A meter number as the registry stores it (`oms_meters.meter_number`): trimmed, never empty.
public struct MeterNumber: Hashable, Sendable, CustomStringConvertible {
    /// The number, without surrounding whitespace.
    public let rawValue: String

    /// Accepts any non-blank text; surrounding whitespace is removed.
    public init?(_ text: String) {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { return nil }
        self.rawValue = trimmed
    }

    public var description: String { rawValue }
}
