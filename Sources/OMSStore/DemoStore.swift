import Foundation
import Logging
import PostgresNIO

/// The reads `oms demo` prints: the sample network's substations, the active outages and the state of
/// one outage after each feed's message, and the registry facts the demo's messages are built from.
public struct DemoStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// One row of `network_substations_with_meters`.
    public struct Substation: Sendable {
        public var substationID: String
        public var name: String?
        public var feederCount: Int
        public var totalMeters: Int
        public var onlineMeters: Int
        public var offlineMeters: Int
        public var unknownMeters: Int
    }

    /// One row of `oms_active_outages`, as the demo shows it (confidence as the database writes it).
    public struct ActiveOutage: Sendable {
        public var eventID: String
        public var status: String
        public var confidence: String
        public var affectedMeters: Int
        public var affectedCustomers: Int
        public var substationCode: String?
        public var feederCode: String?
        public var rootCause: String?
        public var sourceCount: Int
    }

    /// One active outage's id, status, confidence (as the database writes it) and source types joined by "+".
    public struct OutageState: Sendable {
        public var eventID: String
        public var status: String
        public var confidence: String
        public var sourceTypes: String
    }

    /// The meters in the registry (active or not).
    public func meterCount() async throws -> Int {
        var meters = 0
        for count in try await client.fetch("SELECT count(*) FROM oms_meters", logger: logger).decode(Int.self) {
            meters = count
        }
        return meters
    }

    /// `network_substations_with_meters`, by substation id.
    public func substationsWithMeters() async throws -> [Substation] {
        let rows = try await client.fetch(
            """
            SELECT substation_id, name, feeder_count, total_meters, online_meters, offline_meters, unknown_meters
              FROM network_substations_with_meters ORDER BY substation_id
            """, logger: logger)
        var substations: [Substation] = []
        for (id, name, feeders, total, online, offline, unknown) in try rows.decode(
            (String, String?, Int, Int, Int, Int, Int).self)
        {
            substations.append(Substation(
                substationID: id, name: name, feederCount: feeders, totalMeters: total, onlineMeters: online,
                offlineMeters: offline, unknownMeters: unknown))
        }
        return substations
    }

    /// A meter's smart-meter asset mRID; nil when there is no such meter.
    public func assetMRID(meterNumber: String) async throws -> String? {
        let rows = try await client.fetch(
            "SELECT asset_mrid FROM oms_meters WHERE meter_number = \(meterNumber)", logger: logger)
        var asset: String?
        for value in try rows.decode(String.self) { asset = value }
        return asset
    }

    /// The state of the active outage with this id; nil when there is none (or no id).
    public func activeOutageState(id: UUID?) async throws -> OutageState? {
        let rows = try await client.fetch(
            """
            SELECT event_id, status, confidence_score::text, array_to_string(source_types, '+')
              FROM oms_active_outages WHERE id = \(id)
            """, logger: logger)
        var state: OutageState?
        for (eventID, status, confidence, sources) in try rows.decode((String, String, String, String).self) {
            state = OutageState(eventID: eventID, status: status, confidence: confidence, sourceTypes: sources)
        }
        return state
    }

    /// `oms_active_outages`, as the view lists them.
    public func activeOutages() async throws -> [ActiveOutage] {
        let rows = try await client.fetch(
            """
            SELECT event_id, status, confidence_score::text, affected_meters_count, affected_customers_count,
                   substation_code, feeder_code, root_cause, source_count
              FROM oms_active_outages
            """, logger: logger)
        var outages: [ActiveOutage] = []
        for (id, status, confidence, meters, customers, substation, feeder, cause, sources) in try rows.decode(
            (String, String, String, Int, Int, String?, String?, String?, Int).self)
        {
            outages.append(ActiveOutage(
                eventID: id, status: status, confidence: confidence, affectedMeters: meters, affectedCustomers: customers,
                substationCode: substation, feederCode: feeder, rootCause: cause, sourceCount: sources))
        }
        return outages
    }
}
