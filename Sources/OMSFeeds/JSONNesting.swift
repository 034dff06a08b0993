/// The nesting of a JSON text, measured without parsing it.
enum JSONNesting {
    /// The offset (from the slice's start) of the first `[` or `{` that opens a level deeper than
    /// `maximumDepth`, outside strings; nil when the text stays within it. Closing brackets never
    /// take the depth below zero, so text that is not JSON is measured too.
    static func firstExcess(in text: ArraySlice<UInt8>, maximumDepth: Int) -> Int? {
        text.withUnsafeBufferPointer { bytes -> Int? in
            var depth = 0
            var inString = false
            var escaped = false
            var offset = 0
            while offset < bytes.count {
                let byte = bytes[offset]
                offset += 1
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == 0x5C {  // \
                        escaped = true
                    } else if byte == 0x22 || byte == 0x0A {
                        // A string ends at its quote; it never spans lines (NDJSON: a broken line does not swallow the next).
                        inString = false
                    }
                } else if byte == 0x22 {
                    inString = true
                } else if byte == 0x5B || byte == 0x7B {  // [ {
                    depth += 1
                    if depth > maximumDepth { return offset - 1 }
                } else if (byte == 0x5D || byte == 0x7D) && depth > 0 {  // ] }
                    depth -= 1
                }
            }
            return nil
        }
    }

    static func lineAndColumn(of offset: Int, in text: ArraySlice<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in text.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
