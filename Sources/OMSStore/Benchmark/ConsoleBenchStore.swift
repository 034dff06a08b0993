import Logging
import PostgresNIO

/// The outages `oms bench console` puts on the benchmark registry: `count` confirmed outages on
/// distribution points spread over the network (`BENCH-CONSOLE-n`, each with more customers out than
/// a storm's own outages, so that they head the work list), and the operator action it times.
public struct ConsoleBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds the outages; their event ids.
    public func createOutages(_ count: Int) async throws -> [String] {
        try await client.fetch(
            """
            WITH dps AS (
                SELECT dp.id, dp.feeder_id, f.substation_id, row_number() OVER (ORDER BY dp.dp_id) AS k,
                       count(*) OVER () AS n
                  FROM network_distribution_points dp JOIN network_feeders f ON f.id = dp.feeder_id
            )
            INSERT INTO oms_outage_events (event_id, status, basis, substation_id, feeder_id, dp_id, confidence_score,
                                           affected_customers_count, affected_meters_count, customers_out, meters_out,
                                           first_detected_at)
            SELECT 'BENCH-CONSOLE-' || lpad(g::text, 4, '0'), 'confirmed', 'operator', d.substation_id, d.feeder_id, d.id, 0.9,
                   1000 + g, 1000 + g, 1000 + g, 1000 + g, now() - make_interval(secs => g)
              FROM generate_series(1, \(Int32(count))) g
              JOIN dps d ON d.k = 1 + ((g - 1) * greatest(d.n / \(Int32(count)), 1)) % d.n
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
