import Foundation
import Logging
import PostgresNIO

/// A meter as `get_meters_by_substation` / `get_meters_by_feeder` return it.
public struct MeterSummary: Codable, Sendable, Equatable {
    public var meterID: UUID
    public var meterNumber: String
    public var communicationStatus: String
    public var powerStatus: String
    public var lastCommunication: Date?
    public var customerID: UUID?
    public var locationLat: Double?
    public var locationLng: Double?

    enum CodingKeys: String, CodingKey {
        case meterID = "meter_id", meterNumber = "meter_number", communicationStatus = "communication_status"
        case powerStatus = "power_status", lastCommunication = "last_communication", customerID = "customer_id"
        case locationLat = "location_lat", locationLng = "location_lng"
    }

    /// Encodes as the database writes it (uuids in lower case).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(meterID.uuidString.lowercased(), forKey: .meterID)
        try container.encode(meterNumber, forKey: .meterNumber)
        try container.encode(communicationStatus, forKey: .communicationStatus)
        try container.encode(powerStatus, forKey: .powerStatus)
        try container.encode(lastCommunication, forKey: .lastCommunication)
        try container.encode(customerID?.uuidString.lowercased(), forKey: .customerID)
        try container.encode(locationLat, forKey: .locationLat)
        try container.encode(locationLng, forKey: .locationLng)
    }
}

/// What `oms_set_meter_power_status` did with a manual status change.
public struct ManualStatusChange: Sendable, Equatable {
    /// The audit row (the first one's, for a repeat).
    public var statusEventID: UUID
    /// The request id was seen before: nothing changed.
    public var duplicate: Bool
    /// false when the change was older than the meter's newer state: audited, not applied.
    public var applied: Bool
    /// When not applied: the time of the meter's newer state.
    public var newerStateAt: Date?
}

/// A setting changed by `oms_setting_set`.
public struct SettingChange: Sendable, Equatable {
    /// The setting as stored now, with `previous_value`, as a JSON object.
    public var json: String
    /// The new and the replaced value, as JSON text.
    public var value: String
    public var previousValue: String
}

