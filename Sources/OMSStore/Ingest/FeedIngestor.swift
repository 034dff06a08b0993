import Foundation
import Logging
import OMSFeeds
import PostgresNIO

/// The result of one message of a batch.
public enum IngestOutcome<Summary: Sendable & Equatable>: Sendable, Equatable {
    /// Stored (and processed) now. A meter feed's message whose status changes were all late is still
    /// `.applied` here (it was stored and its evidence linked); `isLate` says that no status changed.
    case applied(Summary)
    /// Delivered before: nothing changed; the first result.
    case duplicate(Summary)
    /// Refused: nothing of it was written.
    case rejected(FeedDecodingError)
}

/// A summary that knows whether it reports a repeated delivery.
public protocol FeedSummary: Decodable, Sendable, Equatable {
    /// true when the message had been delivered before.
    var duplicate: Bool? { get }
    /// true when the message was stored but none of its status changes was applied: each was older than the
    /// meter's newer state (audited with applied = false). Such a message is "late", never "applied".
    var isLate: Bool { get }
}

extension FeedSummary {
    public var isLate: Bool { false }
}

extension IngestOutcome where Summary: FeedSummary {
    /// A message stored now, or a repeat of one stored before, as its summary says.
    static func stored(_ summary: Summary) -> Self {
        summary.duplicate == true ? .duplicate(summary) : .applied(summary)
    }

    /// Stored now, but every status change it meant was late (older than the meters' newer state): not applied.
    public var isLate: Bool {
        if case .applied(let summary) = self { return summary.isLate }
        return false
    }
}

/// A feed the service ingests: the name of its messages, how they decode, and
/// the seed's SQL function that stores and processes them.
public struct Feed<Event: Sendable, Summary: FeedSummary>: Sendable {
    /// "SCADA event", "ONU event": for error titles.
    public let messageName: String
    /// Splits and decodes a body (one object, an array, NDJSON).
    public let decodeBatch: @Sendable ([UInt8]) -> [Result<Event, FeedDecodingError>]
    /// The message as received, sent to the SQL function as jsonb.
    public let message: @Sendable (Event) -> JSONValue
    /// A fixed function name of the schema (never user input).
    let sqlFunction: String
    /// Its batch form (a jsonb array in, an array of results out).
    let batchFunction: String
    /// Its name in the feed intake (`oms_feed_batch_function`).
    let intakeName: String
    /// Whether a body holds several messages (answered item by item) rather than one, given the
    /// number of items `decodeBatch` made of it.
    public var isBatch: @Sendable (_ body: [UInt8], _ decoded: Int) -> Bool = { body, _ in FeedBatch.isBatch(body) }
}

extension Feed where Event == SCADAEvent, Summary == SCADACheckSummary {
    /// SCADA breaker events → `insert_scada_event_with_meter_check`.
    public static let scada = Feed(
        messageName: "SCADA event", decodeBatch: SCADADecoder.decodeBatch, message: \.message,
        sqlFunction: "insert_scada_event_with_meter_check", batchFunction: "insert_scada_events_with_meter_check",
        intakeName: "scada")
}

extension Feed where Event == ONUEvent, Summary == MeterSyncSummary {
    /// ONU alarms → `insert_onu_event_from_json_with_meter_sync`.
    public static let onu = Feed(
        messageName: "ONU event", decodeBatch: ONUDecoder.decodeBatch, message: \.message,
        sqlFunction: "insert_onu_event_from_json_with_meter_sync", batchFunction: "insert_onu_events_with_meter_sync",
        intakeName: "onu")
}

extension Feed where Event == KAIFAEvent, Summary == MeterSyncSummary {
    /// AMI head-end EndDeviceEvents (XML or JSON) → `insert_kaifa_event_from_json_with_meter_sync`.
    public static let kaifa = Feed(
        messageName: "KAIFA event", decodeBatch: KAIFADecoder.decodeBatch, message: \.message,
        sqlFunction: "insert_kaifa_event_from_json_with_meter_sync", batchFunction: "insert_kaifa_events_with_meter_sync",
        intakeName: "kaifa", isBatch: KAIFADecoder.isBatch(_:decoded:))
}

extension Feed where Event == CallCenterTicket, Summary == MeterSyncSummary {
    /// Call-center tickets → `insert_callcenter_ticket_from_json_with_meter_link`.
    public static let callCenter = Feed(
        messageName: "call-center ticket", decodeBatch: CallCenterDecoder.decodeBatch, message: \.message,
        sqlFunction: "insert_callcenter_ticket_from_json_with_meter_link",
        batchFunction: "insert_callcenter_tickets_with_meter_link", intakeName: "callcenter")
}

