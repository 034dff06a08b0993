import Logging
import PostgresNIO

/// The outages `oms bench console` puts on the benchmark registry: `count` confirmed outages on
/// distribution points spread over the network (`BENCH-CONSOLE-n`; confirmed by an operator, so
/// that the storm's roll-ups do not merge them away), and the operator action it times.
public struct ConsoleBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds the outages; their event ids. Each covers its distribution point (as a predicted or
    /// telemetry outage does), with that device's meters and customers out.
    public func createOutages(_ count: Int) async throws -> [String] {
        try await client.fetch(
            """
            WITH dps AS (
                SELECT dp.id, dp.feeder_id, f.substation_id, row_number() OVER (ORDER BY dp.dp_id) AS k,
                       count(*) OVER () AS n
                  FROM network_distribution_points dp JOIN network_feeders f ON f.id = dp.feeder_id
            ),
            chosen AS (
                SELECT g, d.*, oms_device_size(d.substation_id, d.feeder_id, d.id) AS size
                  FROM generate_series(1, \(Int32(count))) g
                  JOIN dps d ON d.k = 1 + ((g - 1) * greatest(d.n / \(Int32(count)), 1)) % d.n
            )
            INSERT INTO oms_outage_events (event_id, status, basis, substation_id, feeder_id, dp_id, confidence_score,
                                           affected_customers_count, affected_meters_count, customers_out, meters_out,
                                           first_detected_at, operator_pinned, covers_device)
            SELECT 'BENCH-CONSOLE-' || lpad(c.g::text, 4, '0'), 'confirmed', 'operator', c.substation_id, c.feeder_id, c.id, 0.9,
                   (c.size).customers, (c.size).meters, (c.size).customers, (c.size).meters, now() - make_interval(secs => c.g),
                   true, true
              FROM chosen c
            RETURNING event_id
            """, logger: logger
        ).decode(String.self)
    }

    /// Assigns `crew` to the outage through `oms_outage_act` (committed when this returns).
    public func assign(_ eventID: String, crew: String) async throws {
        try await client.fetch(
            "SELECT oms_outage_act(\(eventID), 'assign', 'oms bench', jsonb_build_object('crew', \(crew)::text))", logger: logger)
    }
}
