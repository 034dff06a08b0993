/// A tunable threshold or weight of the correlation rules, stored in the `oms_settings` table.
///
/// The database holds the value in force; this type names the keys the service
/// knows and the defaults that the migrations install, so code never spells a
/// key by hand.
public struct SettingKey: Hashable, Sendable, CustomStringConvertible {
    /// The dotted key in `oms_settings.key`.
    public let name: String
    /// The value the migrations install, as JSON text.
    public let defaultValue: String

    public var description: String { name }

    /// A meter last heard from longer ago than this (minutes) before a check is not counted online.
    public static let communicationTimeoutMinutes = SettingKey(
        name: "meter.communication_timeout_minutes", defaultValue: "15")
    /// Confidence of an outage opened from a SCADA breaker event and of the status changes it makes.
    public static let scadaConfidence = SettingKey(name: "scada.confidence", defaultValue: "0.9")

    /// Every key this version of the service relies on.
    public static let all: [SettingKey] = [.communicationTimeoutMinutes, .scadaConfidence]
}