/// The seed's meter lookups, through the same SQL functions psql users call.
public struct MeterQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Active meters under a substation (`get_meters_by_substation`), by its business id.
    public func metersBySubstation(_ substationID: String) async throws -> [MeterSummary] {
        try await collect(client.query("SELECT * FROM get_meters_by_substation(\(substationID))", logger: logger))
    }

    /// Active meters on a feeder (`get_meters_by_feeder`), by its business id.
    public func metersByFeeder(_ feederID: String) async throws -> [MeterSummary] {
        try await collect(client.query("SELECT * FROM get_meters_by_feeder(\(feederID))", logger: logger))
    }

    /// One meter with its topology, customer and status (a row of `oms_meters_with_topology`) as a
    /// JSON object, keys as the view's columns; nil when no meter has this number.
    public func meterJSON(_ meterNumber: String) async throws -> String? {
        let rows = try await client.query(
            "SELECT row_to_json(v)::text FROM oms_meters_with_topology v WHERE v.meter_number = \(meterNumber)",
            logger: logger)
        for try await json in rows.decode(String.self) { return json }
        return nil
    }

    /// A page of a meter's status history, newest first (`oms_meter_history`): each row as a JSON
    /// object with its `cursor`. Throws SQLSTATE P0002 for an unknown meter, 22023 for a bad limit or cursor.
    public func historyJSON(_ meterNumber: String, limit: Int, cursor: String?) async throws -> [(json: String, cursor: String)] {
        try await client.jsonPage(
            "SELECT row_to_json(h)::text, h.cursor FROM oms_meter_history(\(meterNumber), \(Int32(limit)), \(cursor)) h",
            logger: logger)
    }

    /// A manual power-status change (`oms_set_meter_power_status`): the audit row, whether the request id was
    /// seen before (then nothing changed) and whether the change was applied (a change older than the meter's
    /// newer state is audited but not applied). SQLSTATE P0002 for an unknown meter; 22023 naming the column for
    /// a bad status, request id or an implausible timestamp; 23505 (column `request_id`) for a request id used
    /// before for another change.
    public func setPowerStatus(
        _ meterNumber: String, status: String, requestID: String, at time: Date?, note: String?
    ) async throws -> ManualStatusChange {
        let rows = try await client.query(
            """
            SELECT status_event_id, duplicate, applied, newer_state_at
              FROM oms_set_meter_power_status(\(meterNumber), \(status), \(requestID), \(time), \(note))
            """,
            logger: logger)
        for try await (id, duplicate, applied, newer) in rows.decode((UUID, Bool, Bool, Date?).self) {
            return ManualStatusChange(statusEventID: id, duplicate: duplicate, applied: applied, newerStateAt: newer)
        }
        throw NoRow()
    }

    /// The rows of a view or query as JSON objects (`row_to_json`), in the query's order.
    public func rowsJSON(_ query: PostgresQuery) async throws -> [String] {
        try await client.jsonRows(query, logger: logger)
    }

    /// Active meters within `radiusKm` of a point, nearest first, at most `limit` (`oms_meters_within`), as JSON
    /// objects. SQLSTATE 22023 naming p_lat, p_lng or p_radius_km for a bad argument.
    public func metersWithinJSON(latitude: Double, longitude: Double, radiusKm: Double, limit: Int) async throws -> [String] {
        try await rowsJSON(
            """
            SELECT row_to_json(w)::text FROM oms_meters_within(\(latitude), \(longitude), \(radiusKm)) w LIMIT \(limit)
            """)
    }

    /// Substations with their meter counts (`network_substations_with_meters`), by business id.
    public func substationsJSON() async throws -> [String] {
        try await rowsJSON("SELECT row_to_json(v)::text FROM network_substations_with_meters v ORDER BY v.substation_id")
    }

    /// Feeders with their meter counts (`network_feeders_with_meters`), all or one substation's.
    public func feedersJSON(substation: String?) async throws -> [String] {
        try await rowsJSON(
            """
            SELECT row_to_json(v)::text FROM network_feeders_with_meters v
             WHERE \(substation)::text IS NULL OR v.substation_code = \(substation) ORDER BY v.feeder_id
            """)
    }

    /// Every setting (`oms_settings`) by key.
    public func settingsJSON() async throws -> [String] {
        try await rowsJSON("SELECT row_to_json(s)::text FROM oms_settings s ORDER BY s.key")
    }

    /// Sets a setting (`oms_setting_set`, checked by the database against the setting's type and range): the
    /// setting as stored now as a JSON object (with `previous_value`), and the old and new values as JSON text.
    /// `valueJSON` is JSON text. SQLSTATE P0002 for an unknown key, 22023 naming the bound for a value out of
    /// the setting's type or range.
    public func setSetting(_ key: String, valueJSON: String) async throws -> SettingChange {
        let rows = try await client.query(
            """
            SELECT row_to_json(s)::text, s.value::text, s.previous_value::text
              FROM oms_setting_set(\(key), \(valueJSON)::jsonb) s
            """,
            logger: logger)
        for try await (json, value, previous) in rows.decode((String, String, String).self) {
            return SettingChange(json: json, value: value, previousValue: previous)
        }
        throw NoRow()
    }

    /// A statement that always returns a row returned none.
    struct NoRow: Error {}

    private func collect(_ rows: PostgresRowSequence) async throws -> [MeterSummary] {
        var meters: [MeterSummary] = []
        for try await (id, number, communication, power, heard, customer, lat, lng) in rows.decode(
            (UUID, String, String, String, Date?, UUID?, Double?, Double?).self)
        {
            meters.append(MeterSummary(
                meterID: id, meterNumber: number, communicationStatus: communication, powerStatus: power,
                lastCommunication: heard, customerID: customer, locationLat: lat, locationLng: lng))
        }
        return meters
    }
}
