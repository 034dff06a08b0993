import OMSSimulation

/// Makes inputs for a feed's decoder from its real samples, deterministically by seed: the
/// samples changed byte by byte (bits flipped, bytes replaced, tokens inserted, ranges
/// deleted, repeated or swapped, cut short), samples spliced together, messages wrapped in
/// thousands of levels of nesting, token soup, and plain random bytes. The dictionary holds what
/// has broken parsers before: bytes that are not UTF-8, NUL, byte order marks, DTDs and entity
/// bombs, external entities, CDATA and comment ends, huge and odd numbers, duplicate keys,
/// times far in the future and in year 1.
public struct FeedMutator: Sendable {
    private var random: SeededRandom
    private let samples: [[UInt8]]
    private let tokens: [[UInt8]]
    /// The feed speaks XML (KAIFA) as well as JSON.
    private let speaksXML: Bool

    public init(feed: FeedKind, seed: UInt64) {
        random = SeededRandom(seed: seed ^ 0x6F6D_735F_6675_7A7A)
        samples = FeedSamples.samples(for: feed)
        speaksXML = feed == .kaifa
        tokens = (Self.jsonTokens + (speaksXML ? Self.xmlTokens : [])).map { Array($0.utf8) } + Self.byteTokens
    }

    /// The next input.
    public mutating func next() -> [UInt8] {
        let roll = int(100)
        switch roll {
        case 0..<2: return pickSample()
        case 2..<70: return mutate(pickSample(), times: 1 + int(8))
        case 70..<80: return mutate(splice(), times: int(3))
        case 80..<86: return nested()
        case 86..<94: return tokenSoup()
        default: return randomBytes(count: int(4096))
        }
    }

    // MARK: - Strategies

    private mutating func pickSample() -> [UInt8] { samples[int(samples.count)] }

