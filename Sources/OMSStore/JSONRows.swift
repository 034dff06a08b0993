import Logging
import PostgresNIO

extension PostgresClient {
    /// The rows of a query whose one column is a JSON object (`row_to_json(...)::text`), in order.
    func jsonRows(_ query: PostgresQuery, logger: Logger) async throws -> [String] {
        try await fetch(query, logger: logger).decode(String.self)
    }

    /// A page of a query whose columns are a JSON object and its page cursor (`oms_page_cursor`).
    func jsonPage(_ query: PostgresQuery, logger: Logger) async throws -> [(json: String, cursor: String)] {
        try await fetch(query, logger: logger).decode((String, String).self).map { (json: $0.0, cursor: $0.1) }
    }
}
