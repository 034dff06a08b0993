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

/// Where an outage is in its life (`oms_outage_events.status`); the transitions are in
/// ARCHITECTURE.md ("Outage states").
public enum OutageStatus: String, CaseIterable, Codable, Sendable {
    /// Evidence from meters or calls, below the prediction threshold.
    case detected
    /// The engine predicts its device out (the threshold passed, or a roll-up).
    case predicted
    /// Telemetry shows the device out, two feeds agree, or an operator confirmed it.
    case confirmed
    /// A crew is assigned.
    case inProgress = "in_progress"
    /// Power is back.
    case restored
    /// An operator closed it with a cause code.
    case closed
    /// The evidence turned out false.
    case cancelled
    /// Folded into another outage, which took its evidence and meters.
    case merged

    /// Whether the outage is still open (shown in `oms_active_outages`).
    public var isActive: Bool { ![.restored, .closed, .cancelled, .merged].contains(self) }
}
