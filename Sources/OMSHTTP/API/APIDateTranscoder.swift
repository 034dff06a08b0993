import Foundation
import OMSDomain
import OpenAPIRuntime

/// Times as the API writes and reads them: written in UTC to the microsecond
/// (`2025-09-30T10:00:00.123456Z`, the database's precision); read as any ISO 8601 time with a zone
/// (the forms the feeds accept, `ISO8601Time`), anything else refused.
struct APIDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        ISO8601Time.text(date)
    }

    func decode(_ text: String) throws -> Date {
        guard let date = ISO8601Time.parse(text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [], debugDescription: "\(text.prefix(60)) is not an ISO 8601 time with a zone, such as 2025-09-30T10:00:00Z"))
        }
        return date
    }
}
