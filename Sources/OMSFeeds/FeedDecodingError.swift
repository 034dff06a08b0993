import Foundation

/// Why one feed message was refused: which item of a batch, which field, and why.
/// Nothing of a refused message is written.
public struct FeedDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Position in a batch (0-based), nil for a single message.
    public var index: Int?
    /// The offending field, e.g. "timestamp" or "coordinates.lat"; nil when the message as a whole is wrong.
    public var field: String?
    /// What is wrong, as a sentence fragment ("is required").
    public var reason: String

    public init(index: Int? = nil, field: String?, reason: String) {
        self.index = index
        self.field = field
        self.reason = reason
    }

    public var description: String {
        let item = index.map { "item \($0): " } ?? ""
        let subject = field.map { "field \"\($0)\" " } ?? ""
        return item + subject + reason
    }
}

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

    /// The messages of `data`, each parsed or with the reason it could not be.
    public static func split(_ data: [UInt8]) -> [Result<JSONValue, FeedDecodingError>] {
        let text = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF }
        guard let first = text.first else {
            return [.failure(FeedDecodingError(field: nil, reason: "the body is empty"))]
        }
        if let whole = try? JSONValue.parse(Data(text)) {
            if case .array(let items) = whole, first == UInt8(ascii: "[") {
                return items.map { .success($0) }
            }
            return [.success(whole)]
        }
        // Not one document: newline-delimited JSON, or broken JSON.
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let nonEmpty = lines.filter { line in line.contains { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 } }
        guard nonEmpty.count > 1 else {
            return [.failure(FeedDecodingError(field: nil, reason: "is not valid JSON"))]
        }
        return nonEmpty.enumerated().map { index, line in
            do {
                return .success(try JSONValue.parse(Data(line)))
            } catch {
                return .failure(FeedDecodingError(index: index, field: nil, reason: "line \(index + 1) is not valid JSON"))
            }
        }
    }
}
