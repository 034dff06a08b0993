import Foundation

/// Splits a request body or file into messages: one JSON object, a JSON array of
/// objects, or newline-delimited JSON (one object per line).
public enum FeedBatch {
    /// Whether a body holds a batch (an array or several lines) rather than one message.
    public static func isBatch(_ data: [UInt8]) -> Bool {
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 >= 0x80) }
        return first == UInt8(ascii: "[") || split(data).count > 1
    }

    /// Each message of a body decoded by `decode`, or refused with its index, field and reason.
    public static func decode<Event>(
        _ body: [UInt8], with decode: (JSONValue) throws(FeedDecodingError) -> Event
    ) -> [Result<Event, FeedDecodingError>] {
        split(body).enumerated().map { index, item in
            item.flatMap { value in
                Result { () throws(FeedDecodingError) in try decode(value) }
                    .mapError { error in
                        var error = error
                        error.index = error.index ?? index
                        return error
                    }
            }
        }
    }

    /// The most messages one body may hold (an array's items, NDJSON lines, a KAIFA message's
    /// EndDeviceEvents); a larger body is refused whole.
    public static let maximumMessages = 10_000
    /// How deeply arrays and objects may nest in a body (a feed message needs about 4 levels).
    public static let maximumDepth = 32

    /// The messages of `data`, each parsed or with the reason it could not be.
    ///
    /// Before any parser sees the body, one pass checks its nesting depth (so that no parser
    /// recurses deeper than `maximumDepth`); after parsing, a body of more than
    /// `maximumMessages` messages is refused whole, and a message holding the NUL character
    /// (which PostgreSQL cannot store) is refused naming the field.
    public static func split(_ data: [UInt8]) -> [Result<JSONValue, FeedDecodingError>] {
        let text = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF }
        guard let first = text.first else {
            return [.failure(FeedDecodingError(field: nil, reason: "the body is empty"))]
        }
        if let depth = JSONNesting.firstExcess(in: text, maximumDepth: maximumDepth) {
            let (line, column) = JSONNesting.lineAndColumn(of: depth, in: text)
            return [.failure(FeedDecodingError(
                field: nil,
                reason: "is not accepted: arrays and objects nest deeper than \(maximumDepth) levels (line \(line), column \(column))"))]
        }
        let messages: [Result<JSONValue, FeedDecodingError>]
        switch splitMessages(text, first: first) {
        case .failure(let error): return [.failure(error)]
        case .success(let split): messages = split
        }
        guard !messages.isEmpty else {
            return [.failure(FeedDecodingError(field: nil, reason: "holds no message (an empty array)"))]
        }
        return messages.enumerated().map { index, message in
            message.flatMap { value in
                if let path = value.pathHoldingNUL() {
                    return .failure(FeedDecodingError(
                        index: messages.count > 1 ? index : nil, field: path.isEmpty ? nil : path,
                        reason: "holds the NUL character (U+0000), which cannot be stored"))
                }
                return .success(value)
            }
        }
    }

    /// "is not valid JSON: " and where and why, in the parser's words.
    static func notJSON(_ data: Data) -> String {
        let why = JSONValue.syntaxError(in: data).map { ": " + $0.prefix(1).lowercased() + $0.dropFirst() } ?? ""
        return "is not valid JSON" + (why.hasSuffix(".") ? String(why.dropLast()) : why)
    }

    static func tooMany(_ count: Int) -> FeedDecodingError {
        FeedDecodingError(field: nil, reason: "holds \(count) messages; at most \(maximumMessages) are accepted per request")
    }

    /// The messages of a body (one document, an array, NDJSON lines), each parsed or refused; the
    /// whole body refused when it holds more than `maximumMessages`, or is not JSON at all.
    private static func splitMessages(
        _ text: ArraySlice<UInt8>, first: UInt8
    ) -> Result<[Result<JSONValue, FeedDecodingError>], FeedDecodingError> {
        if let whole = try? JSONValue.parse(Data(text)) {
            guard case .array(let items) = whole, first == UInt8(ascii: "[") else { return .success([.success(whole)]) }
            guard items.count <= maximumMessages else { return .failure(tooMany(items.count)) }
            return .success(items.map { .success($0) })
        }
        // Not one document: newline-delimited JSON, or broken JSON.
        let nonEmpty = text.split(separator: UInt8(ascii: "\n")).filter { line in
            line.contains { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }
        }
        guard nonEmpty.count > 1 else { return .failure(FeedDecodingError(field: nil, reason: notJSON(Data(text)))) }
        guard nonEmpty.count <= maximumMessages else { return .failure(tooMany(nonEmpty.count)) }
        return .success(nonEmpty.enumerated().map { index, line in
            do {
                return .success(try JSONValue.parse(Data(line)))
            } catch {
                return .failure(FeedDecodingError(index: index, field: nil, reason: "line \(index + 1) " + notJSON(Data(line))))
            }
        })
    }
}
