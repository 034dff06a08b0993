/// Splits a SQL script into statements the way psql does, so that a migration
/// file can be sent one statement at a time over the extended query protocol.
///
/// Understands `--` and nested `/* */` comments, `'…'` strings (with `''`),
/// `E'…'` strings (with backslash escapes), `"…"` identifiers and
/// `$tag$…$tag$` bodies, so that semicolons inside them do not split.
public enum SQLScript {
    /// The statements of `script`, in order; blank and comment-only pieces are dropped.
    public static func statements(in script: String) throws(SQLScriptError) -> [SQLStatement] {
        var scanner = Scanner(bytes: Array(script.utf8))
        return try scanner.split()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func split() throws(SQLScriptError) -> [SQLStatement] {
            var statements: [SQLStatement] = []
            var start = 0
            var firstCodeLine: Int?

            func finish(upTo end: Int) {
                if let codeLine = firstCodeLine {
                    let text = String(decoding: bytes[start..<end], as: UTF8.self)
                    statements.append(SQLStatement(text: text.trimmedSQL(), line: codeLine))
                }
                firstCodeLine = nil
            }

            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\n"):
                    line += 1
                    index += 1
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    index += 1
                case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                    try skipBlockComment()
                case UInt8(ascii: ";"):
                    finish(upTo: index)
                    index += 1
                    start = index
                default:
                    if firstCodeLine == nil { firstCodeLine = line }
                    try skipToken()
                }
            }
            finish(upTo: bytes.count)
            return statements
        }

        func peek(_ offset: Int) -> UInt8? {
            index + offset < bytes.count ? bytes[index + offset] : nil
        }

        /// Skips one token of code: a quoted piece, a dollar-quoted body, or one byte.
        mutating func skipToken() throws(SQLScriptError) {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"):
                let escapes = index > 0 && (bytes[index - 1] | 0x20) == UInt8(ascii: "e")
                    && !(index > 1 && isIdentifierByte(bytes[index - 2]))
                try skipQuoted(UInt8(ascii: "'"), backslashEscapes: escapes, name: "string")
            case UInt8(ascii: "\""):
                try skipQuoted(UInt8(ascii: "\""), backslashEscapes: false, name: "quoted identifier")
            case UInt8(ascii: "$"):
                if let tag = dollarTag() {
                    try skipDollarQuoted(tag: tag)
                } else {
                    index += 1
                }
            default:
                if isIdentifierByte(byte) {
                    // Consume the whole word so a `$` inside it (a$b) is not a quote.
                    while index < bytes.count, isIdentifierByte(bytes[index]) || bytes[index] == UInt8(ascii: "$") {
                        index += 1
                    }
                } else {
                    index += 1
                }
            }
        }

        mutating func skipQuoted(_ quote: UInt8, backslashEscapes: Bool, name: String) throws(SQLScriptError) {
            let openLine = line
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") { line += 1 }
                if backslashEscapes && byte == UInt8(ascii: "\\") {
                    if peek(1) == UInt8(ascii: "\n") { line += 1 }
                    index += 2
                    continue
                }
                if byte == quote {
                    if peek(1) == quote { index += 2; continue }
                    index += 1
                    return
                }
                index += 1
            }
            throw SQLScriptError(unterminated: name, line: openLine)
        }

        /// The `$tag$` starting at `index`, if it is one (a tag never starts with a digit: `$1` is a parameter).
        func dollarTag() -> [UInt8]? {
            var end = index + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "$") {
                let byte = bytes[end]
                let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                guard isIdentifierByte(byte), !(end == index + 1 && isDigit) else { return nil }
                end += 1
            }
            guard end < bytes.count else { return nil }
            return Array(bytes[index...end])
        }

        mutating func skipDollarQuoted(tag: [UInt8]) throws(SQLScriptError) {
            let openLine = line
            index += tag.count
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                if bytes[index] == UInt8(ascii: "$"), index + tag.count <= bytes.count,
                   bytes[index..<(index + tag.count)].elementsEqual(tag) {
                    index += tag.count
                    return
                }
                index += 1
            }
            throw SQLScriptError(unterminated: "dollar-quoted string \(String(decoding: tag, as: UTF8.self))", line: openLine)
        }

        mutating func skipBlockComment() throws(SQLScriptError) {
            let openLine = line
            var depth = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") {
                    depth += 1
                    index += 2
                } else if bytes[index] == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") {
                    depth -= 1
                    index += 2
                    if depth == 0 { return }
                } else {
                    if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                    index += 1
                }
            }
            throw SQLScriptError(unterminated: "block comment", line: openLine)
        }

        func isIdentifierByte(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte >= 0x80
        }
    }
}

extension String {
    /// The text without leading or trailing whitespace.
    fileprivate func trimmedSQL() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
