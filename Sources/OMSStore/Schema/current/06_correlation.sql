-- Outage correlation: which outage a piece of evidence belongs to, how evidence
-- combines, and what feed events about meters do. Every feed ends here: the
-- SCADA check calls oms_refresh_outages() for the outage it opens or joins; the
-- ONU, KAIFA and call-center functions hand their events to oms_sync_feed_items()
-- (oms_sync_evidence() for one feed).
-- Tables: oms_outage_events, oms_event_sources, oms_event_timeline,
-- oms_outage_meters (../versioned/0100_baseline.sql).
--
-- Rules (settings in oms_settings; the engine's own in 19_outage_engine.sql):
--   * Confidence = 1 - product(1 - weight) over the outage's distinct pieces of
--     outage evidence; weight = <source>.confidence. A repeated delivery is the
--     same oms_event_sources row, so it adds nothing.
--   * predicted -> confirmed when evidence comes from two different feeds or
--     confidence reaches correlation.confirm_confidence (detected -> predicted
--     is the engine's: oms_engine_evaluate).
--   * affected_meters_count / affected_customers_count: every meter the outage
--     covers and their customers (what it interrupted; kept after
--     restoration); meters_out / customers_out: those still without power.
--   * Evidence about a meter joins the outage holding it (see oms_link_evidence);
--     meters nothing covers open one "detected" outage per distribution point
--     (else feeder, substation), which the engine predicts and rolls up.
--   * Power-ups restore meters one by one; an outage without telemetry is
--     restored by its meters (restoration.meter_share), one with telemetry by
--     its device closing (20_device_telemetry.sql) or an operator.
--
-- What a feed event about meters does (oms_sync_evidence), by kind:
--   power_off      -> power off, outage evidence
--   power_on       -> power on, communication online, heard from; restoration evidence
--   comm_lost      -> communication offline (power untouched; no outage)
--   comm_restored  -> communication online, heard from
--   call           -> outage evidence only (a customer's word changes no status)
--   none           -> recorded only (e.g. tamper)
-- Status changes go through oms_apply_status_changes (05_status.sql: audited,
-- event-time ordered, confidence <source>.confidence).

-- ---------------------------------------------------------------------------
-- Outages from their evidence.

-- Recomputes confidence, status and size of the given outages from their
-- evidence, with a timeline entry for each status change. Size: what the
-- outage interrupted (affected_*: every meter it covers, kept after
-- restoration) and what is out now (meters_out, customers_out), counted by
-- index, the customers only when those counts moved. p_restoration: the call brings
-- power-ups, so an outage not held by telemetry may be restored
-- (restoration.meter_share of its meters able to report are back) through
-- oms_restore_outage (19_outage_engine.sql), at the time of the first of them.
CREATE OR REPLACE FUNCTION oms_refresh_outages(p_outage_ids uuid[], p_event_time timestamptz, p_restoration boolean)
RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_threshold numeric := oms_setting_numeric('correlation.confirm_confidence');
    v_share     numeric := oms_setting_numeric('restoration.meter_share');
    v_tshare    numeric := oms_setting_numeric('restoration.telemetry_meter_share');
    v_row       record;
    v_parents   uuid[];
BEGIN
    -- A nested outage's meters leave its parent (19_outage_engine.sql): no
    -- customer minute counts twice. (Checked first: the join is only for them.)
    IF EXISTS (SELECT 1 FROM oms_outage_events n WHERE n.id = ANY (p_outage_ids) AND n.parent_outage_id IS NOT NULL) THEN
    WITH moved AS (
        DELETE FROM oms_outage_meters pm
         USING oms_outage_events n, oms_outage_meters nm
         WHERE n.id = ANY (p_outage_ids) AND n.parent_outage_id IS NOT NULL AND nm.outage_event_id = n.id
           AND pm.outage_event_id = n.parent_outage_id AND pm.meter_id = nm.meter_id
    )
    -- (A data-modifying WITH runs whether read or not.) The parents are counted
    -- again: a nested outage covering its device takes meters its parent held by
    -- the device, without rows to move.
    SELECT array_agg(DISTINCT n.parent_outage_id) INTO v_parents
      FROM oms_outage_events n WHERE n.id = ANY (p_outage_ids) AND n.parent_outage_id IS NOT NULL;
    IF v_parents IS NOT NULL THEN
        p_outage_ids := p_outage_ids || v_parents;
    END IF;
    END IF;

    IF p_restoration THEN
        FOR v_row IN
            SELECT o.id, o.basis, s.capable, s.capable_back, s.first_back,
                   CASE WHEN o.basis = 'telemetry' THEN v_tshare ELSE v_share END AS share
              FROM oms_outage_events o
              CROSS JOIN LATERAL (
                  -- The meters back are rows; those able to report, the device's (cached) when
                  -- the outage covers it, else its rows.
                  SELECT CASE WHEN o.covers_device AND NOT oms_outage_holds_apart(o.id)
                              THEN (oms_device_size(o.substation_id, o.feeder_id, o.dp_id)).capable_meters
                              WHEN o.covers_device
                              THEN (SELECT count(*) FILTER (WHERE oms_meter_can_report(m.asset_mrid, m.onu_id))
                                      FROM oms_outage_covered_meters(o.id) c JOIN oms_meters m ON m.id = c.meter_id)
                              ELSE count(*) FILTER (WHERE oms_meter_can_report(m.asset_mrid, m.onu_id)) END AS capable,
                         count(*) FILTER (WHERE oms_meter_can_report(m.asset_mrid, m.onu_id)
                                            AND om.restored_at IS NOT NULL) AS capable_back,
                         min(om.restored_at) FILTER (WHERE om.restored_by = 'power_up') AS first_back
                    FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
                   WHERE om.outage_event_id = o.id) s
             WHERE o.id = ANY (p_outage_ids)
               AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
               AND s.capable > 0 AND s.first_back IS NOT NULL
               AND s.capable_back >= CASE WHEN o.basis = 'telemetry' THEN v_tshare ELSE v_share END * s.capable
        LOOP
            PERFORM oms_restore_outage(v_row.id, v_row.first_back, 'share',
                format('%s of %s meters able to report have power back; %s = %s; restored at the first power-up',
                       v_row.capable_back, v_row.capable,
                       CASE WHEN v_row.basis = 'telemetry'
                            THEN 'restoration.telemetry_meter_share (the device never reported closing)'
                            ELSE 'restoration.meter_share' END, v_row.share));
        END LOOP;
    END IF;

    -- Each outage's evidence and size are looked up for it, by index (lateral subqueries):
    -- as sets joined to the outages, the cached plan's guess of one outage re-read the
    -- whole evidence once per outage (175 ms for a storm batch's 1,000 outages).
    WITH next AS MATERIALIZED (
        SELECT o.id, o.status AS old_status,
               CASE
                   WHEN o.status = 'predicted' AND (e.feeds >= 2 OR e.confidence >= v_threshold) THEN 'confirmed'
                   ELSE o.status
               END AS new_status,
               round(coalesce(e.confidence, o.confidence_score), 3) AS confidence,
               e.feeds, s.meters, s.customers, s.meters_out, s.customers_out, s.meters_back
          FROM oms_outage_events o
          LEFT JOIN LATERAL (
              -- Only where it can still change something: an outage whose confidence is below 1 or
              -- that may be confirmed (a large outage's thousands of sources are not summed again).
              SELECT CASE WHEN bool_or(es.correlation_weight >= 1) THEN 1
                          ELSE 1 - exp(sum(ln(1 - es.correlation_weight))) END AS confidence,
                     count(DISTINCT es.source_type) AS feeds
                FROM oms_event_sources es
               WHERE es.outage_event_id = o.id AND es.evidence = 'outage'
                 AND (o.status = 'predicted' OR o.confidence_score < 1)
              HAVING count(*) > 0) e ON true
          LEFT JOIN LATERAL (
              -- What it interrupted and what is out now: an outage covering its device
              -- by oms_outage_size (the device's cached size); the others by their rows.
              SELECT z.meters, z.meters_out, z.meters - z.meters_out AS meters_back, z.customers, z.customers_out
                FROM oms_outage_size(o) z
               WHERE o.covers_device
              UNION ALL
              SELECT count(*), count(*) FILTER (WHERE om.restored_at IS NULL),
                     count(*) FILTER (WHERE om.restored_at IS NOT NULL), count(DISTINCT m.customer_id),
                     count(DISTINCT m.customer_id) FILTER (WHERE om.restored_at IS NULL)
                FROM oms_outage_meters om
                JOIN oms_meters m ON m.id = om.meter_id
               WHERE om.outage_event_id = o.id AND NOT o.covers_device
              HAVING count(*) > 0) s ON true
         WHERE o.id = ANY (p_outage_ids) AND o.status NOT IN ('cancelled', 'merged')
    ),
    target AS MATERIALIZED (
        -- The row as it should read (nothing out once restored).
        SELECT n.*, coalesce(n.meters, 0) AS affected_meters, coalesce(n.customers, 0) AS affected_customers,
               CASE WHEN n.new_status IN ('restored', 'closed') THEN 0 ELSE coalesce(n.meters_out, 0) END AS out_meters,
               CASE WHEN n.new_status IN ('restored', 'closed') THEN 0 ELSE coalesce(n.customers_out, 0) END AS out_customers
          FROM next n
    ),
    moving AS MATERIALIZED (
        -- The rows that change, locked in id order: two batches refreshing the
        -- same outages (a feeder's, under a storm) never wait on each other in a
        -- circle; those that do not change are not locked at all. (Here and below
        -- the outages are also named by their ids, so that they are read by key
        -- whatever the join: never the whole table, which keeps every outage.)
        SELECT o.id FROM oms_outage_events o JOIN target t ON t.id = o.id
         WHERE o.id = ANY (p_outage_ids)
           AND (o.status, o.confidence_score, o.affected_meters_count, o.affected_customers_count, o.meters_out,
                o.customers_out)
               IS DISTINCT FROM
               (t.new_status, t.confidence, t.affected_meters, t.affected_customers, t.out_meters, t.out_customers)
         ORDER BY o.id
           FOR NO KEY UPDATE OF o
    ),
    changed AS (
        -- Only what moved (moving): an outage under a storm is read by every batch, and a
        -- row rewritten each time bloats and serializes them.
        UPDATE oms_outage_events o
           SET status = t.new_status, confidence_score = t.confidence, affected_meters_count = t.affected_meters,
               affected_customers_count = t.affected_customers, meters_out = t.out_meters,
               customers_out = t.out_customers, last_updated_at = now()
          FROM target t JOIN moving m ON m.id = t.id
         WHERE o.id = t.id AND o.id = ANY (p_outage_ids)
     RETURNING o.id, t.old_status, t.new_status, t.meters_out, t.meters_back, t.confidence, t.feeds
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT c.id,
           CASE WHEN c.new_status <> c.old_status THEN c.new_status ELSE 'partial_restoration' END,
           c.new_status,
           CASE WHEN c.new_status = 'confirmed'
                THEN format('Confirmed: confidence %s from %s feeds; correlation.confirm_confidence = %s or two feeds',
                            c.confidence, c.feeds, v_threshold)
                ELSE format('Partial restoration: %s meters back, %s still without power', c.meters_back, c.meters_out) END,
           'system', p_event_time,
           jsonb_build_object('previous_status', c.old_status, 'confidence', c.confidence,
                              'meters_back', c.meters_back, 'meters_out', c.meters_out)
      FROM changed c
     WHERE c.new_status <> c.old_status
        OR (p_restoration AND c.new_status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND c.meters_back > 0);
END;
$$;
COMMENT ON FUNCTION oms_refresh_outages(uuid[], timestamptz, boolean) IS
    'Recomputes confidence, status (predicted -> confirmed, restored by meters) and size (interrupted, out now) of outages from their evidence.';

-- Statistics of the link work table that stay true. Its outage ids are NULL for
-- the evidence of new scopes when it is filled and set a few statements later,
-- when their outages open; the statements between read "outage_event_id IS
-- NULL", those after "IS NOT NULL", each joining the rows to the batch's other
-- sets. Analyzed once a session (oms_work_table_analyze), the table kept the
-- share of its first large batch for good: after a storm's first batch (every
-- row without an outage) the evidence rows' statement planned its pairs as one
-- row and joined 4,125 of them to themselves by a nested loop (17 million rows
-- removed by the join filter, 0.8-3 s a batch at 50k meters); without the
-- column's statistics the opposite happened to the statement that gives new
-- outages to their rows (600 of them joined so, at 1M). So the table is
-- analyzed again whenever the rows with or without an outage, 100 or more, are
-- over four times what the statistics say (the share last analyzed is kept in
-- the session setting oms.link_work_unlinked): in a storm, at its first
-- batches and when a batch opens many outages; a quiet stream of small calls
-- (under 200 rows, estimated from the table's pages) never.
CREATE OR REPLACE FUNCTION oms_link_work_analyze() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows     bigint;
    v_unlinked bigint;
    v_seen     double precision := nullif(current_setting('oms.link_work_unlinked', true), '')::double precision;
BEGIN
    SELECT count(*), count(*) FILTER (WHERE l.outage_event_id IS NULL) INTO v_rows, v_unlinked FROM oms_link_work l;
    IF v_rows < 200 THEN
        RETURN;
    END IF;
    IF v_seen IS NULL
       -- (a table made again in this session, DISCARD TEMP: its statistics are not the share seen)
       OR (SELECT c.reltuples < 200 FROM pg_class c WHERE c.oid = 'pg_temp.oms_link_work'::regclass)
       OR (v_unlinked >= 100 AND v_unlinked > 4 * greatest(v_seen * v_rows, 1))
       OR (v_rows - v_unlinked >= 100 AND v_rows - v_unlinked > 4 * greatest((1 - v_seen) * v_rows, 1)) THEN
        ANALYZE pg_temp.oms_link_work;
        PERFORM set_config('oms.link_work_unlinked', (v_unlinked::double precision / v_rows)::text, false);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_link_work_analyze() IS
    'ANALYZEs the link work table (200 rows or more) when the rows with or without an outage have moved over four times (at least 100 rows) from the share last analyzed in this session.';

-- Links evidence about meters, from any number of events, to outages, in a
-- fixed number of statements, then lets the engine decide
-- (19_outage_engine.sql). 'outage' evidence: each meter joins the active
-- outage that holds it; else, evidence from during a restored outage that held
-- it (delivered late) joins that one; else the active outage of its
-- distribution point, feeder-wide, substation-wide, first detected within
-- correlation.window_minutes of the event; meters nothing covers open one
-- "detected" outage per distribution point (else feeder, substation), opened
-- by the earliest event; one whose meters' outage was restored less than
-- restoration.nested_minutes before, with no power-up from them since, is
-- nested under it (backdated). 'restoration' evidence: the meter is back in
-- the active outages holding it (restored_at), which may then be restored.
-- Each (outage, event) link is one oms_event_sources row (a repeat adds
-- nothing); the timeline gets the opening event and one entry per outage, feed
-- and kind of evidence of the call (an event alone, its own). Returns the links
-- made or found.
--
-- Each piece of evidence finds its candidates through indexes (the meter's
-- outages; the partial indexes on active outages by device, with the window's
-- condition on first_detected_at), so a call costs what its own evidence
-- costs, however many outages a storm has open. The caller holds the engine's
-- locks of the meters (oms_sync_feed_items takes them first:
-- oms_lock_meter_devices).
--
-- Each piece of evidence names its feed (source_type, source_table): one call
-- may link several feeds' evidence at once (the feed intake applies the KAIFA
-- and ONU messages it holds together, oms_feed_intake_apply), so that the
-- engine sees a distribution point's last gasps from both feeds in one step.
-- A link is per (outage, feed, event id). oms_link_evidence is the one-feed form.
CREATE OR REPLACE FUNCTION oms_link_feed_evidence(p_evidence oms_evidence[])
RETURNS TABLE (source_type text, source_event_id text, outage_event_id uuid, opened boolean)
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_window    interval := oms_setting_interval_minutes('correlation.window_minutes');
    v_nested    interval := oms_setting_interval_minutes('restoration.nested_minutes');
    v_outages   uuid[];
    v_opened    uuid[];
    v_restored  uuid[];
    v_changed   uuid[];
    v_time      timestamptz;
    v_rtime     timestamptz;
    v_row       record;
    v_restorations integer;
    v_opened_links integer;
    v_out_outages  uuid[];
    v_out_meters   uuid[];
BEGIN
    IF coalesce(cardinality(p_evidence), 0) = 0 THEN
        RETURN;  -- e.g. communication loss: nothing to link
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_evidence) e WHERE e.source_type IS NULL OR e.source_table IS NULL) THEN
        RAISE EXCEPTION 'evidence without its feed (source_type, source_table)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Working set of this call (a session's temp table, emptied at each call;
    -- renamed when its columns change: a session may hold an older one).
    IF to_regclass('pg_temp.oms_link_work') IS NULL THEN
        CREATE TEMP TABLE oms_link_work (source_type text, source_table text, source_event_id text, meter_id uuid,
                                         outage_event_id uuid, opened boolean, evidence text, event_time timestamptz,
                                         description text, late boolean, scope_key text, substation_id uuid,
                                         feeder_id uuid, dp_id uuid, customer_id uuid) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_link_work');

    -- The caller (oms_sync_feed_items) holds the meters' engine locks already: it takes
    -- them before its first row (oms_lock_meter_devices).

    WITH evidence AS MATERIALIZED (
        SELECT e.source_type, e.source_table, e.source_event_id, e.meter_id, e.event_time, e.description, m.dp_id,
               m.feeder_id, m.substation_id, m.customer_id,
               CASE WHEN m.dp_id IS NOT NULL THEN 'dp:' || m.dp_id
                    WHEN m.feeder_id IS NOT NULL THEN 'feeder:' || m.feeder_id
                    WHEN m.substation_id IS NOT NULL THEN 'substation:' || m.substation_id
                    ELSE 'meter:' || m.id END AS scope_key
          FROM unnest(p_evidence) e JOIN oms_meters m ON m.id = e.meter_id
         WHERE e.evidence = 'outage'
    ),
    -- The outages that could take each piece of evidence, found by index from
    -- the evidence (the cost follows the batch, not the number of outages).
    -- The outages holding the evidence's meters, active or restored (a row of
    -- their own, or covering a device: the most specific first, an outage held
    -- apart sits below).
    holders AS MATERIALIZED (
        SELECT h.meter_id, h.outage_event_id, h.spec
          FROM oms_meter_holders(ARRAY(SELECT DISTINCT e.meter_id FROM evidence e),
                                 ARRAY['detected', 'predicted', 'confirmed', 'in_progress', 'restored', 'closed']) h
    ),
    candidates AS (
        -- An active outage holding the meter; else a restored one that held it when the
        -- event happened (it came late).
        SELECT e.source_type, e.source_event_id, e.meter_id, o.id,
               CASE WHEN o.status IN ('restored', 'closed') THEN 1 ELSE 0 END AS rank,
               h.spec, o.first_detected_at, o.status IN ('restored', 'closed') AS late
          FROM evidence e
          JOIN holders h ON h.meter_id = e.meter_id
          JOIN oms_outage_events o ON o.id = h.outage_event_id
         WHERE CASE WHEN o.status IN ('restored', 'closed')
                    THEN e.event_time BETWEEN o.first_detected_at - interval '1 minute' AND o.actual_restoration_time
                    ELSE o.first_detected_at <= e.event_time + v_window END
        UNION ALL
        -- Else an active outage of its distribution point, feeder or substation opened
        -- within the window: looked up per piece of evidence, by index (a lateral
        -- subquery: joined as sets, the cached plan's guess of a few rows of evidence
        -- read every active substation outage once per piece, 60 ms a batch late in a
        -- 1M storm against 12). The window is written as a difference, which no index
        -- serves, so that the plan always reads the device's own outages: a plan made
        -- while few outages named a device read the time index instead, every outage
        -- opened within the window for each piece (2.4 -> 18.6 ms a call late in issue
        -- 15's latency window once plans were kept for the session).
        SELECT e.source_type, e.source_event_id, e.meter_id, d.id, d.rank, 0, d.first_detected_at, false
          FROM evidence e
         CROSS JOIN LATERAL (
               SELECT o.id, 2 AS rank, o.first_detected_at FROM oms_outage_events o
                WHERE o.dp_id = e.dp_id AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                  AND o.first_detected_at - e.event_time BETWEEN -v_window AND v_window
               UNION ALL
               SELECT o.id, 3, o.first_detected_at FROM oms_outage_events o
                WHERE o.feeder_id = e.feeder_id AND o.dp_id IS NULL
                  AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                  AND o.first_detected_at - e.event_time BETWEEN -v_window AND v_window
               UNION ALL
               SELECT o.id, 4, o.first_detected_at FROM oms_outage_events o
                WHERE o.substation_id = e.substation_id AND o.feeder_id IS NULL AND o.dp_id IS NULL
                  AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                  AND o.first_detected_at - e.event_time BETWEEN -v_window AND v_window) d
    ),
    chosen AS (
        -- The most specific outage for each event.
        SELECT DISTINCT ON (c.source_type, c.source_event_id, c.meter_id) c.source_type, c.source_event_id, c.meter_id,
               c.id, c.late
          FROM candidates c
         ORDER BY c.source_type, c.source_event_id, c.meter_id, c.rank, c.spec, c.first_detected_at DESC
    ),
    links AS (
        SELECT e.source_type, e.source_table, e.source_event_id, e.meter_id, e.event_time, e.description,
               c.id AS outage_id, e.scope_key, coalesce(c.late, false) AS late, e.substation_id, e.feeder_id, e.dp_id,
               e.customer_id
          FROM evidence e
          LEFT JOIN chosen c ON c.source_type = e.source_type AND c.source_event_id = e.source_event_id
                            AND c.meter_id = e.meter_id
    )
    INSERT INTO oms_link_work (source_type, source_table, source_event_id, meter_id, outage_event_id, opened, evidence,
                               event_time, description, late, scope_key, substation_id, feeder_id, dp_id, customer_id)
    SELECT l.source_type, l.source_table, l.source_event_id, l.meter_id, l.outage_id, false, 'outage', l.event_time,
           l.description, l.late, l.scope_key, l.substation_id, l.feeder_id, l.dp_id, l.customer_id
      FROM links l;
    -- The working set's real size for the planner (a temp table has no statistics;
    -- estimated from the batch's array, a join of a thousand new outages to their
    -- evidence was planned as a nested loop: 200 ms a batch).
    PERFORM oms_link_work_analyze();

    -- Evidence nothing covers that rolls up at once: a feeder or substation the engine's
    -- rules predict on it (with what is open below) gets its outage now, and the evidence
    -- links to it, instead of opening distribution points' outages the engine would merge
    -- into it in this same call (oms_engine_rollup_arriving, 19_outage_engine.sql).
    IF EXISTS (SELECT 1 FROM oms_link_work l WHERE l.evidence = 'outage' AND l.outage_event_id IS NULL) THEN
        SELECT max(l.event_time) INTO v_time FROM oms_link_work l WHERE l.evidence = 'outage';
        IF cardinality(oms_engine_rollup_arriving(v_time)) > 0 THEN
            PERFORM oms_link_work_analyze();
        END IF;
    END IF;

    -- Scopes nothing covers: one new outage each, opened by their earliest event, with the size
    -- its evidence gives it (the meters that reported and their customers, all out), so that
    -- the refresh below finds nothing to rewrite in a storm's thousands of new outages (it
    -- still counts them, and corrects any that differ).
    WITH uncovered AS (
        SELECT l.scope_key,
               (array_agg(l.meter_id ORDER BY l.event_time, l.source_event_id, l.source_type))[1] AS any_meter,
               (array_agg(l.source_event_id ORDER BY l.event_time, l.source_event_id, l.source_type))[1] AS opener,
               (array_agg(l.source_type ORDER BY l.event_time, l.source_event_id, l.source_type))[1] AS opener_type,
               (array_agg(l.description ORDER BY l.event_time, l.source_event_id, l.source_type))[1] AS description,
               min(l.event_time) AS first_time,
               count(DISTINCT l.meter_id) AS meters, count(DISTINCT c.customer_id) AS customers
          FROM oms_link_work l JOIN oms_meters c ON c.id = l.meter_id
         WHERE l.evidence = 'outage' AND l.outage_event_id IS NULL
         GROUP BY l.scope_key
    ),
    coded AS MATERIALIZED (
        SELECT u.*, format('OMS_%s_%s_%s', upper(u.opener_type), floor(extract(epoch FROM u.first_time))::bigint,
                           left(md5(coalesce(u.opener, '') || '/' || u.scope_key), 8)) AS event_code
          FROM uncovered u
    ),
    opened AS (
        INSERT INTO oms_outage_events (event_id, event_type, status, basis, severity, confidence_score, root_cause,
                                       description, substation_id, feeder_id, dp_id, event_latitude,
                                       event_longitude, first_detected_at, affected_meters_count,
                                       affected_customers_count, meters_out, customers_out)
        SELECT u.event_code, 'outage', 'detected', 'evidence', 'medium', oms_source_confidence(u.opener_type),
               format('%s at %s', u.description,
                      coalesce('distribution point ' || dp.dp_id, 'feeder ' || f.feeder_id,
                               'substation ' || s.substation_id, 'meter ' || m.meter_number)),
               format('Opened from %s evidence %s', u.opener_type, coalesce(u.opener, '')),
               m.substation_id, m.feeder_id, m.dp_id,
               coalesce(dp.location_lat, m.location_lat), coalesce(dp.location_lng, m.location_lng),
               u.first_time, u.meters, u.customers, u.meters, u.customers
          FROM coded u
          JOIN oms_meters m ON m.id = u.any_meter
          LEFT JOIN network_distribution_points dp ON dp.id = m.dp_id
          LEFT JOIN network_feeders f ON f.id = m.feeder_id
          LEFT JOIN network_substations s ON s.id = m.substation_id
        ON CONFLICT (event_id) DO NOTHING
        RETURNING oms_outage_events.id, oms_outage_events.event_id
    )
    UPDATE oms_link_work l
       SET outage_event_id = o.id,
           opened = u.opener IS NOT DISTINCT FROM l.source_event_id AND u.opener_type = l.source_type
      FROM coded u JOIN opened o ON o.event_id = u.event_code
     WHERE l.evidence = 'outage' AND l.outage_event_id IS NULL AND l.scope_key = u.scope_key;
    GET DIAGNOSTICS v_opened_links = ROW_COUNT;
    IF v_opened_links > 0 THEN
        -- Counted again: the statistics above saw these rows without an outage, and a
        -- join on "outage_event_id IS NOT NULL" estimated at one row was a nested loop
        -- over the whole batch twice (3 s for 5,000 last gasps).
        PERFORM oms_link_work_analyze();
    END IF;

    -- The meters: their own evidence; a loss after a meter's power-up in an
    -- active outage puts it out again. Only rows the upsert found restored can be
    -- put out again, so the second statement runs for those alone (it joined the
    -- whole batch to the outages and their rows to find none: 27 ms a batch of
    -- ~2,900 last gasps in a 1M storm, 7.5 us an event, pg_stat_statements).
    WITH upserted AS (
        INSERT INTO oms_outage_meters AS om (outage_event_id, meter_id, source_type, first_evidence_at,
                                             last_evidence_at, reported)
        SELECT l.outage_event_id, l.meter_id, (array_agg(l.source_type ORDER BY l.event_time, l.source_type))[1],
               min(l.event_time), max(l.event_time), true
          FROM oms_link_work l WHERE l.evidence = 'outage' AND l.outage_event_id IS NOT NULL
         GROUP BY l.outage_event_id, l.meter_id
        ON CONFLICT (outage_event_id, meter_id) DO UPDATE
           SET reported = true,
               source_type = CASE WHEN om.reported THEN om.source_type ELSE excluded.source_type END,
               first_evidence_at = CASE WHEN om.reported THEN least(om.first_evidence_at, excluded.first_evidence_at)
                                        ELSE excluded.first_evidence_at END,
               last_evidence_at = greatest(om.last_evidence_at, excluded.last_evidence_at)
        RETURNING om.outage_event_id, om.meter_id, om.restored_at, om.last_evidence_at
    )
    SELECT array_agg(u.outage_event_id), array_agg(u.meter_id) INTO v_out_outages, v_out_meters
      FROM upserted u WHERE u.restored_at IS NOT NULL AND u.last_evidence_at > u.restored_at;
    IF v_out_outages IS NOT NULL THEN
        UPDATE oms_outage_meters om SET restored_at = NULL, restored_by = NULL
          FROM unnest(v_out_outages, v_out_meters) AS x(outage_event_id, meter_id)
          JOIN oms_outage_events o ON o.id = x.outage_event_id
                                  AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
         WHERE om.outage_event_id = x.outage_event_id AND om.meter_id = x.meter_id;
    END IF;

    -- Restoration evidence: the active outage holding each meter (its own row,
    -- else the most specific device covering it). After the loss evidence's rows: a
    -- power-up in the same call as the loss it ends (a momentary outage's gasps and
    -- power-ups applied together by the feed intake) finds the outage that loss opened.
    WITH restoration AS MATERIALIZED (
        SELECT e.* FROM unnest(p_evidence) e WHERE e.evidence = 'restoration'
    ),
    holders AS (
        SELECT r.source_type, r.source_event_id, r.meter_id, h.outage_event_id, h.spec
          FROM restoration r
          JOIN oms_meter_holders(ARRAY(SELECT DISTINCT x.meter_id FROM restoration x),
                                 ARRAY['detected', 'predicted', 'confirmed', 'in_progress']) h ON h.meter_id = r.meter_id
    )
    INSERT INTO oms_link_work (source_type, source_table, source_event_id, meter_id, outage_event_id, opened, evidence,
                               event_time, description, late)
    SELECT DISTINCT ON (r.source_type, r.source_event_id, r.meter_id)
           r.source_type, r.source_table, r.source_event_id, r.meter_id, h.outage_event_id, false, 'restoration',
           r.event_time, r.description, false
      FROM restoration r
      JOIN holders h ON h.source_type = r.source_type AND h.source_event_id = r.source_event_id
                    AND h.meter_id = r.meter_id
     ORDER BY r.source_type, r.source_event_id, r.meter_id, h.spec;
    GET DIAGNOSTICS v_restorations = ROW_COUNT;
    IF v_restorations > 0 THEN
        PERFORM oms_link_work_analyze();  -- its size again for the planner, with the restoration evidence
    END IF;

    -- An active outage starts at its earliest evidence (a loss delivered late moves it
    -- back); its rows locked in id order first, as oms_refresh_outages does.
    PERFORM 1 FROM oms_outage_events o
      JOIN (SELECT l.outage_event_id, min(l.event_time) AS first_time
              FROM oms_link_work l WHERE l.evidence = 'outage' AND NOT l.late AND l.outage_event_id IS NOT NULL
             GROUP BY l.outage_event_id) f ON f.outage_event_id = o.id
     WHERE f.first_time < o.first_detected_at AND o.parent_outage_id IS NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
     ORDER BY o.id
       FOR NO KEY UPDATE OF o;
    UPDATE oms_outage_events o SET first_detected_at = f.first_time
      FROM (SELECT l.outage_event_id, min(l.event_time) AS first_time
              FROM oms_link_work l WHERE l.evidence = 'outage' AND NOT l.late AND l.outage_event_id IS NOT NULL
             GROUP BY l.outage_event_id) f
     WHERE o.id = f.outage_event_id AND f.first_time < o.first_detected_at AND o.parent_outage_id IS NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged');

    -- Power back: each meter at its first power-up after its last loss (a meter
    -- covered by its device gets its row now: a power-up after the outage began).
    INSERT INTO oms_outage_meters AS om (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at,
                                         reported, restored_at, restored_by)
    SELECT r.outage_event_id, r.meter_id, 'system', o.first_detected_at, o.first_detected_at, false, r.event_time,
           'power_up'
      FROM (SELECT l.outage_event_id, l.meter_id, min(l.event_time) AS event_time
              FROM oms_link_work l WHERE l.evidence = 'restoration'
             GROUP BY l.outage_event_id, l.meter_id) r
      JOIN oms_outage_events o ON o.id = r.outage_event_id
     WHERE r.event_time >= o.first_detected_at
    ON CONFLICT (outage_event_id, meter_id) DO UPDATE
       SET restored_at = excluded.restored_at, restored_by = excluded.restored_by
     WHERE om.restored_at IS NULL AND excluded.restored_at >= om.last_evidence_at;

    -- One evidence row per outage and event (a repeat adds nothing), and the timeline.
    WITH pairs AS (
        SELECT l.outage_event_id, l.source_type, l.source_event_id, l.evidence, min(l.source_table) AS source_table,
               min(l.event_time) AS event_time, bool_or(l.opened) AS opened, bool_and(l.late) AS late,
               min(l.description) AS description, count(*) AS meters
          FROM oms_link_work l WHERE l.outage_event_id IS NOT NULL
         GROUP BY l.outage_event_id, l.source_type, l.source_event_id, l.evidence
    ),
    -- Each feed's weight, read once (not a query of the settings per event).
    weights AS MATERIALIZED (
        SELECT t.source_type, oms_source_confidence(t.source_type) AS weight
          FROM (SELECT DISTINCT p.source_type FROM pairs p) t
    ),
    linked AS (
        INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table,
                                       correlation_weight, detected_at, evidence)
        SELECT p.outage_event_id, p.source_type, p.source_event_id, p.source_table, w.weight, p.event_time, p.evidence
          FROM pairs p JOIN weights w ON w.source_type = p.source_type
        ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING
        RETURNING oms_event_sources.outage_event_id, oms_event_sources.source_type, oms_event_sources.source_event_id
    ),
    -- The timeline: the event that opened an outage, and one entry per outage, feed and kind of
    -- evidence for the rest of this call ("+250 kaifa events: Last gasp"), naming its first
    -- events; an event alone keeps an entry of its own, as before. Every event stays reachable
    -- from its outage through oms_event_sources and its feed row. (One entry per event was a
    -- storm's largest table and a timeline no operator reads: 100,000 rows for 100,000 last gasps.)
    entries AS (
        SELECT p.outage_event_id, p.source_type, p.source_event_id, p.event_time, p.description, p.meters,
               CASE WHEN p.opened THEN 'outage_opened'
                    WHEN p.evidence = 'restoration' THEN 'restoration_evidence'
                    WHEN p.late THEN 'late_evidence_linked'
                    ELSE 'evidence_linked' END AS event_type
          FROM linked l
          JOIN pairs p ON p.outage_event_id = l.outage_event_id AND p.source_type = l.source_type
                      AND p.source_event_id = l.source_event_id
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT g.outage_event_id, g.event_type, o.status,
           CASE WHEN g.events = 1 THEN g.description
                ELSE format('+%s %s events: %s', g.events, g.source_type, g.description) END,
           g.source_type, g.first_time,
           CASE WHEN g.events = 1 THEN jsonb_build_object('source_event_id', g.ids[1], 'meters', g.meters)
                ELSE jsonb_build_object('events', g.events, 'meters', g.meters, 'first_source_event_ids', to_jsonb(g.ids),
                                        'last_event_time', g.last_time) END
      FROM (SELECT e.outage_event_id, e.source_type, e.event_type, count(*) AS events, sum(e.meters) AS meters,
                   min(e.event_time) AS first_time, max(e.event_time) AS last_time, min(e.description) AS description,
                   (array_agg(e.source_event_id ORDER BY e.event_time, e.source_event_id))[1:10] AS ids
              FROM entries e
             GROUP BY e.outage_event_id, e.source_type, e.event_type,
                      CASE WHEN e.event_type = 'outage_opened' THEN e.source_event_id END) g
      JOIN oms_outage_events o ON o.id = g.outage_event_id;

    -- Nested: an outage opened now by meters whose outage was restored less than
    -- restoration.nested_minutes before, with no power-up from them since.
    SELECT array_agg(DISTINCT l.outage_event_id) INTO v_opened FROM oms_link_work l WHERE l.opened;
    IF v_opened IS NOT NULL AND v_nested > interval '0' THEN
        FOR v_row IN
            -- Driven by the new outages' evidence: the outages holding its meters, looked
            -- up by index once for the batch (oms_meter_holders).
            WITH opened_links AS MATERIALIZED (
                SELECT l.outage_event_id, l.meter_id, l.event_time FROM oms_link_work l
                 WHERE l.evidence = 'outage' AND l.outage_event_id = ANY (v_opened)
            ),
            -- Restored outages holding those meters, looked up once for all.
            holders AS MATERIALIZED (
                SELECT h.meter_id, h.outage_event_id, h.powered_up
                  FROM oms_meter_holders(ARRAY(SELECT DISTINCT x.meter_id FROM opened_links x),
                                         ARRAY['restored', 'closed']) h
            )
            SELECT n.id AS nested, n.event_id AS nested_code, p.id AS parent, p.event_id AS parent_code,
                   p.first_detected_at AS parent_start, p.actual_restoration_time AS parent_restored,
                   array_agg(DISTINCT l.meter_id) AS meters
              FROM opened_links l
              JOIN oms_outage_events n ON n.id = l.outage_event_id AND n.parent_outage_id IS NULL
              JOIN holders h ON h.meter_id = l.meter_id AND NOT h.powered_up
              JOIN oms_outage_events p ON p.id = h.outage_event_id AND p.id <> l.outage_event_id
                                      AND p.actual_restoration_time BETWEEN l.event_time - v_nested AND l.event_time
             GROUP BY n.id, n.event_id, p.id, p.event_id, p.first_detected_at, p.actual_restoration_time
        LOOP
            UPDATE oms_outage_events SET first_detected_at = v_row.parent_start, parent_outage_id = v_row.parent
             WHERE id = v_row.nested AND parent_outage_id IS NULL;
            DELETE FROM oms_outage_meters WHERE outage_event_id = v_row.parent AND meter_id = ANY (v_row.meters);
            INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
            VALUES (v_row.nested, 'nested', 'detected',
                    format('Nested under %s, backdated to its start: %s meters reported a loss within %s of its restoration at %s with no power-up since; restoration.nested_minutes',
                           v_row.parent_code, cardinality(v_row.meters), v_nested, v_row.parent_restored),
                    'system', v_row.parent_restored,
                    jsonb_build_object('rule', 'nested', 'parent', v_row.parent_code, 'meters', cardinality(v_row.meters))),
                   (v_row.parent, 'meters_nested', 'restored',
                    format('%s meters moved to nested outage %s: they never had power back', cardinality(v_row.meters),
                           v_row.nested_code),
                    'system', v_row.parent_restored,
                    jsonb_build_object('rule', 'nested', 'nested', v_row.nested_code, 'meters', cardinality(v_row.meters)));
            PERFORM oms_refresh_outages(ARRAY[v_row.parent], v_row.parent_restored, false);
        END LOOP;
    END IF;

    SELECT array_agg(DISTINCT l.outage_event_id), max(l.event_time) INTO v_outages, v_time
      FROM oms_link_work l WHERE l.evidence = 'outage' AND l.outage_event_id IS NOT NULL AND NOT l.late;
    SELECT array_agg(DISTINCT l.outage_event_id), max(l.event_time) INTO v_restored, v_rtime
      FROM oms_link_work l WHERE l.evidence = 'restoration';
    IF v_outages IS NOT NULL THEN
        -- The engine first (it reads the meters' own evidence, not the counts), then one
        -- refresh of what is left: an outage opened now and merged in the same batch (a
        -- storm's distribution points rolled up into their feeder) is never counted.
        v_changed := oms_engine_evaluate(v_outages, v_time);
        PERFORM oms_refresh_outages(ARRAY(SELECT DISTINCT u FROM unnest(v_outages || v_changed) u), v_time, false);
    END IF;
    IF v_restored IS NOT NULL THEN
        PERFORM oms_refresh_outages(v_restored, v_rtime, true);
    END IF;

    RETURN QUERY
    SELECT DISTINCT l.source_type, l.source_event_id, coalesce(o.merged_into_id, l.outage_event_id), l.opened
      FROM oms_link_work l JOIN oms_outage_events o ON o.id = l.outage_event_id;
END;
$$;
COMMENT ON FUNCTION oms_link_feed_evidence(oms_evidence[]) IS
    'Links outage or restoration evidence about meters, from many events of one or more feeds, to outages (or opens one per DP), then lets the engine predict, roll up and restore.';

-- The one-feed form: every piece of evidence from p_source_type (its rows in p_source_table).
CREATE OR REPLACE FUNCTION oms_link_evidence(p_source_type text, p_source_table text, p_evidence oms_evidence[])
RETURNS TABLE (source_event_id text, outage_event_id uuid, opened boolean)
LANGUAGE sql AS $$
    SELECT l.source_event_id, l.outage_event_id, l.opened
      FROM oms_link_feed_evidence(ARRAY(
               SELECT ROW(e.source_event_id, e.meter_id, e.event_time, e.evidence, e.description,
                          coalesce(e.source_type, p_source_type), coalesce(e.source_table, p_source_table))::oms_evidence
                 FROM unnest(p_evidence) e)) l
$$;
COMMENT ON FUNCTION oms_link_evidence(text, text, oms_evidence[]) IS
    'Links outage or restoration evidence about meters from one feed (oms_link_feed_evidence).';

-- The engine's locks: transaction-level advisory locks on devices, a
-- hierarchy substation > feeder > distribution point, always taken in that
-- order (substations, then feeders, then distribution points, each level by
-- key), so that two writers never wait on each other in a circle.
--   * A feed batch about meters (oms_sync_feed_items) holds its meters'
--     substations and feeders shared and their distribution points exclusive:
--     batches about different distribution points run side by side. A meter
--     without a distribution point holds its feeder exclusive; one without a
--     feeder its substation (or itself, without one).
--   * A SCADA message about a feeder holds its substation shared and the feeder
--     exclusive; about a substation, the substation exclusive. So does an
--     operator's action on the outages of a substation.
--   * The roll-up to a feeder or a substation (oms_engine_rollup) needs the
--     device exclusive: it tries, without waiting (a batch holding it shared
--     cannot wait for another), and when another writer holds it the roll-up
--     is deferred (oms_engine_pending) to oms_engine_sweep(), which the service
--     runs a few times a second.
CREATE OR REPLACE FUNCTION oms_device_lock_key(p_kind text, p_device_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('oms.' || p_kind || '.' || p_device_id::text, 0) $$;
COMMENT ON FUNCTION oms_device_lock_key(text, uuid) IS
    'The advisory lock key of a device (substation, feeder, dp, meter) in the engine''s lock hierarchy.';

-- The advisory lock key of a substation (oms_device_lock_key).
CREATE OR REPLACE FUNCTION oms_substation_lock_key(p_substation_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT oms_device_lock_key('substation', p_substation_id) $$;
COMMENT ON FUNCTION oms_substation_lock_key(uuid) IS
    'The advisory lock key of a substation: the top of the engine''s lock hierarchy.';

-- A feed batch's locks for its meters (see above), in the hierarchy's order.
CREATE OR REPLACE FUNCTION oms_lock_meter_devices(p_meter_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM CASE WHEN l.exclusive THEN pg_advisory_xact_lock(l.k) ELSE pg_advisory_xact_lock_shared(l.k) END
       FROM (WITH m AS (SELECT m.id, m.substation_id, m.feeder_id, m.dp_id FROM oms_meters m WHERE m.id = ANY (p_meter_ids))
             SELECT 1 AS level, oms_device_lock_key(CASE WHEN m.substation_id IS NULL THEN 'meter' ELSE 'substation' END,
                                                    coalesce(m.substation_id, m.id)) AS k,
                    bool_or(m.feeder_id IS NULL) AS exclusive
               FROM m GROUP BY 2
             UNION ALL
             SELECT 2, oms_device_lock_key('feeder', m.feeder_id), bool_or(m.dp_id IS NULL)
               FROM m WHERE m.feeder_id IS NOT NULL GROUP BY 2
             UNION ALL
             SELECT 3, oms_device_lock_key('dp', m.dp_id), true
               FROM m WHERE m.dp_id IS NOT NULL GROUP BY 2
             ORDER BY 1, 2) AS l;
END;
$$;
COMMENT ON FUNCTION oms_lock_meter_devices(uuid[]) IS
    'A feed batch''s engine locks: its substations and feeders shared, its distribution points exclusive, in the hierarchy''s order.';

-- A SCADA message's (or a device action's) locks: its substation shared and
-- the feeder exclusive, or the substation exclusive.
CREATE OR REPLACE FUNCTION oms_lock_device(p_substation_id uuid, p_feeder_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_feeder_id IS NULL THEN
        PERFORM pg_advisory_xact_lock(oms_device_lock_key('substation', p_substation_id));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(oms_device_lock_key('substation', p_substation_id));
        PERFORM pg_advisory_xact_lock(oms_device_lock_key('feeder', p_feeder_id));
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_lock_device(uuid, uuid) IS
    'The engine locks of a message about a feeder (substation shared, feeder exclusive) or a substation (exclusive).';

-- ---------------------------------------------------------------------------
-- Feed events about meters.

-- What many feed events about meters do, in a fixed number of statements:
-- their status changes (oms_apply_status_changes), the meters heard from, and
-- their outage or restoration evidence (oms_link_feed_evidence). One row per
-- event. Each item names its feed (source_type, source_table): the feed intake
-- hands the KAIFA and ONU messages it applies together to one call, so that the
-- engine judges a distribution point on both feeds' last gasps at once. The
-- status changes are applied feed by feed, in the order of each feed's first
-- item (as separate calls in that order would), each in event-time order.
--
-- Its statements, and those of everything it calls (the status changes, the
-- evidence, the engine), are planned once per session, not at each call
-- (plan_cache_mode = force_generic_plan): most work on a batch's few rows, and
-- PostgreSQL kept planning many of them again at every call because a plan made
-- for the values at hand always looked cheaper. Planning was 16% of the
-- database's time in a storm's latency window; with this it fell 5% more (after
-- oms_engine_rollup's, which it includes). The generic plans are as good for a
-- 1,000-message batch: the 1M storm benchmark and the SCADA benchmarks did not
-- move.
CREATE OR REPLACE FUNCTION oms_sync_feed_items(p_items oms_feed_item[])
RETURNS TABLE (source_type text, source_event_id text, status_changes integer, late_changes integer,
               outage_event_ids uuid[], outages_opened integer)
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_source     text;
    v_changes    jsonb := '{}'::jsonb;
    v_more       jsonb;
    v_links      jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_items) i
                WHERE i.kind NOT IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'call', 'none')) THEN
        RAISE EXCEPTION 'unknown evidence kind in %',
            (SELECT string_agg(DISTINCT i.kind, ', ') FROM unnest(p_items) i)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_items) i WHERE i.source_type IS NULL OR i.source_table IS NULL) THEN
        RAISE EXCEPTION 'feed item without its feed (source_type, source_table)' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 0. The engine's locks before any row is touched (oms_lock_meter_devices):
    -- two batches that share meters (an ONU's two meters, a meter in both feeds)
    -- share a distribution point, so they never wait on each other's rows in
    -- opposite orders (a deadlock); batches about other distribution points run
    -- side by side.
    PERFORM oms_lock_meter_devices(ARRAY(SELECT u.meter_id FROM unnest(p_items) i
                                           CROSS JOIN LATERAL unnest(i.meter_ids) AS u(meter_id)));

    -- 1. Status changes, audited, as if one by one in event-time order (feed by feed).
    FOR v_source IN
        SELECT i.source_type FROM unnest(p_items) WITH ORDINALITY AS i GROUP BY i.source_type ORDER BY min(i.ordinality)
    LOOP
        WITH pairs AS (
            SELECT i.source_event_id, m AS meter_id, i.kind, i.event_time, i.metadata
              FROM unnest(p_items) i CROSS JOIN LATERAL unnest(i.meter_ids) AS m
             WHERE i.source_type = v_source
        )
        SELECT coalesce(jsonb_object_agg(v_source || E'\x1f' || s.source_event_id, jsonb_build_array(s.applied, s.late)),
                        '{}'::jsonb)
          INTO v_more
          FROM (SELECT a.source_event_id, count(*) FILTER (WHERE a.applied) AS applied,
                       count(*) FILTER (WHERE NOT a.applied) AS late
                  FROM oms_apply_status_changes(
                           ARRAY(SELECT ROW(p.meter_id, c.field, c.status, p.kind, p.source_event_id, p.event_time,
                                            p.metadata)::oms_status_change
                                   FROM pairs p
                                   JOIN (VALUES ('power_off', 'power_status', 'off'),
                                                ('power_on', 'power_status', 'on'),
                                                ('power_on', 'communication_status', 'online'),
                                                ('comm_lost', 'communication_status', 'offline'),
                                                ('comm_restored', 'communication_status', 'online')) AS c(kind, field, status)
                                     ON c.kind = p.kind),
                           v_source, oms_source_confidence(v_source), true) a
                 GROUP BY a.source_event_id) s;
        v_changes := v_changes || v_more;
    END LOOP;

    -- 2. Meters heard from (power-ups, communication restored): their last
    -- communication moved forward by step 1, in the same write as their status
    -- (oms_apply_status_changes: a communication_status online change).

    -- 3. Evidence: power loss and calls point at an outage; power back at its restoration.
    SELECT coalesce(jsonb_object_agg(l.source_type || E'\x1f' || l.source_event_id,
                                     jsonb_build_object('outages', l.outage_ids, 'opened', l.opened)),
                    '{}'::jsonb)
      INTO v_links
      FROM (SELECT e.source_type, e.source_event_id, to_jsonb(array_agg(DISTINCT e.outage_event_id)) AS outage_ids,
                   count(DISTINCT e.outage_event_id) FILTER (WHERE e.opened) AS opened
              FROM oms_link_feed_evidence(
                       ARRAY(SELECT ROW(i.source_event_id, u.meter_id, i.event_time,
                                        CASE WHEN i.kind = 'power_on' THEN 'restoration' ELSE 'outage' END,
                                        i.description, i.source_type, i.source_table)::oms_evidence
                               FROM unnest(p_items) i CROSS JOIN LATERAL unnest(i.meter_ids) AS u(meter_id)
                              WHERE i.kind IN ('power_off', 'call', 'power_on'))) e
             GROUP BY e.source_type, e.source_event_id) l;

    RETURN QUERY
    SELECT i.source_type, i.source_event_id,
           coalesce((v_changes -> (i.source_type || E'\x1f' || i.source_event_id) ->> 0)::int, 0),
           coalesce((v_changes -> (i.source_type || E'\x1f' || i.source_event_id) ->> 1)::int, 0),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(v_links -> (i.source_type || E'\x1f' || i.source_event_id)
                                                           -> 'outages')::uuid),
                    ARRAY[]::uuid[]),
           coalesce((v_links -> (i.source_type || E'\x1f' || i.source_event_id) ->> 'opened')::int, 0)
      FROM unnest(p_items) i;
END;
$$;
COMMENT ON FUNCTION oms_sync_feed_items(oms_feed_item[]) IS
    'What many feed events, of one or more feeds, do to their meters (status, heard from) and outages (evidence), in a fixed number of statements.';

-- Items naming their feed: those that do not, p_source_type's (rows in p_source_table).
CREATE OR REPLACE FUNCTION oms_feed_items_of(p_source_type text, p_source_table text, p_items oms_feed_item[])
RETURNS oms_feed_item[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY(SELECT ROW(i.source_event_id, i.meter_ids, i.kind, i.event_time, i.description, i.metadata,
                            coalesce(i.source_type, p_source_type), coalesce(i.source_table, p_source_table))::oms_feed_item
                   FROM unnest(p_items) WITH ORDINALITY AS i ORDER BY i.ordinality)
$$;
COMMENT ON FUNCTION oms_feed_items_of(text, text, oms_feed_item[]) IS
    'Feed items with their feed named: p_source_type (rows in p_source_table) where they name none.';

-- The one-feed form (oms_sync_feed_items): every item from p_source_type, its rows in p_source_table.
CREATE OR REPLACE FUNCTION oms_sync_evidence(p_source_type text, p_source_table text, p_items oms_feed_item[])
RETURNS TABLE (source_event_id text, status_changes integer, late_changes integer, outage_event_ids uuid[],
               outages_opened integer)
LANGUAGE sql AS $$
    SELECT s.source_event_id, s.status_changes, s.late_changes, s.outage_event_ids, s.outages_opened
      FROM oms_sync_feed_items(oms_feed_items_of(p_source_type, p_source_table, p_items)) s
$$;
COMMENT ON FUNCTION oms_sync_evidence(text, text, oms_feed_item[]) IS
    'What many feed events of one feed do to their meters and outages (oms_sync_feed_items).';

-- oms_sync_feed_items, its outcome per event kept in this session's oms_feed_outcomes
-- (emptied first): what the feeds' store steps (oms_kaifa_store, oms_onu_store) read.
CREATE OR REPLACE FUNCTION oms_sync_feed_items_kept(p_items oms_feed_item[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.oms_feed_outcomes') IS NULL THEN
        CREATE TEMP TABLE oms_feed_outcomes (source_type text, source_event_id text, status_changes integer,
                                             late_changes integer, outage_event_ids uuid[], outages_opened integer) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_feed_outcomes');
    INSERT INTO oms_feed_outcomes SELECT * FROM oms_sync_feed_items(p_items);
    PERFORM oms_work_table_analyze('pg_temp.oms_feed_outcomes');  -- (a temp table has no statistics of its own)
END;
$$;
COMMENT ON FUNCTION oms_sync_feed_items_kept(oms_feed_item[]) IS
    'Correlates feed items (oms_sync_feed_items) and keeps the outcome per event in the session table oms_feed_outcomes.';

-- The part of a feed function's result that oms_sync_evidence() decides.
-- (STABLE, as to_jsonb is: declared IMMUTABLE it was never inlined, a function call per event.)
CREATE OR REPLACE FUNCTION oms_sync_summary(p_status_changes integer, p_late_changes integer, p_outage_event_ids uuid[],
                                 p_outages_opened integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('status_changes', p_status_changes, 'late_changes', p_late_changes,
                              'outage_event_ids', to_jsonb(p_outage_event_ids), 'outages_opened', p_outages_opened)
$$;
COMMENT ON FUNCTION oms_sync_summary(integer, integer, uuid[], integer) IS
    'The part of a feed function''s jsonb result that oms_sync_evidence() decides.';
