import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// A small network for the outage engine's tests, and the feed messages they send: one substation
/// S1 with feeders F1, F2, F3; four distribution points per feeder (F1-D1 … F3-D4); four smart
/// meters per distribution point (M-F1-D1-1 …, asset A-F1-D1-1 …), one customer each. Every event
/// time is `base` plus an offset in seconds.
protocol SmallNetworkTesting: Sendable {
    /// Two hours ago, to the minute (`SmallNetwork.twoHoursAgo()`).
    var base: Date { get }
}

/// Where the small network's clock starts.
enum SmallNetwork {
    static func twoHoursAgo() -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 7200)
    }
}

/// An outage as the tests look at it.
struct SmallNetworkOutage: Equatable {
    var code: String
    var status: String
    var basis: String
    var device: String
    var meters: Int
    var customers: Int
    var metersOut: Int
    var momentary: Bool
    var interruptions: Int
    var mergedInto: String?
    var parent: String?
    var startOffset: Double
    var restoredOffset: Double?
}

extension SmallNetworkTesting {
    func at(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: base.addingTimeInterval(seconds))
    }

    /// Builds the network on an empty (migrated) database.
    func buildNetwork(_ client: PostgresClient) async throws {
        try await client.execute("""
            WITH s AS (INSERT INTO network_substations (substation_id, name) VALUES ('S1', 'Substation 1') RETURNING id),
                 f AS (INSERT INTO network_feeders (feeder_id, substation_id, name)
                       SELECT 'F' || i, s.id, 'Feeder ' || i FROM s, generate_series(1, 3) i RETURNING id, feeder_id)
            INSERT INTO network_distribution_points (dp_id, feeder_id, name)
            SELECT f.feeder_id || '-D' || d, f.id, 'DP ' || d FROM f, generate_series(1, 4) d
            """)
        try await client.execute("""
            INSERT INTO oms_customers (customer_id, name, phone)
            SELECT 'C-' || d.dp_id || '-' || m, 'Customer ' || d.dp_id || '-' || m, '+1555' || lpad((row_number() OVER ())::text, 6, '0')
              FROM network_distribution_points d, generate_series(1, 4) m
            """)
        try await client.execute("""
            INSERT INTO oms_meters (meter_number, customer_id, dp_id, asset_mrid, power_status, communication_status)
            SELECT 'M-' || d.dp_id || '-' || m, c.id, d.id, 'A-' || d.dp_id || '-' || m, 'on', 'online'
              FROM network_distribution_points d CROSS JOIN generate_series(1, 4) m
              JOIN oms_customers c ON c.customer_id = 'C-' || d.dp_id || '-' || m
            """)
    }

    func withNetwork(_ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        try await TestDatabase.with(.migrated) { database in
            try await buildNetwork(database.client)
            try await body(database.client)
        }
    }

    // MARK: - The feeds

    /// A SCADA message through insert_scada_event_with_meter_check; returns its summary as JSON text.
    @discardableResult
    func scada(_ eventType: String, alarm: String?, feeder: String?, at seconds: Double, id: String,
               on client: PostgresClient) async throws -> String {
        var fields = ["\"eventId\": \"\(id)\"", "\"eventType\": \"\(eventType)\"", "\"substationId\": \"S1\"",
                      "\"timestamp\": \"\(at(seconds))\""]
        if let alarm { fields.append("\"alarmType\": \"\(alarm)\"") }
        if let feeder { fields.append("\"feederId\": \"\(feeder)\"") }
        let message = "{" + fields.joined(separator: ", ") + "}"
        return try await client.scalar("SELECT insert_scada_event_with_meter_check(\(message)::jsonb)::text", as: String.self)
    }

    /// A KAIFA event (power down 3.26.0.47, power up 3.26.0.216, network loss 3.23.136.47) for a meter
    /// (M-F1-D1-1's asset is A-F1-D1-1).
    func kaifa(_ code: String, meter: String, at seconds: Double, id: String, on client: PostgresClient) async throws {
        let asset = "A-" + meter.dropFirst(2)
        let message = #"{"mRID": "\#(id)", "createdDateTime": "\#(at(seconds))", "eventTypeRef": "\#(code)", "assetMRID": "\#(asset)"}"#
        try await client.execute("SELECT insert_kaifa_event_from_json_with_meter_sync(\(message)::jsonb)")
    }

    /// Last gasps of many meters in one KAIFA batch (one call of insert_kaifa_events_with_meter_sync),
    /// one second apart from `seconds`.
    func gasps(_ meters: [String], at seconds: Double, on client: PostgresClient) async throws {
        try await client.execute("SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch(meters, at: seconds))::jsonb)")
    }

    /// The KAIFA batch `gasps` sends: a last gasp of each meter, one second apart from `seconds`.
    func gaspBatch(_ meters: [String], at seconds: Double) -> String {
        let messages = meters.enumerated().map { offset, meter in
            #"{"mRID": "down-\#(meter)-\#(seconds)", "createdDateTime": "\#(at(seconds + Double(offset)))", "eventTypeRef": "3.26.0.47", "assetMRID": "A-\#(meter.dropFirst(2))"}"#
        }
        return "[" + messages.joined(separator: ", ") + "]"
    }

    func gasp(_ meter: String, at seconds: Double, on client: PostgresClient) async throws {
        try await kaifa("3.26.0.47", meter: meter, at: seconds, id: "down-\(meter)-\(seconds)", on: client)
    }

    func powerUp(_ meter: String, at seconds: Double, on client: PostgresClient) async throws {
        try await kaifa("3.26.0.216", meter: meter, at: seconds, id: "up-\(meter)-\(seconds)", on: client)
    }

    // MARK: - Reading

    /// Every outage, oldest first (merged ones too).
    func outages(_ client: PostgresClient) async throws -> [SmallNetworkOutage] {
        let rows = try await client.fetch("""
            SELECT o.event_id, o.status, o.basis, coalesce(d.dp_id, f.feeder_id, s.substation_id),
                   o.affected_meters_count, o.affected_customers_count, o.meters_out, o.momentary, o.interruptions,
                   (SELECT m.event_id FROM oms_outage_events m WHERE m.id = o.merged_into_id),
                   (SELECT p.event_id FROM oms_outage_events p WHERE p.id = o.parent_outage_id),
                   extract(epoch FROM o.first_detected_at)::float8, extract(epoch FROM o.actual_restoration_time)::float8
              FROM oms_outage_events o
              LEFT JOIN network_distribution_points d ON d.id = o.dp_id
              LEFT JOIN network_feeders f ON f.id = o.feeder_id
              LEFT JOIN network_substations s ON s.id = o.substation_id
             ORDER BY o.first_detected_at, o.event_id
            """, logger: TestDatabase.logger)
        var result: [SmallNetworkOutage] = []
        for (code, status, basis, device, meters, customers, out, momentary, interruptions, merged, parent, start, restored)
            in try rows.decode((String, String, String, String, Int, Int, Int, Bool, Int, String?, String?, Double, Double?).self) {
            result.append(SmallNetworkOutage(
                code: code, status: status, basis: basis, device: device, meters: meters, customers: customers,
                metersOut: out, momentary: momentary, interruptions: interruptions, mergedInto: merged, parent: parent,
                startOffset: start - base.timeIntervalSince1970,
                restoredOffset: restored.map { $0 - base.timeIntervalSince1970 }))
        }
        return result
    }

    /// The outages an operator sees (merged ones are inside their survivor).
    func visible(_ client: PostgresClient) async throws -> [SmallNetworkOutage] {
        try await outages(client).filter { $0.status != "merged" }
    }

    func timeline(_ code: String, _ client: PostgresClient) async throws -> [String] {
        let rows = try await client.fetch("""
            SELECT t.event_type || ': ' || coalesce(t.description, '') FROM oms_event_timeline t
              JOIN oms_outage_events o ON o.id = t.outage_event_id
             WHERE o.event_id = \(code) ORDER BY t."timestamp", t.id
            """, logger: TestDatabase.logger)
        var lines: [String] = []
        for line in try rows.decode(String.self) { lines.append(line) }
        return lines
    }

    func deviceState(_ feeder: String, _ client: PostgresClient) async throws -> String {
        try await client.scalar("""
            SELECT s.state FROM oms_device_states s JOIN network_feeders f ON f.id = s.device_id
             WHERE s.device_kind = 'feeder' AND f.feeder_id = \(feeder)
            """, as: String.self)
    }
}
