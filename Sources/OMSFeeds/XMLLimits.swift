/// Bounds on what an XML document may hold; a document past any of them is refused.
public struct XMLLimits: Sendable, Equatable {
    /// How deeply elements may nest (a SOAP-wrapped IEC 61968-100 message needs about 8).
    public var maximumDepth: Int
    /// How many elements the whole document may hold.
    public var maximumElements: Int
    /// How many attributes one element may have.
    public var maximumAttributes: Int
    /// The longest element or attribute name, in bytes.
    public var maximumNameLength: Int

    public init(maximumDepth: Int = 64, maximumElements: Int = 1_000_000, maximumAttributes: Int = 64,
                maximumNameLength: Int = 256) {
        self.maximumDepth = maximumDepth
        self.maximumElements = maximumElements
        self.maximumAttributes = maximumAttributes
        self.maximumNameLength = maximumNameLength
    }

    /// What the feeds accept.
    public static let feeds = XMLLimits()
}
