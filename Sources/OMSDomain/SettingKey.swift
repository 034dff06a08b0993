/// A tunable threshold or weight of the correlation rules, stored in the `oms_settings` table.
///
/// The database holds the value in force; this type names the keys the service
/// knows and the defaults that the migrations install, so code never spells a
/// key by hand. Each setting's type and range (`value_type`, `minimum`, `maximum`)
/// are the database's too: it checks every write against them (migration 0031).
public struct SettingKey: Hashable, Sendable, CustomStringConvertible {
    /// The dotted key in `oms_settings.key`.
    public let name: String
    /// The value the migrations install, as JSON text.
    public let defaultValue: String

    public var description: String { name }

    /// A meter last heard from longer ago than this (minutes) before a check is not counted online.
    public static let communicationTimeoutMinutes = SettingKey(
        name: "meter.communication_timeout_minutes", defaultValue: "15")
    /// SCADA alarm or event types that trigger a meter check (compared ignoring case, spaces and dashes).
    public static let scadaCriticalAlarms = SettingKey(
        name: "scada.critical_alarms",
        defaultValue: #"["fault", "breaker_trip", "trip", "lockout", "power_failure", "outage", "de-energized", "loss_of_voltage", "MV_AlarmLossOfVoltage"]"#)

    /// The weight of a source's evidence for an outage and the confidence of the status changes it makes.
    public static func confidence(of source: SourceType) -> SettingKey {
        let defaults: [SourceType: String] = [
            .scada: "0.9", .kaifa: "0.8", .onu: "0.7", .callCenter: "0.5", .manual: "1.0", .system: "1.0",
        ]
        return SettingKey(name: "\(source.rawValue).confidence", defaultValue: defaults[source] ?? "1.0")
    }

    /// Confidence of an outage opened from a SCADA breaker event and of the status changes it makes.
    public static let scadaConfidence = confidence(of: .scada)

    /// Meter evidence joins an active outage only if that outage was first detected within this many minutes.
    public static let correlationWindowMinutes = SettingKey(name: "correlation.window_minutes", defaultValue: "60")
    /// An outage whose combined confidence reaches this is confirmed.
    public static let confirmConfidence = SettingKey(name: "correlation.confirm_confidence", defaultValue: "0.95")
    /// Whether leading zeros of a meter number's digits are ignored when matching (call center, registry migration).
    public static let stripLeadingZeros = SettingKey(name: "call_center.strip_leading_zeros", defaultValue: "true")
    /// Proximity linking: a meter without topology joins the nearest distribution point within this radius (km).
    public static let proximityDPRadiusKm = SettingKey(name: "proximity.dp_radius_km", defaultValue: "0.5")
    /// ... else the nearest feeder (its location) within this radius (km).
    public static let proximityFeederRadiusKm = SettingKey(name: "proximity.feeder_radius_km", defaultValue: "2")
    /// ... else the nearest substation within this radius (km).
    public static let proximitySubstationRadiusKm = SettingKey(name: "proximity.substation_radius_km", defaultValue: "10")
    /// An import of at least this many rows into an empty table builds its indexes and foreign keys after the rows (0: never).
    public static let importBulkLoadMinRows = SettingKey(name: "import.bulk_load_min_rows", defaultValue: "10000")
    /// Events a correlator applies from the feed intake in one transaction (1–100000).
    public static let intakeBatchEvents = SettingKey(name: "intake.batch_events", defaultValue: "2000")
    /// A large KAIFA or ONU request is kept in the feed intake as up to this many pieces split by substation (1–64).
    public static let intakePieces = SettingKey(name: "intake.pieces", defaultValue: "2")
    /// ... when it has at least this many messages (1–100000).
    public static let intakePieceMinEvents = SettingKey(name: "intake.piece_min_events", defaultValue: "200")
    /// A feed event time more than this many minutes ahead of the database's clock is refused (0–1440).
    public static let feedsMaxFutureMinutes = SettingKey(name: "feeds.max_future_minutes", defaultValue: "5")
    /// A feed event time before this is refused (ISO 8601; from 1900 to the database's clock).
    public static let feedsEarliestEventTime = SettingKey(
        name: "feeds.earliest_event_time", defaultValue: #""2000-01-01T00:00:00Z""#)

    // The outage engine (19_outage_engine.sql, 20_device_telemetry.sql).

    /// A distribution point is predicted out when at least this many of its meters report a loss ...
    public static let predictDPMinReports = SettingKey(name: "predict.dp_min_reports", defaultValue: "2")
    /// ... or this share of its meters able to report do.
    public static let predictDPReportShare = SettingKey(name: "predict.dp_report_share", defaultValue: "0.5")
    /// A parent is predicted when at least this many of its children are out ...
    public static let rollupMinChildren = SettingKey(name: "rollup.min_children", defaultValue: "2")
    /// ... and they are this share of its children with meters ...
    public static let rollupChildrenShare = SettingKey(name: "rollup.children_share", defaultValue: "0.5")
    /// ... or this share of its customers able to report have reported.
    public static let rollupCustomerShare = SettingKey(name: "rollup.customer_share", defaultValue: "0.3")
    /// Roll-up counts only outages below first detected within this many minutes of the evidence.
    public static let rollupWindowMinutes = SettingKey(name: "rollup.window_minutes", defaultValue: "30")
    /// An outage without telemetry is restored when this share of its meters able to report are back.
    public static let restorationMeterShare = SettingKey(name: "restoration.meter_share", defaultValue: "0.5")
    /// An outage held by telemetry whose device never reported closing is restored at this share of its meters back.
    public static let restorationTelemetryMeterShare = SettingKey(
        name: "restoration.telemetry_meter_share", defaultValue: "0.8")
    /// A loss within this many minutes after a restoration, with no power-up between, is a nested outage.
    public static let restorationNestedMinutes = SettingKey(name: "restoration.nested_minutes", defaultValue: "10")
    /// An interruption restored within this many minutes is momentary (IEEE 1366).
    public static let momentaryMinutes = SettingKey(name: "outage.momentary_minutes", defaultValue: "5")
    /// A device opening again within this many seconds after closing reopens the same outage.
    public static let recloseSeconds = SettingKey(name: "telemetry.reclose_seconds", defaultValue: "120")

    /// Every key this version of the service relies on.
    public static let all: [SettingKey] =
        [.communicationTimeoutMinutes, .scadaCriticalAlarms, .correlationWindowMinutes, .confirmConfidence,
         .stripLeadingZeros, .proximityDPRadiusKm, .proximityFeederRadiusKm, .proximitySubstationRadiusKm,
         .importBulkLoadMinRows, .feedsMaxFutureMinutes, .feedsEarliestEventTime, .predictDPMinReports,
         .predictDPReportShare, .rollupMinChildren, .rollupChildrenShare, .rollupCustomerShare, .rollupWindowMinutes,
         .restorationMeterShare, .restorationTelemetryMeterShare, .restorationNestedMinutes, .momentaryMinutes, .recloseSeconds,
         .intakeBatchEvents, .intakePieces, .intakePieceMinEvents]
        + SourceType.allCases.map(confidence(of:))
}
