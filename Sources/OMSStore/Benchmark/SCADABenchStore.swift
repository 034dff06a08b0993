import Foundation
import Logging
import PostgresNIO

/// The statements `oms bench scada` times on the benchmark registry (the seed's SCADA check and
/// meter lookup, called as psql users call them), and the untimed undo of one SCADA event between runs.
public struct SCADABenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// `insert_scada_event_with_meter_check(message)`: the event stored, its meters checked, the outage
    /// opened or joined. Returns the stored event's id (from the summary, decoded from its jsonb).
    public func insertSCADAEventWithMeterCheck(_ message: String) async throws -> UUID {
        let rows = try await client.fetch(
            "SELECT insert_scada_event_with_meter_check(\(message)::jsonb)", logger: logger)
        var summary: SummaryRow?
        for row in try rows.decode(SummaryRow.self) { summary = row }
        guard let summary else { throw NoSummary() }
        return summary.value.scadaEventID
    }

    /// The function's `jsonb` answer, decoded by PostgresNIO as a `SCADACheckSummary`.
    private struct SummaryRow: Decodable, PostgresDecodable {
        let value: SCADACheckSummary

        init(from decoder: any Decoder) throws {
            value = try SCADACheckSummary(from: decoder)
        }
    }

    /// The function answered no row (it always answers one).
    struct NoSummary: Error {}

    /// `SELECT * FROM get_meters_by_substation(id)`, every row read; returns how many there were.
    @discardableResult
    public func metersBySubstation(_ substationID: String) async throws -> Int {
        try await client.read("SELECT * FROM get_meters_by_substation(\(substationID))", logger: logger).rows.count
    }

    /// Clears what earlier runs left (outages, feed events and the intake, device states and
    /// deferred roll-ups, audit rows) and puts every meter back on, so that a run measures the
    /// first-time work on a quiet network. The feeds' event ids (`oms_feed_event_ids`) go by TRUNCATE
    /// too: emptied by the feeds' TRUNCATE triggers with a DELETE, every run left its ids behind as
    /// dead rows that the next run's repeat checks read through (200,000 dead beside 40,000 live, 36 MB,
    /// after a few 40,000-event runs a minute apart).
    public func clearOutageState() async throws {
        try await client.fetch(
            """
            TRUNCATE scada_events, onu_events, kaifa_events, callcenter_tickets, oms_outage_events,
                     oms_device_states, oms_engine_pending, oms_feed_intake, oms_feed_intake_refused,
                     oms_meter_status_events, oms_feed_event_ids CASCADE
            """, logger: logger)
        try await client.fetch(
            """
            UPDATE oms_meters SET power_status = 'on', last_status_change = NULL, last_power_change = NULL
             WHERE last_status_change IS NOT NULL
            """, logger: logger)
        try await DatabaseMaintenance(client: client, logger: logger).vacuumAnalyzeMeters()
    }

    /// Opens `count` outages on the distribution points of the given substations (business ids),
    /// detected five minutes ago and still open: a storm elsewhere in the network, which a feeder trip
    /// on another substation has no reason to read. Their event ids start `BENCH-ELSEWHERE-`;
    /// `closeOutagesElsewhere()` removes them. Returns how many were opened (none without
    /// distribution points there).
    @discardableResult
    public func openOutagesElsewhere(_ count: Int, substations: [String]) async throws -> Int {
        let rows = try await client.fetch(
            """
            WITH points AS (
                SELECT array_agg(d.id ORDER BY d.dp_id) AS ids
                  FROM network_distribution_points d
                  JOIN network_feeders f ON f.id = d.feeder_id
                  JOIN network_substations s ON s.id = f.substation_id
                 WHERE s.substation_id = ANY (\(substations))
            ),
            opened AS (
                INSERT INTO oms_outage_events (event_id, status, substation_id, feeder_id, dp_id, first_detected_at)
                SELECT 'BENCH-ELSEWHERE-' || n, 'detected', f.substation_id, f.id, d.id, now() - interval '5 minutes'
                  FROM points p
                 CROSS JOIN generate_series(1, \(count)) n
                  JOIN network_distribution_points d ON d.id = p.ids[1 + n % cardinality(p.ids)]
                  JOIN network_feeders f ON f.id = d.feeder_id
                RETURNING 1
            )
            SELECT count(*)::int FROM opened
            """, logger: logger)
        try await client.fetch("ANALYZE oms_outage_events", logger: logger)
        return try rows.decode(Int.self).first ?? 0
    }

    /// Removes the outages `openOutagesElsewhere` opened.
    public func closeOutagesElsewhere() async throws {
        try await client.fetch("DELETE FROM oms_outage_events WHERE event_id LIKE 'BENCH-ELSEWHERE-%'", logger: logger)
        try await client.fetch("VACUUM ANALYZE oms_outage_events", logger: logger)
    }

    /// Undoes one SCADA event completely, in one transaction, so that the next run does the
    /// first-time work again: the meters' power statuses as they were before it, its audit rows,
    /// its outage and the event itself gone.
    public func undoSCADAEvent(_ scadaEventID: UUID) async throws {
        // Bound as uuid; the audit rows hold it as text in PostgreSQL's (lower-case) spelling.
        let id = scadaEventID
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE oms_meters m
                   SET power_status = a.meter_status_before, last_status_change = NULL, last_power_change = NULL
                  FROM scada_event_affected_meters a
                 WHERE a.scada_event_id = \(id)::uuid AND m.id = a.meter_id
                   AND m.power_status IS DISTINCT FROM a.meter_status_before
                """, logger: logger)
            try await connection.query(
                "DELETE FROM oms_meter_status_events WHERE source_type = 'scada' AND source_event_id = \(id)::text",
                logger: logger)
            try await connection.query(
                """
                DELETE FROM oms_outage_events
                 WHERE id = (SELECT outage_event_id FROM scada_events WHERE id = \(id)::uuid)
                """, logger: logger)
            try await connection.query(
                "DELETE FROM oms_device_states WHERE scada_event_id = \(id)::uuid", logger: logger)
            try await connection.query("DELETE FROM scada_events WHERE id = \(id)::uuid", logger: logger)
        }
    }
}
