import Logging
import PostgresNIO

/// Every row of one query, read whole on a connection leased for exactly that query.
///
/// Why the store does not use `PostgresClient.query` (PostgresNIO 1.33): when a query fails on
/// the server after it has begun (a function raising SQLSTATE 22023 for a bad cursor or an
/// unknown substation) and the error arrives before the caller starts reading the rows — a race
/// that a loaded machine wins — the row stream fails without giving the connection back to the
/// pool. Seen in the HTTP fuzz test on two busy cores: three such requests left the pool's three
/// free connections leased for ever, idle on the server, and every later request waited for ever.
/// `withConnection` returns the connection however the query ends. The store's reads are pages
/// and single rows, so reading them whole costs nothing the caller would not spend anyway.
public struct FetchedRows: Sendable {
    public let rows: [PostgresRow]

    /// The rows decoded as `columns` (a type, or a tuple of types).
    public func decode<each Column: PostgresDecodable>(_ columns: (repeat each Column).Type) throws -> [(repeat each Column)] {
        try rows.map { try $0.decode(columns) }
    }

    /// The rows decoded as `columns`, with `context`'s JSON decoder for json/jsonb columns.
    public func decode<each Column: PostgresDecodable>(
        _ columns: (repeat each Column).Type, context: PostgresDecodingContext<some PostgresJSONDecoder>
    ) throws -> [(repeat each Column)] {
        try rows.map { try $0.decode(columns, context: context) }
    }
}

extension PostgresClient {
    /// Runs `query` on a connection of the pool and reads every row; the connection goes back to
    /// the pool whether the query succeeds or fails (see `FetchedRows`).
    @discardableResult
    public func fetch(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows {
        try await withConnection { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return FetchedRows(rows: rows)
        }
    }
}
