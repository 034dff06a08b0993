import Foundation
import Logging
import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

/// `PostgresClient.fetch`: the store's one way to run a query through the pool. A query that
/// fails on the server after its rows began must give its connection back: with
/// `PostgresClient.query` (PostgresNIO 1.33) the error can arrive before the caller reads, and the
/// connection then stays leased for ever (the HTTP fuzz test hung so on a loaded machine). And its
/// rows are returned only once its transaction has committed (see `FetchedRows`).
@Suite("fetch gives every connection back")
struct FetchedRowsTests {
    /// The row description, then an error: both come in the same packet.
    static let failsMidway: PostgresQuery = "SELECT 1 / (x - 1) FROM generate_series(1, 1) x"

    @Test("a thousand queries that fail midway on a one-connection pool: each error is thrown, and the pool still answers")
    func failingQueriesReturnTheirConnection() async throws {
        try await TestDatabase.with(.migrated) { database in
            var configuration = database.configuration
            configuration.options.maximumConnections = 1
            try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
                // Threads that keep every core busy, so that a caller is often preempted between
                // sending its query and reading the answer: the race the leak needs.
                let busy = BusyThreads(count: 4)
                defer { busy.stop() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Several at once, so that callers are slow to read while the answers arrive.
                    for worker in 0..<4 {
                        group.addTask {
                            for attempt in 0..<250 {
                                do {
                                    try await client.fetch(Self.failsMidway, logger: TestDatabase.logger)
                                    Issue.record("worker \(worker), attempt \(attempt): the division by zero was not reported")
                                } catch let error as PSQLError {
                                    #expect(error.serverInfo?[.sqlState] == "22012", "\(String(reflecting: error))")
                                }
                            }
                        }
                    }
                    group.addTask {
                        // A leak holds the workers for ever; alone they end in ~7 s. The limit only
                        // tells the two apart: 120 s was once passed in a full suite on 2 cores.
                        try await Task.sleep(for: .seconds(300))
                        throw FetchTimeout()
                    }
                    // The four workers end (or the limit does): a leaked connection would stop them all.
                    for _ in 0..<4 { try await group.next() }
                    group.cancelAll()
                }
                // The pool's one connection still answers.
                let rows = try await client.fetch("SELECT 41 + 1", logger: TestDatabase.logger)
                #expect(try rows.decode(Int.self) == [42])
            }
        }
    }

    @Test("rows are returned once committed: a commit that fails after the statement's rows (a deferred check) is thrown, and nothing is kept")
    func rowsOnlyOnceCommitted() async throws {
        try await TestDatabase.with(.migrated) { database in
            // A check PostgreSQL runs at the commit, after the statement has sent its rows and its
            // CommandComplete: the moment a crash or a failover also falls in.
            try await database.client.execute("CREATE TABLE committed_rows (x integer)")
            try await database.client.execute(
                """
                CREATE FUNCTION committed_rows_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation';
                END $$
                """)
            try await database.client.execute(
                """
                CREATE CONSTRAINT TRIGGER committed_rows_refused AFTER INSERT ON committed_rows
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION committed_rows_refuse()
                """)
            do {
                let rows = try await database.client.fetch(
                    "INSERT INTO committed_rows VALUES (7) RETURNING x", logger: TestDatabase.logger)
                Issue.record("the insert's rows were returned though its commit failed: \(try rows.decode(Int.self))")
            } catch {
                // PostgresNIO closes the connection on an error after CommandComplete: the
                // confirmation fails with it.
            }
            #expect(try await database.client.scalar("SELECT count(*)::int FROM committed_rows", as: Int.self) == 0)
            // Without the deferred check the same insert is returned, committed.
            try await database.client.execute("DROP TRIGGER committed_rows_refused ON committed_rows")
            let rows = try await database.client.fetch("INSERT INTO committed_rows VALUES (8) RETURNING x", logger: TestDatabase.logger)
            #expect(try rows.decode(Int.self) == [8])
            #expect(try await database.client.scalar("SELECT count(*)::int FROM committed_rows", as: Int.self) == 1)
        }
    }

    @Test("rows decode as types and tuples, with the JSON context for jsonb")
    func decoding() async throws {
        try await TestDatabase.with(.migrated) { database in
            let rows = try await database.client.fetch(
                "SELECT x, 'n' || x, jsonb_build_object('x', x) FROM generate_series(1, 3) x ORDER BY x", logger: TestDatabase.logger)
            #expect(rows.rows.count == 3)
            let pairs = try rows.decode((Int, String).self)
            #expect(pairs.map(\.0) == [1, 2, 3] && pairs.map(\.1) == ["n1", "n2", "n3"])
            struct X: Decodable, PostgresDecodable { var x: Int }
            let objects = try await database.client.fetch(
                "SELECT jsonb_build_object('x', x) FROM generate_series(1, 2) x ORDER BY x", logger: TestDatabase.logger)
            #expect(try objects.decode(X.self, context: .default).map(\.x) == [1, 2])
        }
    }
}

/// Threads spinning until stopped.
private final class BusyThreads: Sendable {
    private let running = Mutex(true)
    init(count: Int) {
        for _ in 0..<count {
            Thread { [self] in
                var x = 0
                while self.running.withLock({ $0 }) { for i in 0..<10_000 { x &+= i } }
                _ = x
            }.start()
        }
    }
    func stop() { running.withLock { $0 = false } }
}

private struct FetchTimeout: Error, CustomStringConvertible {
    var description: String { "the failing queries did not end within 300 s: a connection was not given back" }
}
