import Logging
import PostgresNIO

/// The statements `oms bench history` runs on the benchmark registry: the audit trail emptied and
/// filled with generated rows spread over past months (one partition each), the seed's status-history
/// query (the last 100 changes of a meter), the active outages, and `SELECT 1`.
public struct HistoryBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Empties the audit trail (every partition) and makes the partitions of the last `months` months.
    public func reset(months: Int) async throws {
        _ = try await client.fetch("TRUNCATE oms_meter_status_events", logger: logger)
        _ = try await client.fetch(
            "SELECT oms_partition_create('oms_meter_status_events', now() - make_interval(months => n::int)) FROM generate_series(0, \(months - 1)) n",
            logger: logger)
        _ = try await client.fetch("SELECT oms_partitions_ensure()", logger: logger)
    }

    /// Gives each of `meterNumbers` exactly `perMeter` power changes, spread over the last `months`
    /// months (the rows the history query is timed on, the same in a small and a large trail).
    public func fillTimed(_ meterNumbers: [String], perMeter: Int, months: Int) async throws {
        _ = try await client.fetch(
            """
            INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id, status_field,
                                                 previous_status, new_status, event_timestamp, confidence_score, applied,
                                                 created_at)
            SELECT m.id, 'power_down', 'kaifa', 'timed-' || m.meter_number || '-' || k, 'power_status', 'on', 'off',
                   w.at - interval '1 second', 0.8, true, w.at
              FROM oms_meters m, generate_series(1, \(perMeter)) k,
                   LATERAL (SELECT date_trunc('month', now()) - make_interval(months => (k % \(months))::int)
                                   + make_interval(secs => k * 997) AS at) w
             WHERE m.meter_number = ANY(\(meterNumbers))
            """, logger: logger)
    }

    /// Adds `count` generated rows to the partition of the month `monthsAgo` months before this one,
    /// the way a bulk load is done: the partition is detached and stripped of its indexes, the
    /// rows are appended (its own rows stay), a check of its bounds is added so that attaching it
    /// again needs no scan, and the attach builds its indexes (each one sort instead of millions of
    /// random index insertions). One transaction. Row j is a power change of meter
    /// (monthsAgo + months·j)·7919 mod the registry (every meter gets its share but those in
    /// `excluding`, whose histories are timed), written j seconds into the month, its event a second
    /// before. Generated from the registry's own ids, the rows skip the foreign-key trigger
    /// (`session_replication_role = replica`, for this transaction): a generator's cost, not what the
    /// service pays per row.
    public func fill(monthsAgo: Int, count: Int, months: Int, excluding: [String]) async throws {
        try await client.withConnection { connection in
            _ = try await connection.query("BEGIN", logger: logger)
            do {
                _ = try await connection.query("SET LOCAL session_replication_role = replica", logger: logger)
                _ = try await connection.query("SET LOCAL maintenance_work_mem = '1GB'", logger: logger)
                let bounds = try await connection.query(
                    """
                    SELECT c.oid::regclass::text, p.bounds[1], p.bounds[2]
                      FROM (SELECT oms_partition_create('oms_meter_status_events', date_trunc('month', now()) - make_interval(months => \(monthsAgo)::int)) AS name) n
                      JOIN pg_class c ON c.oid = n.name::regclass,
                           LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                                        'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS bounds) p
                    """, logger: logger).collect()
                guard let (partition, from, to) = try bounds.first?.decode((String, String, String).self) else {
                    throw HistoryBenchStoreError(description: "the audit trail has no partition for \(monthsAgo) months ago")
                }
                _ = try await connection.query(
                    """
                    DO $$
                    DECLARE v_name text;
                    BEGIN
                        ALTER TABLE oms_meter_status_events DETACH PARTITION \(unescaped: partition);
                        FOR v_name IN SELECT conname FROM pg_constraint WHERE conrelid = '\(unescaped: partition)'::regclass AND contype IN ('p', 'u') LOOP
                            EXECUTE format('ALTER TABLE \(unescaped: partition) DROP CONSTRAINT %I', v_name);
                        END LOOP;
                        FOR v_name IN SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = '\(unescaped: partition)'::regclass LOOP
                            EXECUTE format('DROP INDEX %s', v_name);
                        END LOOP;
                    END;
                    $$
                    """, logger: logger)
                _ = try await connection.query(
                    """
                    WITH meters AS (SELECT array_agg(id ORDER BY id) AS ids FROM oms_meters WHERE meter_number <> ALL(\(excluding)))
                    INSERT INTO \(unescaped: partition) (meter_id, event_type, source_type, source_event_id, status_field,
                                             previous_status, new_status, event_timestamp, confidence_score, applied, created_at)
                    SELECT meters.ids[(1 + (g.n * 7919) % cardinality(meters.ids))::int],
                           CASE WHEN g.n % 2 = 0 THEN 'power_down' ELSE 'power_up' END, 'kaifa', 'bench-' || g.n, 'power_status',
                           CASE WHEN g.n % 2 = 0 THEN 'on' ELSE 'off' END, CASE WHEN g.n % 2 = 0 THEN 'off' ELSE 'on' END,
                           w.at - interval '1 second', 0.8, true, w.at
                      FROM meters, generate_series(0::bigint, \(count - 1)::bigint) j,
                           LATERAL (SELECT \(monthsAgo)::bigint + \(months)::bigint * j AS n) g,
                           LATERAL (SELECT \(from)::timestamptz + make_interval(secs => (j % 2400000)::int) AS at) w
                    """, logger: logger)
                for statement in [
                    "ALTER TABLE \(partition) ADD CONSTRAINT \(partition)_bounds CHECK (created_at >= '\(from)' AND created_at < '\(to)')",
                    "ALTER TABLE oms_meter_status_events ATTACH PARTITION \(partition) FOR VALUES FROM ('\(from)') TO ('\(to)')",
                    "ALTER TABLE \(partition) DROP CONSTRAINT \(partition)_bounds",
                ] {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                _ = try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// ANALYZE of the audit trail, after a fill.
    public func analyze() async throws {
        _ = try await client.fetch("ANALYZE oms_meter_status_events", logger: logger)
    }

    /// `count` meter numbers spread over the registry (the ones the history query is timed for).
    public func sampleMeters(_ count: Int) async throws -> [String] {
        try await client.read(
            "SELECT meter_number FROM oms_meters ORDER BY md5(meter_number) LIMIT \(count)", logger: logger).decode(String.self)
    }

    /// The seed's "Meter Status History" query, the last 100 changes: rows read.
    @discardableResult
    public func history(of meterNumber: String) async throws -> Int {
        try await client.read(
            """
            SELECT mse.event_timestamp, mse.event_type, mse.source_type,
                   mse.previous_status || ' → ' || mse.new_status AS status_change, mse.confidence_score
              FROM oms_meter_status_events mse JOIN oms_meters m ON mse.meter_id = m.id
             WHERE m.meter_number = \(meterNumber)
             ORDER BY mse.event_timestamp DESC
             LIMIT 100
            """, logger: logger
        ).rows.count
    }

    /// The seed's active outages (`SELECT * FROM oms_active_outages`): rows read.
    @discardableResult
    public func activeOutages() async throws -> Int {
        try await client.read("SELECT * FROM oms_active_outages", logger: logger).rows.count
    }

    /// `SELECT 1` (the baseline).
    public func selectOne() async throws {
        _ = try await client.read("SELECT 1", logger: logger)
    }

    /// Rows in the audit trail, and its size on disk (tables and indexes, bytes).
    public func size() async throws -> (rows: Int, bytes: Int) {
        let rows = try await client.read(
            """
            SELECT (SELECT count(*) FROM oms_meter_status_events)::bigint,
                   (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)
                      FROM pg_inherits WHERE inhparent = 'oms_meter_status_events'::regclass)::bigint
            """, logger: logger).decode((Int64, Int64).self)
        return (Int(rows.first?.0 ?? 0), Int(rows.first?.1 ?? 0))
    }
}

/// A benchmark fill that found the database not as it expects.
public struct HistoryBenchStoreError: Error, CustomStringConvertible {
    public var description: String
}
