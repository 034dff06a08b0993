import Foundation
import Logging
import PostgresNIO

/// The feed intake (`25_feed_intake.sql`): a request's decoded messages kept as one committed
/// row, answered at once, and applied behind the answer by the service's correlators through
/// the feed's own batch function (`oms_feed_intake_apply`).
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
    /// (`kaifa`, `onu`, `callcenter`, `scada`): durable when this returns.
    public func append(feed: String, messagesJSON: String) async throws -> Appended {
        let rows = try await client.query(
            "SELECT intake_id, received_at FROM oms_feed_intake_append(\(feed), \(messagesJSON)::jsonb)", logger: logger)
        for try await (id, receivedAt) in rows.decode((Int64, Date).self) {
            return Appended(id: id, receivedAt: receivedAt)
        }
        throw NoIntakeRow()
    }

    /// Applies the oldest rows no other correlator holds (up to `maxEvents` events; the
    /// `intake.batch_events` setting when nil), in one transaction; what it applied.
    public func applyNext(maxEvents: Int? = nil) async throws -> [Applied] {
        let rows = try await client.query(
            """
            SELECT intake_id, feed, events, refused, extract(epoch FROM waited)::float8
              FROM oms_feed_intake_apply(\(maxEvents)::integer)
            """, logger: logger)
        var applied: [Applied] = []
        for try await (id, feed, events, refused, waited) in rows.decode((Int64, String, Int, Int, Double).self) {
            applied.append(Applied(intakeID: id, feed: feed, events: events, refused: refused, waited: .seconds(waited)))
        }
        return applied
    }

    /// The rows and events waiting, and the age of the oldest.
    public func backlog() async throws -> Backlog {
        let rows = try await client.query(
            "SELECT batches, events, extract(epoch FROM clock_timestamp() - oldest)::float8 FROM oms_feed_intake_backlog()",
            logger: logger)
        for try await (batches, events, oldest) in rows.decode((Int, Int, Double?).self) {
            return Backlog(batches: batches, events: events, oldestSeconds: oldest)
        }
        return Backlog(batches: 0, events: 0, oldestSeconds: nil)
    }

    /// Of the given intake ids, those still waiting (not applied yet).
    public func waiting(among ids: [Int64]) async throws -> Set<Int64> {
        let rows = try await client.query(
            "SELECT i.id FROM oms_feed_intake i WHERE i.id = ANY (\(ids))", logger: logger)
        var waiting: Set<Int64> = []
        for try await id in rows.decode(Int64.self) { waiting.insert(id) }
        return waiting
    }
}

/// `oms_feed_intake_append` answered no row (it always answers one).
struct NoIntakeRow: Error {}
