/// Whether a premise has power, as the registry last knew it (`oms_meters.power_status`).
public enum PowerStatus: String, CaseIterable, Codable, Sendable {
    case on
    case off
    case unknown
}
