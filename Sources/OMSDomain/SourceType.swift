/// Where a status change or a piece of outage evidence came from.
///
/// The four feeds, plus `manual` (an operator) and `system` (the service itself).
/// Raw values are the strings stored in `source_type` columns.
public enum SourceType: String, CaseIterable, Codable, Sendable {
    case scada
    case onu
    case kaifa
    case callCenter = "call_center"
    case manual
    case system

    /// The four feeds that can be linked to an outage as evidence (`oms_event_sources.source_type`).
    public static let feeds: [SourceType] = [.scada, .onu, .kaifa, .callCenter]

    /// Whether this source is one of the four feeds.
    public var isFeed: Bool { Self.feeds.contains(self) }
}

/// Where an outage is in its life (`oms_outage_events.status`).
public enum OutageStatus: String, CaseIterable, Codable, Sendable {
    /// Inferred from meters or calls alone, not yet seen by telemetry.
    case predicted
    /// Seen by telemetry (a SCADA breaker event).
    case detected
    /// Confirmed by an operator or by independent evidence.
    case confirmed
    /// A crew is working on it.
    case inProgress = "in_progress"
    /// Power is back.
    case restored
    /// The evidence turned out false.
    case cancelled

    /// Whether the outage is still open (shown in `oms_active_outages`).
    public var isActive: Bool { self != .restored && self != .cancelled }
}
