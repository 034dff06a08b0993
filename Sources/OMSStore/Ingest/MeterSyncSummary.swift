import Foundation

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
