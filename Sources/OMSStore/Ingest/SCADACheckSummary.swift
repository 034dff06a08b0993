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
