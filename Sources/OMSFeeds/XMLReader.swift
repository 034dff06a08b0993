/// Reads an XML document into `XMLNode`s: a strict, non-validating reader of the XML that
/// feeds send (elements, attributes, text, CDATA, comments, processing instructions, the
/// five predefined entities and character references), written so that **no input can stop
/// the process**, whatever its bytes.
///
/// Why not Foundation's `XMLParser`: on Linux it is libxml2 behind swift-corelibs-foundation's
/// wrapper, which traps (SIGILL, the whole service gone) when libxml2 hands it a name that is
/// not UTF-8 (`<r><a\xc8m/></r>`), and it overflows the stack on deep nesting (15,000 levels:
/// SIGSEGV). A trap cannot be caught, so checking inputs in front of it only closes the holes
/// one knows of. The XML libraries this project can use (XMLCoder, SWXMLHash) sit on that same
/// parser. IEC 61968-100 messages need a small part of XML, so this reader implements that part
/// and refuses the rest, by construction:
///
/// - every byte is checked: UTF-8 (or a declared US-ASCII / ISO-8859-1, transcoded), no
///   character XML forbids (C0 controls but tab, CR, LF; U+FFFE, U+FFFF); UTF-16 is refused;
/// - no document type declaration (DTD) is accepted, so no entity is ever defined, expanded or
///   fetched (no "billion laughs", no XXE); an unknown entity is an error;
/// - nesting depth, element count, attributes per element and name length are bounded
///   (`XMLLimits`), and the reader keeps its own stack (no recursion), so its work and memory
///   follow the size of the input;
/// - every refusal says where (line and column) and why.
struct XMLReader {
    private let bytes: [UInt8]
    private let limits: XMLLimits
    private var position = 0
    /// Line numbers are counted forwards, lazily: `lineCounted` is where `lineCount` was last computed.
    private var lineCounted = 0
    private var lineCount = 1
    private var elements = 0

    /// Reads the document in `data`; the error names the line, column and reason.
    static func read(_ data: [UInt8], limits: XMLLimits) throws(FeedDecodingError) -> XMLNode {
        var reader = XMLReader(bytes: try checkedUTF8(data), limits: limits)
        return try reader.document()
    }

    private init(bytes: [UInt8], limits: XMLLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    // MARK: - Bytes and encodings

    /// The document as UTF-8 bytes (without a byte order mark), every byte checked.
    static func checkedUTF8(_ data: [UInt8]) throws(FeedDecodingError) -> [UInt8] {
        var data = data
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data.removeFirst(3) }
        if data.starts(with: [0xFE, 0xFF]) || data.starts(with: [0xFF, 0xFE])
            || data.starts(with: [0x00, 0x3C]) || data.starts(with: [0x3C, 0x00]) {
            throw refusal("is UTF-16; only UTF-8 (or a declared US-ASCII or ISO-8859-1) is accepted")
        }
        switch try declaredEncoding(data) {
        case nil, "utf-8", "utf8", "us-ascii", "ascii":
            break
        case "iso-8859-1", "latin1", "latin-1", "iso_8859-1", "l1":
            data = latin1ToUTF8(data)
        case let other?:
            throw refusal("declares the encoding \"\(other)\"; only UTF-8, US-ASCII and ISO-8859-1 are accepted")
        }
        if let (offset, problem) = firstInvalidCharacter(data) {
            let (line, column) = lineAndColumn(of: offset, in: data)
            throw refusal("byte \(offset + 1) (line \(line), column \(column)) \(problem)")
        }
        return data
    }

