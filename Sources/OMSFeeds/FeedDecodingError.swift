/// Why one feed message was refused: which item of a batch, which field, and why.
/// Nothing of a refused message is written.
public struct FeedDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Position in a batch (0-based), nil for a single message.
    public var index: Int?
    /// The offending field, e.g. "timestamp" or "coordinates.lat"; nil when the message as a whole is wrong.
    public var field: String?
    /// What is wrong, as a sentence fragment ("is required").
    public var reason: String

    /// The longest `description` a refusal has: reasons quote what was received, and what was
    /// received may be megabytes long or hold control characters meant for a log.
    public static let maximumDescriptionLength = 600

    public init(index: Int? = nil, field: String?, reason: String) {
        self.index = index
        self.field = field.map { Self.printable($0, limit: 120) }
        self.reason = Self.printable(reason, limit: 400)
    }

    public var description: String {
        let item = index.map { "item \($0): " } ?? ""
        let subject = field.map { "field \"\($0)\" " } ?? ""
        return Self.printable(item + subject + reason, limit: Self.maximumDescriptionLength)
    }

    /// `text` with control characters written as `\u{…}` and cut to `limit` characters ("…" at the end).
    static func printable(_ text: String, limit: Int) -> String {
        var out = String.UnicodeScalarView()
        var written = 0
        for scalar in text.unicodeScalars {
            written += 1
            if written >= limit {
                out.append("…")
                return String(out)
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}
