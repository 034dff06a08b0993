extension String {
    /// The string without leading and trailing white space: the Unicode White_Space characters
    /// (spaces, tabs, newlines, no-break spaces), the set Foundation's `.whitespacesAndNewlines`
    /// trims, read scalar by scalar instead of through NSString (which scanned and copied every
    /// string, trimmed or not: a tenth of a KAIFA message's decoding). The string itself when
    /// neither end is blank.
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return self }
        if !first.properties.isWhitespace && !last.properties.isWhitespace { return self }
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
