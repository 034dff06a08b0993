import Foundation

/// ISO 8601 times as feeds send them: a zone is required (a time without one is ambiguous).
///
/// Parsed by Foundation's `Date.ISO8601FormatStyle` (no ICU formatter per call: a storm
/// parses tens of thousands of times a second); fractions are kept to the microsecond.
public enum ISO8601Time {
    private static let shape = try! NSRegularExpression(
        pattern: #"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"#)
    private static let minutesOnly = try! NSRegularExpression(pattern: #"T\d{2}:\d{2}(Z|[+-])"#)
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let calendar = Calendar(identifier: .gregorian)

    /// `date` as the API writes times: UTC, to the microsecond (`2025-09-30T10:00:00.123456Z`).
    public static func text(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros == 1_000_000 {
            whole += 1
            micros = 0
        }
        let components = calendar.dateComponents(in: utc, from: Date(timeIntervalSince1970: whole))
        let fraction = String(micros).leftPadded(to: 6)
        return "\(String(components.year ?? 0).leftPadded(to: 4))-\(String(components.month ?? 0).leftPadded(to: 2))-"
            + "\(String(components.day ?? 0).leftPadded(to: 2))T\(String(components.hour ?? 0).leftPadded(to: 2)):"
            + "\(String(components.minute ?? 0).leftPadded(to: 2)):\(String(components.second ?? 0).leftPadded(to: 2)).\(fraction)Z"
    }

    private static let utc = TimeZone(identifier: "UTC")!

    /// The instant `text` names, or nil when it is not an ISO 8601 time with a zone.
    public static func parse(_ text: String) -> Date? {
        let whole = NSRange(text.startIndex..., in: text)
        guard shape.firstMatch(in: text, range: whole) != nil else { return nil }
        // A real calendar day (the parser would roll 30 February over to March).
        let digits = text.utf8.prefix(10).split(separator: UInt8(ascii: "-")).map { Int(String(decoding: $0, as: UTF8.self)) }
        guard digits.count == 3, let year = digits[0], let month = digits[1], let day = digits[2],
              DateComponents(year: year, month: month, day: day).isValidDate(in: calendar) else { return nil }
        var candidate = text.uppercased()
        if candidate.utf8[candidate.utf8.index(candidate.startIndex, offsetBy: 10)] == UInt8(ascii: " ") {
            candidate.replaceSubrange(candidate.index(candidate.startIndex, offsetBy: 10)...candidate.index(candidate.startIndex, offsetBy: 10), with: "T")
        }
        // hh:mm without seconds, and +hh without minutes, made whole for the parser.
        if minutesOnly.firstMatch(in: candidate, range: NSRange(candidate.startIndex..., in: candidate)) != nil {
            candidate.insert(contentsOf: ":00", at: candidate.index(candidate.startIndex, offsetBy: 16))
        }
        let zone = candidate.utf8.suffix(3)
        if zone.first == UInt8(ascii: "+") || zone.first == UInt8(ascii: "-") { candidate += ":00" }
        return try? style.parse(candidate)
    }
}

extension String {
    /// The string with zeros in front, to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
