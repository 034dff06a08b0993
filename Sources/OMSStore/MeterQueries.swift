import Foundation
import Logging
import OMSAPI
import OMSDomain
import PostgresNIO

/// The seed's meter lookups, through the same SQL functions psql users call.
public struct MeterQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Active meters under a substation (`get_meters_by_substation`), by its business id.
    public func metersBySubstation(_ substationID: String) async throws -> [Components.Schemas.MeterSummary] {
        try await client.apiRows(
            "SELECT to_jsonb(m) FROM get_meters_by_substation(\(substationID)) m", as: Components.Schemas.MeterSummary.self,
            logger: logger)
    }

    /// The API's answer for the active meters under a substation or on a feeder, by its business id:
    /// the `MeterList` document as PostgreSQL builds it (`oms_meter_list_json`), to be sent as it is.
    public func meterListJSON(_ scope: MeterListScope, code: String) async throws -> String {
        guard let json = try await client.read("SELECT oms_meter_list_json(\(scope.rawValue), \(code))", logger: logger)
            .decode(String.self).first else { throw NoRow() }
        return json
    }

    /// The API's answer for one meter (`oms_meter_json`), to be sent as it is; nil when no meter has
    /// this number.
    public func meterJSON(_ meterNumber: String) async throws -> String? {
        try await client.read("SELECT oms_meter_json(\(meterNumber))", logger: logger).decode(String?.self).first ?? nil
    }

    /// Active meters on a feeder (`get_meters_by_feeder`), by its business id.
    public func metersByFeeder(_ feederID: String) async throws -> [Components.Schemas.MeterSummary] {
        try await client.apiRows(
            "SELECT to_jsonb(m) FROM get_meters_by_feeder(\(feederID)) m", as: Components.Schemas.MeterSummary.self, logger: logger)
    }

    /// One meter with its topology, customer and status (a row of `oms_meters_with_topology`); nil when no
    /// meter has this number.
    public func meter(_ meterNumber: String) async throws -> Components.Schemas.Meter? {
        try await client.apiRows(
            "SELECT to_jsonb(v) FROM oms_meters_with_topology v WHERE v.meter_number = \(meterNumber)",
            as: Components.Schemas.Meter.self, logger: logger
        ).first
    }

    /// A page of a meter's status history, newest first (`oms_meter_history`), each row with its `cursor`.
    /// Throws SQLSTATE P0002 for an unknown meter, 22023 for a bad limit or cursor.
    public func history(_ meterNumber: String, limit: Int, cursor: String?) async throws -> [Components.Schemas.HistoryItem] {
        try await client.apiRows(
            "SELECT to_jsonb(h) FROM oms_meter_history(\(meterNumber), \(Int32(limit)), \(cursor)) h",
            as: Components.Schemas.HistoryItem.self, logger: logger)
    }

    /// The API's answer for a page of a meter's history (`oms_meter_history_json`: `items` newest first and
    /// `next_cursor`), to be sent as it is. Throws as `history(_:limit:cursor:)`.
    public func historyJSON(_ meterNumber: String, limit: Int, cursor: String?) async throws -> String {
        guard let json = try await client.read(
            "SELECT oms_meter_history_json(\(meterNumber), \(Int32(limit)), \(cursor))", logger: logger
        ).decode(String.self).first else { throw NoRow() }
        return json
    }

    /// A manual power-status change (`oms_set_meter_power_status`): the audit row, whether the request id was
    /// seen before (then nothing changed) and whether the change was applied (a change older than the meter's
    /// newer state is audited but not applied). SQLSTATE P0002 for an unknown meter; 22023 naming the column for
    /// a bad status, request id or an implausible timestamp; 23505 (column `request_id`) for a request id used
    /// before for another change.
    public func setPowerStatus(
        _ meterNumber: String, status: PowerStatus, requestID: String, at time: Date?, note: String?
    ) async throws -> ManualStatusChange {
        let rows = try await client.fetch(
            """
            SELECT status_event_id, duplicate, applied, newer_state_at
              FROM oms_set_meter_power_status(\(meterNumber), \(status.rawValue), \(requestID), \(time), \(note))
            """,
            logger: logger)
        for (id, duplicate, applied, newer) in try rows.decode((UUID, Bool, Bool, Date?).self) {
            return ManualStatusChange(statusEventID: id, duplicate: duplicate, applied: applied, newerStateAt: newer)
        }
        throw NoRow()
    }

    /// Active meters within `radiusKm` of a point, nearest first, at most `limit` (`oms_meters_nearest`: the
    /// first rows of `oms_meters_within`, without reading the whole circle).
    /// SQLSTATE 22023 naming p_lat, p_lng, p_radius_km or p_limit for a bad argument.
    public func metersWithin(latitude: Double, longitude: Double, radiusKm: Double, limit: Int) async throws
        -> [Components.Schemas.NearbyMeter]
    {
        try await client.apiRows(
            "SELECT to_jsonb(w) FROM oms_meters_nearest(\(latitude), \(longitude), \(radiusKm), \(limit)) w",
            as: Components.Schemas.NearbyMeter.self, logger: logger)
    }

    /// Substations with their meter counts (`network_substations_with_meters`), by business id.
    public func substations() async throws -> [Components.Schemas.Substation] {
        try await client.apiRows(
            "SELECT to_jsonb(v) FROM network_substations_with_meters v ORDER BY v.substation_id",
            as: Components.Schemas.Substation.self, logger: logger)
    }

    /// Feeders with their meter counts (`network_feeders_with_meters`), all or one substation's.
    public func feeders(substation: String?) async throws -> [Components.Schemas.Feeder] {
        try await client.apiRows(
            """
            SELECT to_jsonb(v) FROM network_feeders_with_meters v
             WHERE \(substation)::text IS NULL OR v.substation_code = \(substation) ORDER BY v.feeder_id
            """, as: Components.Schemas.Feeder.self, logger: logger)
    }

    /// Every setting (`oms_settings`) by key.
    public func settings() async throws -> [Components.Schemas.Setting] {
        try await client.apiRows("SELECT to_jsonb(s) FROM oms_settings s ORDER BY s.key", as: Components.Schemas.Setting.self, logger: logger)
    }

    /// Sets a setting (`oms_setting_set`, checked by the database against the setting's type and range): the
    /// setting as stored now (with `previous_value`), and the old and new values as JSON text. `value` is sent
    /// as jsonb. SQLSTATE P0002 for an unknown key, 22023 naming the bound for a value out of the setting's
    /// type or range.
    public func setSetting(_ key: String, value: JSONBValue<some Encodable & Sendable>) async throws -> SettingChange {
        let rows = try await client.fetch(
            "SELECT to_jsonb(s), s.value::text, s.previous_value::text FROM oms_setting_set(\(key), \(value)) s",
            logger: logger)
        for (setting, value, previous) in try rows.decode(
            (Components.Schemas.Setting, String, String).self, context: APIRows.context)
        {
            return SettingChange(setting: setting, value: value, previousValue: previous)
        }
        throw NoRow()
    }

    /// A statement that always returns a row returned none.
    struct NoRow: Error {}
}

/// Which of the seed's lookups a meter list answers: the meters under a substation, or on a feeder.
public enum MeterListScope: String, Sendable {
    case substation
    case feeder
}
