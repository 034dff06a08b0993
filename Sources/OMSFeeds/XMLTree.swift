import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: local name (namespace prefixes dropped), attributes,
/// children and text. Enough to read IEC 61968 messages whatever prefixes the
/// sender chose (`ns2:`, none, a SOAP envelope around them).
public final class XMLNode: @unchecked Sendable {
    public let name: String
    public let attributes: [String: String]
    public private(set) var children: [XMLNode] = []
    public fileprivate(set) var text = ""
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
        guard let text = child(name)?.text.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
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
            ? Self.escape(text.trimmingCharacters(in: .whitespacesAndNewlines))
            : children.map(\.xmlText).joined()
        return "<\(name)\(attributeText)>\(body)</\(name)>"
    }

    fileprivate func append(_ child: XMLNode) { children.append(child) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Parses a document; the error says where it is not well-formed.
    public static func parse(_ data: [UInt8]) throws(FeedDecodingError) -> XMLNode {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(data))
        parser.shouldProcessNamespaces = true
        parser.delegate = builder
        let parsed = parser.parse()
        guard parsed, builder.error == nil, let root = builder.root else {
            let reason = (builder.error ?? parser.parserError).map { String(describing: $0) } ?? "no root element"
            throw FeedDecodingError(field: nil, reason: "is not well-formed XML (line \(parser.lineNumber)): \(reason)")
        }
        // Some XMLParser builds accept a truncated document: every element must be closed.
        if let open = builder.stack.last {
            throw FeedDecodingError(
                field: nil, reason: "is not well-formed XML: <\(open.name)> opened on line \(open.line) is never closed")
        }
        return root
    }
}

/// Collects XMLParser's callbacks into a tree.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLNode?
    var stack: [XMLNode] = []
    var error: (any Error)?

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        error = error ?? parseError
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
    ) {
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        var plain: [String: String] = [:]
        for (key, value) in attributes where !key.hasPrefix("xmlns") {
            plain[key.split(separator: ":").last.map(String.init) ?? key] = value
        }
        let node = XMLNode(name: local, attributes: plain, line: parser.lineNumber)
        stack.last?.append(node)
        if root == nil { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
    }
}
