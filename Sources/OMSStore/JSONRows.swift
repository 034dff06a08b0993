import Logging
import PostgresNIO

extension PostgresClient {
    /// The rows of a query whose one column is a JSON object (`row_to_json(...)::text`), in order.
    func jsonRows(_ query: PostgresQuery, logger: Logger) async throws -> [String] {
        var rows: [String] = []
        for json in try await self.fetch(query, logger: logger).decode(String.self) { rows.append(json) }
        return rows
    }

    /// A page of a query whose columns are a JSON object and its page cursor (`oms_page_cursor`).
    func jsonPage(_ query: PostgresQuery, logger: Logger) async throws -> [(json: String, cursor: String)] {
        var page: [(json: String, cursor: String)] = []
        for (json, cursor) in try await self.fetch(query, logger: logger).decode((String, String).self) {
            page.append((json, cursor))
        }
        return page
    }
}