    private mutating func mutate(_ input: [UInt8], times: Int) -> [UInt8] {
        var bytes = input
        for _ in 0..<times {
            switch int(9) {
            case 0 where !bytes.isEmpty:
                bytes[int(bytes.count)] ^= UInt8(1) << UInt8(int(8))
            case 1 where !bytes.isEmpty:
                bytes[int(bytes.count)] = Self.interestingBytes[int(Self.interestingBytes.count)]
            case 2, 3:
                bytes.insert(contentsOf: tokens[int(tokens.count)], at: int(bytes.count + 1))
            case 4 where !bytes.isEmpty:
                let start = int(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + int(64)))
            case 5 where !bytes.isEmpty:
                // A range repeated: long strings, many elements, many keys.
                let start = int(bytes.count)
                let range = Array(bytes[start..<min(bytes.count, start + 1 + int(100))])
                let copies = int(20) == 0 ? [100, 1000][int(2)] : [1, 2, 3, 10][int(4)]
                var repeated: [UInt8] = []
                repeated.reserveCapacity(copies * range.count)
                for _ in 0..<copies { repeated.append(contentsOf: range) }
                bytes.insert(contentsOf: repeated, at: start)
            case 6 where bytes.count > 2:
                let first = int(bytes.count - 1)
                let second = first + 1 + int(bytes.count - first - 1)
                bytes.swapAt(first, second)
            case 7 where !bytes.isEmpty:
                bytes.removeLast(int(bytes.count))
            default:
                // A number or string value replaced by something odd.
                let from = int(bytes.count)
                if let colon = bytes[from...].firstIndex(of: UInt8(ascii: ":")) ?? bytes.firstIndex(of: UInt8(ascii: ":")) {
                    bytes.insert(contentsOf: Self.oddValues[int(Self.oddValues.count)], at: colon + 1)
                }
            }
        }
        return bytes
    }

    private mutating func splice() -> [UInt8] {
        let first = pickSample()
        let second = pickSample()
        return Array(first.prefix(int(first.count + 1))) + Array(second.suffix(int(second.count + 1)))
    }

    /// A sample inside many levels of arrays, objects or elements (or just the openings).
    private mutating func nested() -> [UInt8] {
        // Mostly around the limits (32 for JSON, 64 for XML); now and then far past any stack.
        let depth = int(10) == 0 ? 20_000 : [10, 32, 33, 64, 65, 100, 1000][int(7)]
        let inner = pickSample()
        let closed = int(2) == 0
        let (open, close): (String, String) = switch int(speaksXML ? 4 : 3) {
        case 0: ("[", "]")
        case 1: (#"{"a":"#, "}")
        case 2: (#"{"event":"#, "}")
        default: ("<a>", "</a>")
        }
        let (opening, closing) = (Array(open.utf8), Array(close.utf8))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(depth * (opening.count + closing.count) + inner.count)
        for _ in 0..<depth { bytes.append(contentsOf: opening) }
        bytes.append(contentsOf: inner)
        if closed { for _ in 0..<depth { bytes.append(contentsOf: closing) } }
        return bytes
    }

    private mutating func tokenSoup() -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<(1 + int(60)) { bytes += tokens[int(tokens.count)] }
        return bytes
    }

    private mutating func randomBytes(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = random.next()
                withUnsafeBytes(of: &word) { wordBytes in
                    for index in 0..<min(8, buffer.count - offset) { buffer[offset + index] = wordBytes[index] }
                }
                offset += 8
            }
        }
        return bytes
    }

    private mutating func int(_ bound: Int) -> Int {
        bound <= 1 ? 0 : Int(random.next() % UInt64(bound))
    }

    // MARK: - Dictionaries

    static let interestingBytes: [UInt8] = [
        0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x22, 0x26, 0x27, 0x2C, 0x2F, 0x3A, 0x3C, 0x3E, 0x5B, 0x5C, 0x5D,
        0x7B, 0x7D, 0x7F, 0x80, 0xBF, 0xC0, 0xC8, 0xE0, 0xED, 0xEF, 0xF4, 0xF5, 0xFE, 0xFF,
    ]

    static let byteTokens: [[UInt8]] = [
        [0xC8], [0xFF, 0xFE], [0xFE, 0xFF], [0xEF, 0xBB, 0xBF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0x00], [0xEF, 0xBF, 0xBF], [0xF0, 0x9F, 0x98],
    ]

    static let jsonTokens = [
        "{", "}", "[", "]", "\"", ":", ",", "null", "true", "false", "\\", "\\u0000", "\"\\u0000\"", "\"\\ud800\"",
        "\"\\udc00\\ud800\"", "1e999", "-1e999", "1e-999", "-0", "0.0000000000000000000001", "123456789012345678901234567890",
        "NaN", "Infinity", "\"timestamp\": \"2999-01-01T00:00:00Z\", ", "\"timestamp\": \"0001-01-01T00:00:00Z\", ",
        "\"timestamp\": \"9999-12-31T23:59:59Z\", ", "\"timestamp\": 1e300, ", "\"eventType\": [], ", "\"customer\": \"x\", ",
        "\"alarmData\": 7, ", "\"location\": {\"lat\": 91, \"lng\": -181}, ", "\"coordinates\": {\"lat\": \"x\"}, ",
        "\"onuSerial\": \"HWTC1A2B3C4\", ", "\"eventTypeRef\": \"3.26..47\", ", "\"timestamp\": \"2025-02-30T10:00:00Z\", ",
        "\"timestamp\": \"2025-09-30T10:00:00\", ", "\"a\":1,\"a\":2,", "\"feederId\": \"FD999\", ", "\n", "\r\n", " ",
        "\u{FEFF}", "{\"message\": {\"request\": {\"body\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}}}",
        "\"" + String(repeating: "x", count: 5000) + "\"", String(repeating: "[", count: 40), String(repeating: "{\"a\":", count: 40),
    ]

    static let xmlTokens = [
        "<", ">", "</", "/>", "<a>", "</a>", "<![CDATA[", "]]>", "<!--", "-->", "<?pi x?>", "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>",
        "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>", "<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/x.dtd\">",
        "&xxe;", "&c;", "&lt;", "&amp;", "&#0;", "&#xD800;", "&#x110000;", "&#65;", "&#x41;", "&#99999999999;", "&;", "&",
        " xmlns:a=\"urn:x\"", " a=\"1\" a=\"2\"", " ref=\"3.26.0.47\"", " ref=\"\"", "<soapenv:Body>", "</soapenv:Body>",
        "<EndDeviceEvent>", "</EndDeviceEvent>", "<createdDateTime>2999-01-01T00:00:00Z</createdDateTime>",
        "<EndDeviceEventType ref=\"3.26.0.47\"/>", "<Assets><mRID>X</mRID></Assets>", "<Header><Noun>Other</Noun></Header>",
        "<1a>", "<a:>", "<:a>", "<a b>", "<a b=c>", String(repeating: "<EndDeviceEvent/>", count: 200),
    ]

    static let oddValues: [[UInt8]] = [
        "null", "[]", "{}", "true", "1e999", "-1", "0", "\"\"", "\" \"", "\"\\u0000\"", "1e308", "-9223372036854775809",
        "\"" + String(repeating: "9", count: 400) + "\"", "[[[[[[[[[[]]]]]]]]]]", "\"2999-01-01T00:00:00Z\"",
        "\"0001-01-01T00:00:00Z\"",
    ].map { Array($0.utf8) }
}
