import Foundation
import Logging
import OMSStore
import PostgresNIO

extension PostgresClient {
    /// The single value of a one-row, one-column query, decoded.
    public func scalar<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T {
        // `fetch`, not `query`: a query that fails on the server must give its connection back
        // (see `FetchedRows`); tests expect many such failures.
        for value in try await self.fetch(query, logger: TestDatabase.logger).decode(T.self) { return value }
        throw NoRowError(query: query.sql)
    }

    /// Runs a statement to its end, discarding any rows (an error raised while
    /// rows are produced surfaces here too).
    public func execute(_ query: PostgresQuery) async throws {
        try await self.fetch(query, logger: TestDatabase.logger)
    }

    /// Runs statements written as text (a test's fixture, no values bound), one after another.
    public func execute(statements: [String]) async throws {
        for statement in statements {
            try await execute(PostgresQuery(unsafeSQL: statement))
        }
    }

    /// Links a meter by hand to a second feeder (a `manual` row of `network_feeder_meters`, as a
    /// tie switch would), both by business id.
    public func linkByHand(meter: String, toFeeder feeder: String, circuitPath: String, priority: Int) async throws {
        try await execute(
            """
            INSERT INTO network_feeder_meters (feeder_id, meter_id, circuit_path, priority)
            SELECT f.id, m.id, \(circuitPath), \(Int32(priority))
              FROM network_feeders f, oms_meters m
             WHERE f.feeder_id = \(feeder) AND m.meter_number = \(meter)
            """)
    }
}

/// What psql printed for one query: column names and rows as text.
public struct PsqlResult: Sendable {
    public let columns: [String]
    public let rows: [[String?]]

    /// The values of one column, by name.
    public func column(_ name: String) -> [String?] {
        guard let index = columns.firstIndex(of: name) else { return [] }
        return rows.map { $0[index] }
    }

    /// The first row's value of one column as an integer; nil when absent, NULL or not a number.
    public func int(_ name: String) -> Int? {
        column(name).first.flatMap { $0 }.flatMap { Int($0) }
    }
}

/// psql failed; its output says why.
public struct PsqlError: Error, CustomStringConvertible {
    public let status: Int32
    public let output: String
    public var description: String { "psql exited with \(status): \(output)" }
}

extension TestDatabase.Handle {
    /// Runs `sql` verbatim through psql, as a user holding the seed README would.
    public func psql(_ sql: String) async throws -> PsqlResult {
        let server = try await TestDatabase.server()
        let url = try server.connectionURL(database: name)
        let null = "\u{2205}"
        let result = try await ExternalCommand.run(
            server.installation.tool("psql"),
            ["-X", "-q", "-A", "-F", "\t", "-P", "footer=off", "-P", "null=\(null)", "-v", "ON_ERROR_STOP=1",
             "-d", url, "-c", sql],
            workingDirectory: "/")
        guard result.status == 0 else { throw PsqlError(status: result.status, output: result.output) }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.isEmpty }
        guard let header = lines.first else { return PsqlResult(columns: [], rows: []) }
        let rows = lines.dropFirst().map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map { $0 == null ? nil : String($0) }
        }
        return PsqlResult(columns: header.split(separator: "\t").map(String.init), rows: Array(rows))
    }

    /// Applies SQL files with `psql -f`, in order, stopping at the first error.
    public func psqlFiles(_ paths: [String]) async throws {
        let server = try await TestDatabase.server()
        let url = try server.connectionURL(database: name)
        for path in paths {
            let result = try await ExternalCommand.run(
                server.installation.tool("psql"),
                ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path], workingDirectory: "/")
            guard result.status == 0 else { throw PsqlError(status: result.status, output: "\(path): \(result.output)") }
        }
    }

    /// Runs a psql script (SQL and backslash commands such as \\copy) in one session;
    /// what psql printed, rows unaligned with tabs between columns.
    public func psqlScript(_ script: String) async throws -> String {
        let server = try await TestDatabase.server()
        let url = try server.connectionURL(database: name)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oms-\(UUID().uuidString).psql").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await ExternalCommand.run(
            server.installation.tool("psql"),
            ["-X", "-q", "-A", "-F", "\t", "-P", "footer=off", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path],
            workingDirectory: "/")
        guard result.status == 0 else { throw PsqlError(status: result.status, output: result.output) }
        return result.output
    }
}

/// A query that was expected to return a row returned none.
public struct NoRowError: Error, CustomStringConvertible {
    public let query: String
    public var description: String { "no row from: \(query)" }
}
