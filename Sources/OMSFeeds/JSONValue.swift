import Foundation

/// A JSON document as a typed tree, so feed decoders can say exactly what is
/// wrong with a field ("must be a string, not a number") and keep the message
/// for storage as received.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        // The likeliest kinds first: a feed message is an object of strings, and each kind tried in
        // vain costs a thrown DecodingError (tried booleans and numbers first, a message of six
        // strings cost fifteen of them: most of a 1,000-message batch's decoding time).
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses one JSON document.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Why `data` is not JSON, in the parser's words with the position ("Invalid value around
    /// character 8."); nil when it is. JSONDecoder's own error does not say where, so this asks
    /// JSONSerialization, only for a text already refused.
    public static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "not valid JSON"
        }
    }

    /// Compact JSON text (keys sorted), e.g. for a jsonb parameter.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// The name of this value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The dotted path ("" for the value itself, "event.reason", "items[2]") of the first string or
    /// object key holding the NUL character, which PostgreSQL text and jsonb cannot store; nil when none does.
    public func pathHoldingNUL(prefix: String = "") -> String? {
        switch self {
        case .string(let text):
            return text.utf8.contains(0) ? prefix : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let path = item.pathHoldingNUL(prefix: "\(prefix)[\(index)]") { return path }
            }
            return nil
        case .object(let members):
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if key.utf8.contains(0) { return prefix.isEmpty ? String(key.split(separator: "\0").first ?? "") : prefix }
                if let found = value.pathHoldingNUL(prefix: path) { return found }
            }
            return nil
        case .null, .bool, .number:
            return nil
        }
    }

    /// The members of an object, else nil.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}
