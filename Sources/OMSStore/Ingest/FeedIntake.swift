import Foundation
import Logging
import PostgresNIO

/// The feed intake (`25_feed_intake.sql`): a request's decoded messages kept as one committed
/// row, answered at once, and applied behind the answer by the service's correlators through
/// the feed's own batch function (`oms_feed_intake_apply`). Every query reads its rows whole
/// (`PostgresClient.fetch`: a failed apply, a conflict that is expected here, must not leave its
/// connection leased; see `FetchedRows`).
public struct FeedIntake: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A request's row in the intake.
    public struct Appended: Sendable, Equatable {
        /// Its id (`oms_feed_intake.id`): gone from the table once applied.
        public let id: Int64
        /// When the database took it.
        public let receivedAt: Date
    }

    /// An intake row a correlator applied.
    public struct Applied: Sendable, Equatable {
        public let intakeID: Int64
        /// The request it belongs to (the id `append` answered): its own id, or, for a piece of a
        /// request split by substation, the first piece's.
        public let requestID: Int64
        public let feed: String
        public let events: Int
        /// Messages the database refused when applying them (kept in `oms_feed_intake_refused`).
        public let refused: Int
        /// From its append to the end of its application (the database's clock).
        public let waited: Duration
    }

    /// What waits in the intake.
    public struct Backlog: Sendable, Equatable {
        public let batches: Int
        public let events: Int
        /// Seconds the oldest row has waited; nil when none waits.
        public let oldestSeconds: Double?

        public init(batches: Int, events: Int, oldestSeconds: Double?) {
            self.batches = batches
            self.events = events
            self.oldestSeconds = oldestSeconds
        }
    }

    /// Appends messages (a JSON array, as the feed's batch function takes them) for `feed`
    /// (`kaifa`, `onu`, `callcenter`, `scada`): durable when this returns. A large KAIFA or ONU
    /// request is kept as pieces split by substation (`intake.pieces`), which several correlators
    /// apply side by side; the id answered names the whole request. With `answer`, the
    /// correlators that apply them keep their results for `takeAnswer`.
    public func append(feed: String, messagesJSON: String, answer: Bool = false) async throws -> Appended {
        let rows = try await client.fetch(
            "SELECT intake_id, received_at FROM oms_feed_intake_append(\(feed), \(messagesJSON)::jsonb, \(answer))",
            logger: logger)
        guard let (id, receivedAt) = try rows.decode((Int64, Date).self).first else { throw NoIntakeRow() }
        return Appended(id: id, receivedAt: receivedAt)
    }

    /// What `takeAnswer` found for a row appended with `answer`.
    public enum Answer: Sendable, Equatable {
        /// Not applied yet.
        case waiting
        /// Applied: its results (a JSON array, one element per message: `{"result": …}` or
        /// `{"refused": {"sqlstate", "field", "reason"}}`), now deleted from the database.
        case results(String)
        /// Applied, but its results are gone: taken before, or kept too long untaken.
        case gone
    }

    /// Takes the results kept for the row `id` (`oms_feed_intake_take_answer`).
    public func takeAnswer(_ id: Int64) async throws -> Answer {
        let rows = try await client.fetch(
            "SELECT results::text, waiting FROM oms_feed_intake_take_answer(\(id))", logger: logger)
        guard let (results, waiting) = try rows.decode((String?, Bool).self).first else { throw NoIntakeRow() }
        if let results { return .results(results) }
        return waiting ? .waiting : .gone
    }

    /// Applies the oldest rows no other correlator holds (up to `maxEvents` events; the
    /// `intake.batch_events` setting when nil), in one transaction; what it applied.
    public func applyNext(maxEvents: Int? = nil) async throws -> [Applied] {
        let rows = try await client.fetch(
            """
            SELECT intake_id, request_id, feed, events, refused, extract(epoch FROM waited)::float8
              FROM oms_feed_intake_apply(\(maxEvents)::integer)
            """, logger: logger)
        return try rows.decode((Int64, Int64, String, Int, Int, Double).self).map { id, request, feed, events, refused, waited in
            Applied(intakeID: id, requestID: request, feed: feed, events: events, refused: refused, waited: .seconds(waited))
        }
    }

    /// The rows and events waiting, and the age of the oldest.
    public func backlog() async throws -> Backlog {
        let rows = try await client.read(
            "SELECT batches, events, extract(epoch FROM clock_timestamp() - oldest)::float8 FROM oms_feed_intake_backlog()",
            logger: logger)
        guard let (batches, events, oldest) = try rows.decode((Int, Int, Double?).self).first else {
            return Backlog(batches: 0, events: 0, oldestSeconds: nil)
        }
        return Backlog(batches: batches, events: events, oldestSeconds: oldest)
    }

    /// Of the given intake ids (as `append` answered them), those still waiting: a row of theirs
    /// (a piece, for a request split by substation) is not applied yet (`oms_feed_intake_waiting`).
    public func waiting(among ids: [Int64]) async throws -> Set<Int64> {
        let rows = try await client.read("SELECT oms_feed_intake_waiting(\(ids))", logger: logger)
        return Set(try rows.decode(Int64.self).map { $0 })
    }
}

/// `oms_feed_intake_append` answered no row (it always answers one).
struct NoIntakeRow: Error {}
