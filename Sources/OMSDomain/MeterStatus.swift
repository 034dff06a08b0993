/// Whether a premise has power, as the registry last knew it (`oms_meters.power_status`).
public enum PowerStatus: String, CaseIterable, Codable, Sendable {
    case on
    case off
    case unknown
}

/// Whether a meter answers, as the registry last knew it (`oms_meters.communication_status`).
public enum CommunicationStatus: String, CaseIterable, Codable, Sendable {
    case online
    case offline
    case unknown
}

/// How a meter counts when it is checked (the database's `oms_classify_meter`).
///
/// - offline: power off, or communication offline;
/// - online: power on, communicating, and heard from recently enough;
/// - unknown: anything else, e.g. a meter never heard from. Unknown meters are never forced off.
public enum MeterCheckResult: String, CaseIterable, Codable, Sendable {
    case online
    case offline
    case unknown
}

/// Whether a meter is in service (`oms_meters.status`).
public enum MeterLifecycle: String, CaseIterable, Codable, Sendable {
    case active
    case inactive
}
