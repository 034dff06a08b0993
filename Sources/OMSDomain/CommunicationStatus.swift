/// Whether a meter answers, as the registry last knew it (`oms_meters.communication_status`).
public enum CommunicationStatus: String, CaseIterable, Codable, Sendable {
    case online
    case offline
    case unknown
}
