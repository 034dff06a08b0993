import Foundation
import Logging
import OMSAPI
import PostgresNIO

/// Which outages to list (`oms_outages`); nil means "any".
public struct OutageFilter: Sendable {
    public var statuses: [String]?
    public var active: Bool?
    public var from: Date?
    public var to: Date?
    public var substation: String?

    public init(statuses: [String]? = nil, active: Bool? = nil, from: Date? = nil, to: Date? = nil, substation: String? = nil) {
        self.statuses = statuses
        self.active = active
        self.from = from
        self.to = to
        self.substation = substation
    }
}

/// Outages as the read API serves them, through `oms_outages` and `oms_outage_detail` (0027).
public struct OutageQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A page of outages, newest first, each with its `cursor`.
    /// Throws SQLSTATE 22023 naming the argument (p_status, p_from, p_substation, p_cursor) for a bad filter.
    public func list(_ filter: OutageFilter, limit: Int, cursor: String?) async throws -> [Components.Schemas.Outage] {
        try await client.apiRows(
            """
            SELECT to_jsonb(o)
              FROM oms_outages(\(filter.statuses), \(filter.active), \(filter.from), \(filter.to), \(filter.substation),
                               \(Int32(limit)), \(cursor)) o
            """, as: Components.Schemas.Outage.self, logger: logger)
    }

    /// One outage with its sources, timeline and meters; nil when there is none.
    public func detail(eventID: String) async throws -> Components.Schemas.OutageDetail? {
        let rows = try await client.read("SELECT oms_outage_detail(\(eventID))", logger: logger)
        for detail in try rows.decode(Components.Schemas.OutageDetail?.self, context: APIRows.context) { return detail }
        return nil
    }

    /// How many outages the database holds in each status, for every status `oms_outage_statuses()`
    /// names (in its order; 0 for a status no outage has).
    public func countsByStatus() async throws -> [(status: String, count: Int)] {
        var counts: [String: Int] = [:]
        let rows = try await client.read(
            "SELECT status, count(*)::int FROM oms_outage_events GROUP BY status", logger: logger)
        for (status, count) in try rows.decode((String, Int).self) { counts[status] = count }
        var result: [(status: String, count: Int)] = []
        let statuses = try await client.read("SELECT unnest(oms_outage_statuses())", logger: logger)
        for status in try statuses.decode(String.self) { result.append((status, counts[status] ?? 0)) }
        return result
    }
}

extension OutageQueries {
    /// Every outage (merged ones excepted: their survivor holds their meters) with the devices it
    /// names (registry ids), its times (seconds since 1970), its momentary verdict
    /// and the meters it covers with their customers: one JSON object per outage, oldest
    /// first. What `oms score` compares with a scenario's ground truth.
    public func coverageJSON() async throws -> [String] {
        try await client.jsonRows(
            """
            SELECT json_build_object(
                       'event_id', o.event_id, 'status', o.status, 'substation_id', s.substation_id,
                       'feeder_id', f.feeder_id, 'dp_id', d.dp_id,
                       'first_detected_at', extract(epoch FROM o.first_detected_at),
                       'created_at', extract(epoch FROM o.created_at),
                       'restored_at', extract(epoch FROM o.actual_restoration_time), 'momentary', o.momentary,
                       'meters', coalesce(c.meters, '{}'), 'customers', coalesce(c.customers, '{}'))::text
              FROM oms_outage_events o
              LEFT JOIN network_substations s ON s.id = o.substation_id
              LEFT JOIN network_feeders f ON f.id = o.feeder_id
              LEFT JOIN network_distribution_points d ON d.id = o.dp_id
              LEFT JOIN LATERAL (
                   SELECT array_agg(m.meter_number ORDER BY m.meter_number) AS meters,
                          array_agg(DISTINCT cu.customer_id) FILTER (WHERE cu.customer_id IS NOT NULL) AS customers
                     FROM oms_outage_covered_meters(o.id) om
                     JOIN oms_meters m ON m.id = om.meter_id
                     LEFT JOIN oms_customers cu ON cu.id = m.customer_id) c ON true
             WHERE o.status <> 'merged'
             ORDER BY o.first_detected_at, o.event_id
            """, logger: logger)
    }
}
