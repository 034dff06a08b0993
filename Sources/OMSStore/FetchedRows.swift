import Logging
import PostgresNIO

/// Every row of one query, read whole on a connection leased for exactly that query, and
/// committed.
///
/// Committed, because rows in hand are not a commit. A statement sent alone runs in an implicit
/// transaction, which PostgreSQL commits at the extended protocol's Sync, after the statement's
/// CommandComplete (postgres.c, exec_execute_message: only transaction-control statements commit
/// before it). PostgresNIO 1.33 hands the rows over at CommandComplete, so a caller used to
/// answer a client while the commit was still being flushed, or waiting for a synchronous
/// standby. A server dying in that moment (`pg_ctl stop -m immediate`, a failover) lost
/// messages the client had been told were stored: seen in `FaultTests` (a KAIFA message of two
/// power-ups answered 201 9 ms before the primary's shutdown and missing on the promoted
/// standby, the same in CI after a plain crash). So `fetch` hands the connection a second,
/// trivial statement together with the query: PostgresNIO holds it until the server's
/// ReadyForQuery for the query, which follows the commit, and when the commit fails instead (an
/// ErrorResponse after CommandComplete: a deferred constraint, a crash) PostgresNIO closes the
/// connection and fails the statement it holds. Together, not after the rows: a statement
/// written to a connection that has already closed is never answered (PostgresNIO drops the
/// write), and a confirmation sent after the rows would meet that exactly when the server dies.
/// The cost is one more round trip on the connection (PostgresNIO's event loop sends the
/// confirmation the moment the ReadyForQuery arrives) and the wait for the commit's flush that an
/// answer used to overtake; an explicit BEGIN/COMMIT would cost two round
/// trips, and a connection given back to the pool inside a transaction (a task cancelled
/// between the two) would silently hold every later statement. Statements that change nothing
/// use `read`, without it.
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
    /// Runs `query` on a connection of the pool, reads every row and returns them once its
    /// transaction has committed; the connection goes back to the pool whether the query succeeds
    /// or fails (see `FetchedRows`).
    @discardableResult
    public func fetch(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows {
        try await withConnection { connection in
            let answers = try await FetchedRows.send([query, "SELECT"], on: connection, logger: logger)
            let rows = try await answers[0].get().rows
            _ = try await answers[1].get()
            return FetchedRows(rows: rows)
        }
    }

    /// Like `fetch`, for a statement that changes nothing (a SELECT of views and STABLE
    /// functions): the rows as soon as they are in, without the commit's confirmation, since its
    /// transaction has nothing to make durable. The API's and the console's reads, the key check
    /// and the health probe, where the confirmation was a statement more per request for nothing.
    public func read(_ query: PostgresQuery, logger: Logger) async throws -> FetchedRows {
        try await withConnection { connection in
            FetchedRows(rows: try await FetchedRows.send([query], on: connection, logger: logger)[0].get().rows)
        }
    }
}

extension FetchedRows {
    /// Hands `queries` to the connection at once, in this order, on its event loop (see
    /// `FetchedRows`): each one's rows, read whole, or its error. Refused with
    /// `ChannelError.ioOnClosedChannel` when the connection has closed: PostgresNIO never answers
    /// a statement written to a closed connection (the write is dropped, and its future cannot be
    /// cancelled; a service stopping while its database went away once waited for one for ever,
    /// `UnreachableDatabaseTests` in CI). On the event loop the check and the writes are one step:
    /// a statement written while the connection is open is failed by PostgresNIO if it closes later.
    static func send(
        _ queries: [PostgresQuery], on connection: PostgresConnection, logger: Logger
    ) async throws -> [EventLoopFuture<PostgresQueryResult>] {
        try await connection.eventLoop.submit {
            guard !connection.isClosed else { throw ChannelError.ioOnClosedChannel }
            return queries.map { connection.query($0, logger: logger) }
        }.get()
    }
}
