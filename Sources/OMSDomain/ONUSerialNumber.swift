/// A GPON ONU serial number: four ASCII letters of vendor id and eight hex digits
/// (`HWTC1A2B3C4D`: Huawei). Letters are kept upper case.
public struct ONUSerialNumber: Hashable, Sendable, CustomStringConvertible {
    /// The canonical (upper-case) serial.
    public let rawValue: String

    /// The four-letter vendor id, e.g. `HWTC` (Huawei), `ZTEG` (ZTE), `ALCL` (Nokia), `FHTT` (FiberHome).
    public var vendorID: Substring { rawValue.prefix(4) }

    /// Parses a serial, case-insensitively; nil unless it is 4 letters followed by 8 hex digits.
    public init?(_ text: String) {
        let candidate = text.trimmingWhitespace().uppercased()
        let characters = Array(candidate.unicodeScalars)
        guard characters.count == 12,
              characters.prefix(4).allSatisfy({ ("A"..."Z").contains($0) }),
              characters.suffix(8).allSatisfy({ ("0"..."9").contains($0) || ("A"..."F").contains($0) })
        else { return nil }
        self.rawValue = candidate
    }

    public var description: String { rawValue }
}
