import Foundation
import Logging
import OMSFeeds
import PostgresNIO

/// What `insert_scada_event_with_meter_check` reported for one SCADA event.
public struct SCADACheckSummary: Codable, Sendable, Equatable {
    public var scadaEventID: UUID
    /// false when the event was stored without a check (not critical, unknown substation or feeder).
    public var metersChecked: Bool
    /// Why no check was made.
    public var reason: String?
    /// "feeder" or "substation".
    public var scope: String?
    public var substationID: String?
    public var feederID: String?
    public var totalMeters: Int
    public var offlineMeters: Int
    public var onlineMeters: Int
    public var unknownMeters: Int
    /// The outage opened or joined (its uuid).
    public var outageEventID: UUID?
    /// The outage's readable id, e.g. OMS_SCADA_1727690400_a3f8b2c1.
    public var outageEventCode: String?
    /// true when this message had been delivered before: nothing changed.
    public var duplicate: Bool?

    enum CodingKeys: String, CodingKey {
        case scadaEventID = "scada_event_id", metersChecked = "meters_checked", reason, scope
        case substationID = "substation_id", feederID = "feeder_id", totalMeters = "total_meters"
        case offlineMeters = "offline_meters", onlineMeters = "online_meters", unknownMeters = "unknown_meters"
        case outageEventID = "outage_event_id", outageEventCode = "outage_event_code", duplicate
    }
}

/// The result of one message of a batch.
public enum IngestOutcome<Summary: Sendable & Equatable>: Sendable, Equatable {
    /// Stored (and processed) now.
    case applied(Summary)
    /// Delivered before: nothing changed; the first result.
    case duplicate(Summary)
    /// Refused: nothing of it was written.
    case rejected(FeedDecodingError)
}

/// Feeds SCADA events to `insert_scada_event_with_meter_check`, the same function
/// psql users call: each event in its own transaction, so one bad item of a
/// batch leaves the others applied.
public struct SCADAIngestor: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Applies decoded events in order; refused items keep their decoding error.
    public func ingest(_ items: [Result<SCADAEvent, FeedDecodingError>]) async throws -> [IngestOutcome<SCADACheckSummary>] {
        var outcomes: [IngestOutcome<SCADACheckSummary>] = []
        for (index, item) in items.enumerated() {
            switch item {
            case .failure(let error):
                outcomes.append(.rejected(error))
            case .success(let event):
                outcomes.append(try await ingest(event, index: items.count > 1 ? index : nil))
            }
        }
        return outcomes
    }

    /// Applies one event. A database refusal of the input (e.g. a feeder of another
    /// substation) becomes `.rejected` naming the field; other failures throw.
    public func ingest(_ event: SCADAEvent, index: Int? = nil) async throws -> IngestOutcome<SCADACheckSummary> {
        do {
            let rows = try await client.query(
                "SELECT insert_scada_event_with_meter_check(\(event.message.jsonText)::jsonb)::text", logger: logger)
            var json = ""
            for try await text in rows.decode(String.self) { json = text }
            let summary = try JSONDecoder().decode(SCADACheckSummary.self, from: Data(json.utf8))
            return summary.duplicate == true ? .duplicate(summary) : .applied(summary)
        } catch let error as PSQLError where error.isInputRefusal {
            return .rejected(FeedDecodingError(
                index: index, field: error.serverInfo?[.columnName], reason: error.inputRefusalReason))
        }
    }
}

extension PSQLError {
    /// SQLSTATE 22023 (invalid_parameter_value) or 22xxx data exceptions: the input was wrong.
    var isInputRefusal: Bool {
        guard let state = serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22")
    }

    /// The server's message without the "SCADA event: field "x" " prefix the decoder error adds again.
    var inputRefusalReason: String {
        var message = serverInfo?[.message] ?? "refused by the database"
        if let colon = message.range(of: ": ") , message.hasPrefix("SCADA event") { message = String(message[colon.upperBound...]) }
        if let field = serverInfo?[.columnName], message.hasPrefix("field \"\(field)\" ") {
            message = String(message.dropFirst("field \"\(field)\" ".count))
        }
        return message
    }
}