    /// The `encoding` of the XML declaration, lower-cased; nil when there is none.
    static func declaredEncoding(_ data: [UInt8]) throws(FeedDecodingError) -> String? {
        let start = data.firstIndex { !isSpace($0) } ?? 0
        guard data[start...].starts(with: Array("<?xml".utf8)), data.count > start + 5, isSpace(data[start + 5]) else {
            return nil
        }
        guard let end = firstIndex(of: Array("?>".utf8), in: data, from: start + 5) else {
            throw refusal("the XML declaration is never closed with \"?>\"")
        }
        let declaration = data[(start + 5)..<end]
        guard let key = firstIndex(of: Array("encoding".utf8), in: Array(declaration), from: 0) else { return nil }
        var index = declaration.startIndex + key + "encoding".utf8.count
        while index < end, isSpace(data[index]) || data[index] == UInt8(ascii: "=") { index += 1 }
        guard index < end, data[index] == UInt8(ascii: "\"") || data[index] == UInt8(ascii: "'") else {
            throw refusal("the XML declaration's encoding is not quoted")
        }
        let quote = data[index]
        let valueStart = index + 1
        var valueEnd = valueStart
        while valueEnd < end, data[valueEnd] != quote { valueEnd += 1 }
        let value = data[valueStart..<valueEnd]
        guard value.count <= 40, value.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
            throw refusal("the XML declaration's encoding is not a plain name")
        }
        return String(decoding: value, as: UTF8.self).lowercased()
    }

    /// ISO-8859-1 bytes as UTF-8 (each byte is the code point of the same number).
    static func latin1ToUTF8(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + data.count / 8)
        for byte in data {
            if byte < 0x80 {
                out.append(byte)
            } else {
                out.append(0xC0 | (byte >> 6))
                out.append(0x80 | (byte & 0x3F))
            }
        }
        return out
    }

    /// The offset of the first byte that is not well-formed UTF-8 or starts a character XML 1.0
    /// does not allow, with what is wrong with it.
    static func firstInvalidCharacter(_ bytes: [UInt8]) -> (Int, String)? {
        bytes.withUnsafeBufferPointer { firstInvalidCharacter(in: $0) }
    }

    private static func firstInvalidCharacter(in data: UnsafeBufferPointer<UInt8>) -> (Int, String)? {
        var index = 0
        let count = data.count
        while index < count {
            let byte = data[index]
            if byte < 0x80 {
                if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
                    return (index, "is the control character U+\(hex(UInt32(byte))), which XML does not allow")
                }
                index += 1
                continue
            }
            let length: Int
            var scalar: UInt32
            switch byte {
            case 0xC2...0xDF: length = 2; scalar = UInt32(byte & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(byte & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(byte & 0x07)
            default: return (index, "is not UTF-8 (0x\(hex(UInt32(byte))))")
            }
            guard index + length <= count else { return (index, "is not UTF-8 (a character cut short at the end)") }
            for offset in 1..<length {
                let next = data[index + offset]
                guard next & 0xC0 == 0x80 else { return (index, "is not UTF-8 (0x\(hex(UInt32(byte))) 0x\(hex(UInt32(next))))") }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            let smallest: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
            if scalar < smallest { return (index, "is not UTF-8 (an overlong encoding)") }
            if (0xD800...0xDFFF).contains(scalar) { return (index, "is not UTF-8 (an encoded surrogate)") }
            if scalar > 0x10FFFF { return (index, "is not UTF-8 (beyond U+10FFFF)") }
            if scalar == 0xFFFE || scalar == 0xFFFF { return (index, "is U+\(hex(scalar)), which XML does not allow") }
            index += length
        }
        return nil
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return digits.count < 2 ? "0" + digits : digits
    }

    static func lineAndColumn(of offset: Int, in data: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        for index in 0..<min(offset, data.count) where data[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        return (line, offset - lineStart + 1)
    }

    static func firstIndex(of needle: [UInt8], in data: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, data.count >= needle.count, start <= data.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        let last = data.count - needle.count
        while index <= last {
            if data[index] == first {
                var matches = true
                for offset in 1..<needle.count where data[index + offset] != needle[offset] {
                    matches = false
                    break
                }
                if matches { return index }
            }
            index += 1
        }
        return nil
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    static func refusal(_ reason: String) -> FeedDecodingError {
        FeedDecodingError(field: nil, reason: "is not well-formed XML: " + reason)
    }

    // MARK: - Positions and errors

    /// The line of `offset` (1-based); offsets are asked for in increasing order, so counting is linear.
    private mutating func line(at offset: Int) -> Int {
        if offset < lineCounted {
            lineCounted = 0
            lineCount = 1
        }
        var index = lineCounted
        while index < offset {
            if bytes[index] == 0x0A { lineCount += 1 }
            index += 1
        }
        lineCounted = offset
        return lineCount
    }

    private func error(_ reason: String, at offset: Int? = nil) -> FeedDecodingError {
        let (line, column) = Self.lineAndColumn(of: offset ?? position, in: bytes)
        return Self.refusal("\(reason) (line \(line), column \(column))")
    }

    // MARK: - The document

    private var atEnd: Bool { position >= bytes.count }

    private func peek(_ literal: String) -> Bool {
        let utf8 = literal.utf8
        guard position + utf8.count <= bytes.count else { return false }
        var index = position
        for byte in utf8 {
            if bytes[index] != byte { return false }
            index += 1
        }
        return true
    }

    private mutating func skipSpace() {
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
    }

    private mutating func document() throws(FeedDecodingError) -> XMLNode {
        // Leading white space before the declaration is tolerated (some senders write a newline first).
        skipSpace()
        if peek("<?xml"), position + 5 < bytes.count, Self.isSpace(bytes[position + 5]) {
            try skipPast("?>", what: "the XML declaration")
        }
        try miscellany()
        guard !atEnd else { throw Self.refusal("the document holds no element") }
        guard bytes[position] == UInt8(ascii: "<") else { throw error("text before the root element") }
        guard !peek("</"), !peek("<!") else { throw error("the root element is expected here") }
        let root = try elementTree()
        try miscellany()
        guard atEnd else { throw error("content after the root element <\(root.name)> closed") }
        return root
    }

    /// Whitespace, comments and processing instructions (before or after the root element).
    private mutating func miscellany() throws(FeedDecodingError) {
        while true {
            skipSpace()
            if peek("<!--") {
                try comment()
            } else if peek("<!DOCTYPE") || peek("<!doctype") {
                throw error("a document type declaration (<!DOCTYPE>) is not accepted: entities and external references are never read")
            } else if peek("<?") {
                try processingInstruction()
            } else {
                return
            }
        }
    }

    private mutating func skipPast(_ terminator: String, what: String) throws(FeedDecodingError) {
        let start = position
        guard let end = Self.firstIndex(of: Array(terminator.utf8), in: bytes, from: position) else {
            throw error("\(what) is never closed with \"\(terminator)\"", at: start)
        }
        position = end + terminator.utf8.count
    }

    private mutating func comment() throws(FeedDecodingError) {
        try skipPast("-->", what: "a comment")
    }

    private mutating func processingInstruction() throws(FeedDecodingError) {
        let start = position
        position += 2
        let target = try name(what: "a processing instruction's target")
        if target.lowercased() == "xml" { throw error("an XML declaration is only allowed at the very start", at: start) }
        try skipPast("?>", what: "a processing instruction")
    }

    /// The root element and everything in it, read with an explicit stack.
    private mutating func elementTree() throws(FeedDecodingError) -> XMLNode {
        var stack: [(node: XMLNode, qualifiedName: String)] = []
        var root: XMLNode?
        var text: [UInt8] = []

        func flushText(into node: XMLNode?) {
            guard let node, !text.isEmpty else {
                text.removeAll(keepingCapacity: true)
                return
            }
            node.appendText(String(decoding: text, as: UTF8.self))
            text.removeAll(keepingCapacity: true)
        }

        repeat {
            guard !atEnd else {
                let open = stack.last.map { "<\($0.qualifiedName)> (line \($0.node.line))" } ?? "the root element"
                throw Self.refusal("the document ends before \(open) is closed")
            }
            let byte = bytes[position]
            if byte != UInt8(ascii: "<") {
                if byte == UInt8(ascii: "&") {
                    try reference(into: &text)
                } else {
                    text.append(byte)
                    position += 1
                }
                continue
            }
            if peek("</") {
                flushText(into: stack.last?.node)
                let start = position
                position += 2
                let closing = try name(what: "an end tag's name")
                skipSpace()
                guard !atEnd, bytes[position] == UInt8(ascii: ">") else { throw error("the end tag </\(closing)> is not closed with \">\"") }
                position += 1
                guard let open = stack.popLast() else { throw error("the end tag </\(closing)> closes nothing", at: start) }
                guard open.qualifiedName == closing else {
                    throw error("the end tag </\(closing)> does not match <\(open.qualifiedName)> of line \(open.node.line)", at: start)
                }
            } else if peek("<!--") {
                try comment()
            } else if peek("<![CDATA[") {
                let start = position
                position += 9
                guard let end = Self.firstIndex(of: Array("]]>".utf8), in: bytes, from: position) else {
                    throw error("a CDATA section is never closed with \"]]>\"", at: start)
                }
                text.append(contentsOf: bytes[position..<end])
                position = end + 3
            } else if peek("<!") {
                throw error("a declaration (<!…>) is not accepted inside an element")
            } else if peek("<?") {
                try processingInstruction()
            } else {
                flushText(into: stack.last?.node)
                guard stack.count < limits.maximumDepth else {
                    throw error("elements are nested deeper than \(limits.maximumDepth) levels")
                }
                elements += 1
                guard elements <= limits.maximumElements else {
                    throw error("the document holds more than \(limits.maximumElements) elements")
                }
                let (node, qualifiedName, selfClosing) = try startTag()
                stack.last?.node.appendChild(node)
                if root == nil { root = node }
                if !selfClosing { stack.append((node, qualifiedName)) }
            }
        } while !stack.isEmpty
        guard let root else { throw error("the root element is expected here") }
        return root
    }

    /// `<name attributes…>` or `<name … />`: the element, its qualified name and whether it closed itself.
    private mutating func startTag() throws(FeedDecodingError) -> (XMLNode, String, Bool) {
        let start = position
        position += 1
        let qualifiedName = try name(what: "an element's name")
        var attributes: [String: String] = [:]
        var seen: Set<String> = []
        while true {
            let hadSpace = !atEnd && Self.isSpace(bytes[position])
            skipSpace()
            guard !atEnd else { throw error("the tag <\(qualifiedName)> is never closed", at: start) }
            if bytes[position] == UInt8(ascii: ">") {
                position += 1
                return (XMLNode(name: Self.localName(qualifiedName), attributes: attributes, line: line(at: start)), qualifiedName, false)
            }
            if peek("/>") {
                position += 2
                return (XMLNode(name: Self.localName(qualifiedName), attributes: attributes, line: line(at: start)), qualifiedName, true)
            }
            guard hadSpace else { throw error("the tag <\(qualifiedName)> needs a space before its next attribute") }
            let attributeStart = position
            let attribute = try name(what: "an attribute's name")
            guard seen.insert(attribute).inserted else {
                throw error("the attribute \"\(attribute)\" appears twice in <\(qualifiedName)>", at: attributeStart)
            }
            guard seen.count <= limits.maximumAttributes else {
                throw error("<\(qualifiedName)> has more than \(limits.maximumAttributes) attributes", at: attributeStart)
            }
            skipSpace()
            guard !atEnd, bytes[position] == UInt8(ascii: "=") else { throw error("the attribute \"\(attribute)\" has no value") }
            position += 1
            skipSpace()
            let value = try attributeValue(of: attribute)
            if attribute != "xmlns" && !attribute.hasPrefix("xmlns:") {
                attributes[Self.localName(attribute)] = value
            }
        }
    }

    private mutating func attributeValue(of attribute: String) throws(FeedDecodingError) -> String {
        guard !atEnd, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'") else {
            throw error("the value of \"\(attribute)\" is not quoted")
        }
        let quote = bytes[position]
        let start = position
        position += 1
        var value: [UInt8] = []
        while true {
            guard !atEnd else { throw error("the value of \"\(attribute)\" is never closed", at: start) }
            let byte = bytes[position]
            if byte == quote {
                position += 1
                return String(decoding: value, as: UTF8.self)
            }
            switch byte {
            case UInt8(ascii: "<"):
                throw error("the value of \"\(attribute)\" holds \"<\"")
            case UInt8(ascii: "&"):
                try reference(into: &value)
            case 0x09, 0x0A, 0x0D:
                // Attribute-value normalisation (XML 1.0 §3.3.3): white space becomes a space.
                value.append(0x20)
                position += 1
            default:
                value.append(byte)
                position += 1
            }
        }
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#N;` `&#xN;`: the character, appended as UTF-8.
    private mutating func reference(into out: inout [UInt8]) throws(FeedDecodingError) {
        let start = position
        position += 1
        var end = position
        while end < bytes.count, end - position <= 12, bytes[end] != UInt8(ascii: ";") { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: ";") else {
            throw error("\"&\" starts no entity or character reference (write &amp; for the character itself)", at: start)
        }
        let body = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        switch body {
        case "lt": out.append(UInt8(ascii: "<"))
        case "gt": out.append(UInt8(ascii: ">"))
        case "amp": out.append(UInt8(ascii: "&"))
        case "quot": out.append(UInt8(ascii: "\""))
        case "apos": out.append(UInt8(ascii: "'"))
        default:
            guard body.hasPrefix("#") else {
                throw error("the entity &\(body); is not defined (documents may use only &lt; &gt; &amp; &quot; &apos;)", at: start)
            }
            let digits = body.dropFirst()
            let number: UInt32? = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            guard let number, !digits.isEmpty, !digits.hasPrefix("+"), !digits.hasPrefix("x+"), !digits.hasPrefix("-"),
                  Self.isXMLCharacter(number), let scalar = Unicode.Scalar(number) else {
                throw error("&\(body); is not a character XML allows", at: start)
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
    }

    static func isXMLCharacter(_ value: UInt32) -> Bool {
        value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
            || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
    }

    /// An XML name (letters, digits, `_ - . :` and any non-ASCII character; not starting with a digit, `-` or `.`).
    private mutating func name(what: String) throws(FeedDecodingError) -> String {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            let isNameByte = byte >= 0x80 || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            guard isNameByte else { break }
            position += 1
            guard position - start <= limits.maximumNameLength else {
                throw error("\(what) is longer than \(limits.maximumNameLength) bytes", at: start)
            }
        }
        guard position > start else {
            let found = atEnd ? "the end of the document" : "\"\(String(decoding: [bytes[position]], as: UTF8.self))\""
            throw error("\(what) is expected, not \(found)", at: start)
        }
        let first = bytes[start]
        if (first >= 0x30 && first <= 0x39) || first == UInt8(ascii: "-") || first == UInt8(ascii: ".") {
            throw error("\(what) cannot start with \"\(String(decoding: [first], as: UTF8.self))\"", at: start)
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// The name without its namespace prefix (`ns2:EndDeviceEvent` → `EndDeviceEvent`).
    static func localName(_ qualified: String) -> String {
        guard let colon = qualified.lastIndex(of: ":") else { return qualified }
        let local = qualified[qualified.index(after: colon)...]
        return local.isEmpty ? qualified : String(local)
    }
}