/// A batch kept in the feed intake (`FeedIngestor.enqueue`).
public struct QueuedBatch: Sendable {
    /// Its intake row; nil when no item decoded (nothing was written).
    public let appended: FeedIntake.Appended?
    /// Items kept, to be applied.
    public let accepted: Int
    /// Items refused by their decoder (index in the body, error): nothing of them was kept.
    public let rejected: [(Int, FeedDecodingError)]
}

/// Feeds decoded messages to their SQL function, the same one psql users call:
/// each message in its own transaction, so one bad item of a batch leaves the
/// others applied.
public struct FeedIngestor<Event: Sendable, Summary: FeedSummary>: Sendable {
    let feed: Feed<Event, Summary>
    let client: PostgresClient
    let logger: Logger

    public init(_ feed: Feed<Event, Summary>, client: PostgresClient, logger: Logger) {
        self.feed = feed
        self.client = client
        self.logger = logger
    }

    /// The feed intake this ingestor keeps batches in (`enqueue`).
    public var intake: FeedIntake { FeedIntake(client: client, logger: logger) }

    /// Decodes a body and applies its messages in order.
    public func ingest(body: [UInt8]) async throws -> [IngestOutcome<Summary>] {
        try await ingest(feed.decodeBatch(body))
    }

    /// Applies decoded messages in order; refused items keep their decoding error.
    ///
    /// The decoded messages of a batch go to the feed's batch function in one call
    /// and one transaction (durable when it returns). Should the database refuse
    /// one of them, the batch is applied one message at a time instead, so that
    /// the good ones still land and the bad one is reported with its field.
    public func ingest(_ items: [Result<Event, FeedDecodingError>]) async throws -> [IngestOutcome<Summary>] {
        var outcomes = Self.decoderRefusals(items)
        let decoded = Self.decoded(items)
        if decoded.count > 1, let summaries = try await ingestBatch(decoded.map(\.1)) {
            for ((index, _), summary) in zip(decoded, summaries) {
                outcomes[index] = .stored(summary)
            }
        } else {
            for (index, event) in decoded {
                outcomes[index] = try await ingest(event, index: items.count > 1 ? index : nil)
            }
        }
        return outcomes.map { $0! }
    }

    /// Keeps the decoded messages of a batch in the feed intake (one committed row), to be applied
    /// behind the answer (`FeedIntake`); refused items keep their decoding error. No row is written
    /// when no item decoded. With `answer`, their results are kept for `FeedIntake.takeAnswer`
    /// when applied (read with `outcomes(of:answer:)`).
    public func enqueue(_ items: [Result<Event, FeedDecodingError>], answer: Bool = false) async throws -> QueuedBatch {
        let decoded = Self.decoded(items)
        let rejected = items.enumerated().compactMap { index, item -> (Int, FeedDecodingError)? in
            if case .failure(let error) = item { return (index, error) }
            return nil
        }
        guard !decoded.isEmpty else { return QueuedBatch(appended: nil, accepted: 0, rejected: rejected) }
        let appended = try await intake.append(
            feed: feed.intakeName, messagesJSON: JSONValue.array(decoded.map { feed.message($0.1) }).jsonText, answer: answer)
        return QueuedBatch(appended: appended, accepted: decoded.count, rejected: rejected)
    }

    /// The outcomes of `items` (as `ingest` answers them) from the results the correlator kept
    /// for their intake row (`FeedIntake.Answer.results`): one per decoded item, in order; the
    /// others keep their decoding error.
    public func outcomes(of items: [Result<Event, FeedDecodingError>], answer json: String) throws -> [IngestOutcome<Summary>] {
        let answers = try JSONDecoder().decode([IntakeAnswerItem<Summary>].self, from: Data(json.utf8))
        let decoded = Self.decoded(items)
        guard answers.count == decoded.count else {
            throw IntakeAnswerMismatch(expected: decoded.count, found: answers.count)
        }
        var outcomes = Self.decoderRefusals(items)
        for ((index, _), answer) in zip(decoded, answers) {
            if let summary = answer.result {
                outcomes[index] = .stored(summary)
            } else {
                let refusal = answer.refused ?? IntakeAnswerItem<Summary>.Refusal(field: nil, reason: "refused by the database")
                outcomes[index] = .rejected(FeedDecodingError(
                    index: items.count > 1 ? index : nil, field: refusal.field,
                    reason: PSQLError.refusalReason(message: refusal.reason, field: refusal.field)))
            }
        }
        return outcomes.map { $0! }
    }

    /// One outcome per item: the decoder's refusals in place, nil for the items that decoded (to be filled in).
    static func decoderRefusals(_ items: [Result<Event, FeedDecodingError>]) -> [IngestOutcome<Summary>?] {
        items.map { item in
            if case .failure(let error) = item { return .rejected(error) }
            return nil
        }
    }

