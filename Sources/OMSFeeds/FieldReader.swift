import Foundation
import OMSDomain

/// Reads the fields of one JSON object with errors that name the field.
struct FieldReader {
    let members: [String: JSONValue]
    /// Prefix for nested field names ("coordinates.").
    var path = ""

    init(_ value: JSONValue, path: String = "") throws(FeedDecodingError) {
        guard let members = value.objectValue else {
            throw FeedDecodingError(field: path.isEmpty ? nil : String(path.dropLast()),
                                    reason: "must be a JSON object, not \(value.typeName)")
        }
        self.members = members
        self.path = path
    }

    /// A trimmed string (numbers are accepted as their text); nil when absent, null or blank.
    func optionalText(_ name: String) throws(FeedDecodingError) -> String? {
        switch members[name] {
        case nil, .null?: return nil
        case .string(let text)?:
            let trimmed = text.trimmingWhitespace()
            return trimmed.isEmpty ? nil : trimmed
        case .number(let number)?:
            return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case let other?:
            throw FeedDecodingError(field: path + name, reason: "must be a string, not \(other.typeName)")
        }
    }

    func requiredText(_ name: String) throws(FeedDecodingError) -> String {
        guard let text = try optionalText(name) else {
            throw FeedDecodingError(field: path + name, reason: "is required")
        }
        return text
    }

    /// A number (a numeric string is accepted); nil when absent or null.
    func optionalNumber(_ name: String) throws(FeedDecodingError) -> Double? {
        switch members[name] {
        case nil, .null?: return nil
        case .number(let number)?: return number
        case .string(let text)?:
            if let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite { return number }
            throw FeedDecodingError(field: path + name, reason: "must be a number, not \"\(text)\"")
        case let other?:
            throw FeedDecodingError(field: path + name, reason: "must be a number, not \(other.typeName)")
        }
    }

    /// An ISO 8601 time with a zone ("2025-09-30T10:00:00Z", "2025-09-30T13:00:00.250+03:00").
    func requiredTime(_ name: String) throws(FeedDecodingError) -> Date {
        let text = try requiredText(name)
        guard let date = ISO8601Time.parse(text) else {
            throw FeedDecodingError(
                field: path + name,
                reason: "must be an ISO 8601 time with a zone (2025-09-30T10:00:00Z), not \"\(text)\"")
        }
        return date
    }

    /// `{"lat", "lng"}` within range, or nil when absent or null.
    func optionalCoordinates(_ name: String) throws(FeedDecodingError) -> Coordinates? {
        guard let position = try optionalObject(name) else { return nil }
        guard let lat = try position.optionalNumber("lat") else {
            throw FeedDecodingError(field: "\(path)\(name).lat", reason: "is required")
        }
        guard let lng = try position.optionalNumber("lng") else {
            throw FeedDecodingError(field: "\(path)\(name).lng", reason: "is required")
        }
        guard (-90...90).contains(lat) else {
            throw FeedDecodingError(field: "\(path)\(name).lat", reason: "must be between -90 and 90, not \(lat)")
        }
        guard (-180...180).contains(lng) else {
            throw FeedDecodingError(field: "\(path)\(name).lng", reason: "must be between -180 and 180, not \(lng)")
        }
        return Coordinates(lat: lat, lng: lng)
    }

    /// A nested object, or nil when absent or null.
    func optionalObject(_ name: String) throws(FeedDecodingError) -> FieldReader? {
        switch members[name] {
        case nil, .null?: return nil
        case let value?: return try FieldReader(value, path: path + name + ".")
        }
    }
}
