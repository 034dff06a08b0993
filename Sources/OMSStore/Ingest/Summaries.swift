import Foundation

/// What `insert_scada_event_with_meter_check` reported for one SCADA event.
public struct SCADACheckSummary: Codable, FeedSummary {
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
    /// true when the event had been stored without a check (`previousReason`) and this delivery, the reason
    /// no longer holding (the setting fixed, the network imported), checked it.
    public var rechecked: Bool?
    /// Why the event was not checked when first stored (with `rechecked`).
    public var previousReason: String?

    enum CodingKeys: String, CodingKey {
        case scadaEventID = "scada_event_id", metersChecked = "meters_checked", reason, scope
        case substationID = "substation_id", feederID = "feeder_id", totalMeters = "total_meters"
        case offlineMeters = "offline_meters", onlineMeters = "online_meters", unknownMeters = "unknown_meters"
        case outageEventID = "outage_event_id", outageEventCode = "outage_event_code", duplicate
        case rechecked, previousReason = "previous_reason"
    }

    /// Encodes as the database writes it (uuids in lower case).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scadaEventID.uuidString.lowercased(), forKey: .scadaEventID)
        try container.encode(metersChecked, forKey: .metersChecked)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeIfPresent(scope, forKey: .scope)
        try container.encodeIfPresent(substationID, forKey: .substationID)
        try container.encodeIfPresent(feederID, forKey: .feederID)
        try container.encode(totalMeters, forKey: .totalMeters)
        try container.encode(offlineMeters, forKey: .offlineMeters)
        try container.encode(onlineMeters, forKey: .onlineMeters)
        try container.encode(unknownMeters, forKey: .unknownMeters)
        try container.encode(outageEventID?.uuidString.lowercased(), forKey: .outageEventID)
        try container.encodeIfPresent(outageEventCode, forKey: .outageEventCode)
        try container.encodeIfPresent(duplicate, forKey: .duplicate)
        try container.encodeIfPresent(rechecked, forKey: .rechecked)
        try container.encodeIfPresent(previousReason, forKey: .previousReason)
    }
}

/// What a meter-evidence feed function (`insert_onu_event_from_json_with_meter_sync`, …) reported:
/// the stored event, the meters matched, the status changes made, and the outages linked or opened.
public struct MeterSyncSummary: Codable, FeedSummary {
    /// The stored event's id (`onu_event_id`, `kaifa_event_id` or `callcenter_ticket_id` in the JSON).
    public var eventID: UUID
    /// Which of those keys the feed uses.
    private var eventIDKey: CodingKeys
    /// power_off, power_on, comm_lost, comm_restored, call or none.
    public var kind: String
    /// matched or unmatched (the meter is not in the registry: kept and reported).
    public var matchStatus: String
    public var metersMatched: Int
    public var meterNumbers: [String]
    /// Status changes applied now.
    public var statusChanges: Int
    /// Status changes older than the meters' newer state: audited, not applied.
    public var lateChanges: Int
    public var outageEventIDs: [UUID]
    public var outagesOpened: Int
    public var duplicate: Bool?

    /// Every status change the message meant was older than the meters' newer state: stored and audited, but
    /// no status changed (its outage or restoration evidence still counts).
    public var isLate: Bool { lateChanges > 0 && statusChanges == 0 }

    enum CodingKeys: String, CodingKey {
        case onuEventID = "onu_event_id", kaifaEventID = "kaifa_event_id", ticketID = "callcenter_ticket_id"
        case kind, matchStatus = "match_status", metersMatched = "meters_matched", meterNumbers = "meter_numbers"
        case statusChanges = "status_changes", lateChanges = "late_changes", outageEventIDs = "outage_event_ids"
        case outagesOpened = "outages_opened", duplicate
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let key = [CodingKeys.onuEventID, .kaifaEventID, .ticketID].first(where: container.contains) else {
            throw DecodingError.keyNotFound(
                CodingKeys.onuEventID, .init(codingPath: [], debugDescription: "no event id in the summary"))
        }
        eventIDKey = key
        eventID = try container.decode(UUID.self, forKey: key)
        kind = try container.decode(String.self, forKey: .kind)
        matchStatus = try container.decode(String.self, forKey: .matchStatus)
        metersMatched = try container.decode(Int.self, forKey: .metersMatched)
        meterNumbers = try container.decode([String].self, forKey: .meterNumbers)
        statusChanges = try container.decode(Int.self, forKey: .statusChanges)
        lateChanges = try container.decode(Int.self, forKey: .lateChanges)
        outageEventIDs = try container.decode([UUID].self, forKey: .outageEventIDs)
        outagesOpened = try container.decode(Int.self, forKey: .outagesOpened)
        duplicate = try container.decodeIfPresent(Bool.self, forKey: .duplicate)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(eventID.uuidString.lowercased(), forKey: eventIDKey)
        try container.encode(kind, forKey: .kind)
        try container.encode(matchStatus, forKey: .matchStatus)
        try container.encode(metersMatched, forKey: .metersMatched)
        try container.encode(meterNumbers, forKey: .meterNumbers)
        try container.encode(statusChanges, forKey: .statusChanges)
        try container.encode(lateChanges, forKey: .lateChanges)
        try container.encode(outageEventIDs.map { $0.uuidString.lowercased() }, forKey: .outageEventIDs)
        try container.encode(outagesOpened, forKey: .outagesOpened)
        try container.encodeIfPresent(duplicate, forKey: .duplicate)
    }
}