    /// The items that decoded, with their index in the body.
    static func decoded(_ items: [Result<Event, FeedDecodingError>]) -> [(Int, Event)] {
        items.enumerated().compactMap { index, item -> (Int, Event)? in
            if case .success(let event) = item { return (index, event) }
            return nil
        }
    }

    /// One call of the batch function; nil when the database refused a message of it.
    private func ingestBatch(_ events: [Event]) async throws -> [Summary]? {
        let array = JSONValue.array(events.map(feed.message)).jsonText
        do {
            let json = try await callRetryingConflicts(feed.batchFunction, argument: array)
            return try JSONDecoder().decode([Summary].self, from: Data(json.utf8))
        } catch let error as PSQLError where error.isInputRefusal {
            logger.notice("a batch was refused; applying its messages one by one", metadata: [
                "reason": "\(error.inputRefusalReason)",
            ])
            return nil
        }
    }

    /// Applies one message. A database refusal of the input (e.g. a feeder of another
    /// substation) becomes `.rejected` naming the field; other failures throw.
    public func ingest(_ event: Event, index: Int? = nil) async throws -> IngestOutcome<Summary> {
        do {
            let json = try await callRetryingConflicts(feed.sqlFunction, argument: feed.message(event).jsonText)
            let summary = try JSONDecoder().decode(Summary.self, from: Data(json.utf8))
            return .stored(summary)
        } catch let error as PSQLError where error.isInputRefusal {
            return .rejected(FeedDecodingError(
                index: index, field: error.serverInfo?[.columnName], reason: error.inputRefusalReason))
        }
    }
}

extension FeedIngestor {
    /// How often a call refused for a concurrent delivery of the same event is tried again.
    static var conflictAttempts: Int { 5 }

    /// Calls one of the feed's functions with a jsonb argument; its result as text.
    ///
    /// A batch that met a concurrent delivery of one of its events is refused whole
    /// (SQLSTATE 40001, nothing written); called again, it answers that event as a
    /// repeat. A deadlock with another batch (40P01) is rolled back whole too, and tried again.
    private func callRetryingConflicts(_ function: String, argument: String) async throws -> String {
        var attempt = 1
        while true {
            do {
                var query = PostgresQuery(unsafeSQL: "SELECT \(function)($1::jsonb)::text")
                query.binds.append(argument, context: .default)
                let rows = try await client.fetch(query, logger: logger)
                var json = ""
                for text in try rows.decode(String.self) { json = text }
                return json
            } catch let error as PSQLError
                where ["40001", "40P01"].contains(error.serverInfo?[.sqlState]) && attempt < Self.conflictAttempts {
                logger.info("a concurrent batch conflicted with this one; trying again", metadata: [
                    "attempt": "\(attempt)", "sqlstate": "\(error.serverInfo?[.sqlState] ?? "")",
                ])
                attempt += 1
            }
        }
    }
}

extension PSQLError {
    /// SQLSTATE 22xxx (data exceptions, e.g. 22023 invalid_parameter_value): the input was wrong.
    var isInputRefusal: Bool {
        serverInfo?[.sqlState]?.hasPrefix("22") ?? false
    }

    /// The server's message without the "SCADA event: field "x" " prefix the decoder error adds again.
    var inputRefusalReason: String {
        Self.refusalReason(message: serverInfo?[.message] ?? "refused by the database", field: serverInfo?[.columnName])
    }

    /// A refusal's message (the server's, about `field`) without the "SCADA event: field "x" " prefix the
    /// decoder error adds again.
    static func refusalReason(message: String, field: String?) -> String {
        var message = message
        if let colon = message.range(of: ": "), ["event", "ticket"].contains(where: message.prefix(upTo: colon.lowerBound).hasSuffix) {
            message = String(message[colon.upperBound...])
        }
        if let field, message.hasPrefix("field \"\(field)\" ") {
            message = String(message.dropFirst("field \"\(field)\" ".count))
        }
        return message
    }
}

/// One element of an intake row's kept results (`oms_feed_intake_answers`): the message's result,
/// or why the database refused it.
struct IntakeAnswerItem<Summary: Decodable>: Decodable {
    /// Why a message was refused (its SQLSTATE is in the database's answer, not needed here).
    struct Refusal: Decodable {
        var field: String?
        var reason: String
    }

    var result: Summary?
    var refused: Refusal?
}

/// An intake row's kept results did not hold one element per message.
struct IntakeAnswerMismatch: Error, CustomStringConvertible {
    let expected: Int
    let found: Int
    var description: String { "the intake kept \(found) results for \(expected) messages" }
}
