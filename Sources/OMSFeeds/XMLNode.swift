import Foundation
import OMSDomain

/// A parsed XML element: local name (namespace prefixes dropped), attributes,
/// children and text. Enough to read IEC 61968 messages whatever prefixes the
/// sender chose (`ns2:`, none, a SOAP envelope around them).
public final class XMLNode: @unchecked Sendable {
    public let name: String
    public let attributes: [String: String]
    public private(set) var children: [XMLNode] = []
    public private(set) var text = ""
    /// The line the element starts on (for error messages).
    public let line: Int

    init(name: String, attributes: [String: String], line: Int) {
        self.name = name
        self.attributes = attributes
        self.line = line
    }

    /// The first child with this local name.
    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    /// Every child with this local name.
    public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// The trimmed text of the first child with this local name, nil when absent or empty.
    public func childText(_ name: String) -> String? {
        guard let text = child(name)?.text.trimmingWhitespace(), !text.isEmpty else {
            return nil
        }
        return text
    }

    /// Every descendant (depth first) with this local name.
    public func descendants(_ name: String) -> [XMLNode] {
        children.flatMap { ($0.name == name ? [$0] : []) + $0.descendants(name) }
    }

    /// The element as XML text again (without namespace prefixes), e.g. to keep as the raw message.
    public var xmlText: String {
        let attributeText = attributes.sorted { $0.key < $1.key }
            .map { " \($0.key)=\"\(Self.escape($0.value))\"" }.joined()
        let body = children.isEmpty
            ? Self.escape(text.trimmingWhitespace())
            : children.map(\.xmlText).joined()
        return "<\(name)\(attributeText)>\(body)</\(name)>"
    }

    func appendChild(_ child: XMLNode) { children.append(child) }

    func appendText(_ more: String) { text += more }

    /// The text with `&`, `<`, `>` and `"` escaped, in one pass (the text itself when it has none).
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// Parses a document (`XMLReader`: safe on any bytes, no DTD, bounded by `limits`); the error
    /// says where and why it is not well-formed.
    public static func parse(_ data: [UInt8], limits: XMLLimits = .feeds) throws(FeedDecodingError) -> XMLNode {
        try XMLReader.read(data, limits: limits)
    }
}
