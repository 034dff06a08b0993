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
        let rows = try await client.query(
            "SELECT row_to_json(h)::text, h.cursor FROM oms_meter_history(\(meterNumber), \(Int32(limit)), \(cursor)) h",
            logger: logger)
        var page: [(json: String, cursor: String)] = []
        for try await (json, cursor) in rows.decode((String, String).self) { page.append((json, cursor)) }
        return page
    }

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
