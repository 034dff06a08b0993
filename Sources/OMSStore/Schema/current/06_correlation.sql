-- Outage correlation: which outage a piece of evidence belongs to, how evidence
-- combines, and what feed events about meters do. Every feed ends here: the
-- SCADA check calls oms_refresh_outages() for the outage it opens or joins; the
-- ONU, KAIFA and call-center functions hand their events to oms_sync_evidence().
-- Tables: oms_outage_events, oms_event_sources, oms_event_timeline,
-- oms_outage_meters (../versioned/0100_baseline.sql).
--
-- Rules (settings in oms_settings):
--   * Confidence = 1 - product(1 - weight) over the outage's distinct pieces of
--     outage evidence; weight = <source>.confidence. A repeated delivery is the
--     same oms_event_sources row, so it adds nothing.
--   * detected/predicted -> confirmed when evidence comes from two different
--     feeds or confidence reaches correlation.confirm_confidence.
--   * affected_meters_count / affected_customers_count: the outage's meters that
--     are off, while it is active; on restoration, all the meters it covered.
--   * Restoration evidence on an outage whose every meter has power again moves
--     it to restored (actual_restoration_time = that evidence's time); otherwise
--     it is a partial_restoration timeline entry.
--   * Evidence about a meter joins the active outage covering it (one that
--     already covers the meter, else its distribution point's, else a
--     feeder-wide one, else a substation-wide one) first detected within
--     correlation.window_minutes of the event; meters nothing covers open one
--     outage per distribution point (else feeder, substation).
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
-- evidence, in one statement, with a timeline entry for each status change.
-- p_restoration: the call brings restoration evidence (may restore).
CREATE OR REPLACE FUNCTION oms_refresh_outages(p_outage_ids uuid[], p_event_time timestamptz, p_restoration boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_threshold numeric := oms_setting_numeric('correlation.confirm_confidence');
BEGIN
    WITH evidence AS (
        SELECT s.outage_event_id,
               CASE WHEN bool_or(s.correlation_weight >= 1) THEN 1
                    ELSE 1 - exp(sum(ln(1 - s.correlation_weight))) END AS confidence,
               count(DISTINCT s.source_type) AS feeds
          FROM oms_event_sources s
         WHERE s.outage_event_id = ANY (p_outage_ids) AND s.evidence = 'outage'
         GROUP BY s.outage_event_id
    ),
    size AS (
        SELECT om.outage_event_id,
               count(*) AS meters,
               count(DISTINCT m.customer_id) AS customers,
               count(*) FILTER (WHERE m.power_status = 'off') AS meters_off,
               count(DISTINCT m.customer_id) FILTER (WHERE m.power_status = 'off') AS customers_off,
               count(*) FILTER (WHERE m.power_status <> 'on') AS meters_not_on
          FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
         WHERE om.outage_event_id = ANY (p_outage_ids)
         GROUP BY om.outage_event_id
    ),
    next AS (
        SELECT o.id, o.status AS old_status,
               CASE
                   WHEN o.status IN ('restored', 'cancelled') THEN o.status
                   WHEN p_restoration AND s.meters > 0 AND s.meters_not_on = 0 THEN 'restored'
                   WHEN o.status IN ('predicted', 'detected')
                        AND (e.feeds >= 2 OR e.confidence >= v_threshold) THEN 'confirmed'
                   ELSE o.status
               END AS new_status,
               round(coalesce(e.confidence, o.confidence_score), 3) AS confidence,
               s.meters, s.customers, s.meters_off, s.customers_off, s.meters_not_on
          FROM oms_outage_events o
          LEFT JOIN evidence e ON e.outage_event_id = o.id
          LEFT JOIN size s ON s.outage_event_id = o.id
         WHERE o.id = ANY (p_outage_ids)
    ),
    changed AS (
        UPDATE oms_outage_events o
           SET status = n.new_status,
               confidence_score = n.confidence,
               affected_meters_count = CASE WHEN n.new_status = 'restored' THEN coalesce(n.meters, 0)
                                            WHEN n.old_status IN ('restored', 'cancelled') THEN o.affected_meters_count
                                            ELSE coalesce(n.meters_off, 0) END,
               affected_customers_count = CASE WHEN n.new_status = 'restored' THEN coalesce(n.customers, 0)
                                               WHEN n.old_status IN ('restored', 'cancelled') THEN o.affected_customers_count
                                               ELSE coalesce(n.customers_off, 0) END,
               actual_restoration_time = CASE WHEN n.new_status = 'restored' AND n.old_status <> 'restored'
                                              THEN p_event_time ELSE o.actual_restoration_time END
          FROM next n
         WHERE o.id = n.id
     RETURNING o.id, n.old_status, n.new_status, n.meters_not_on, n.confidence
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT c.id,
           CASE WHEN c.new_status <> c.old_status THEN c.new_status ELSE 'partial_restoration' END,
           c.new_status,
           CASE WHEN c.new_status = 'confirmed' THEN format('Confirmed: confidence %s', c.confidence)
                WHEN c.new_status = 'restored' THEN 'Restored: every meter of the outage has power again'
                ELSE format('Partial restoration: %s meters still without power', c.meters_not_on) END,
           'system', p_event_time,
           jsonb_build_object('previous_status', c.old_status, 'confidence', c.confidence)
      FROM changed c
     WHERE c.new_status <> c.old_status
        OR (p_restoration AND c.new_status NOT IN ('restored', 'cancelled') AND c.meters_not_on > 0);
END;
$$;
COMMENT ON FUNCTION oms_refresh_outages(uuid[], timestamptz, boolean) IS
    'Recomputes confidence (1 - product(1 - weight)), status and size of outages from their evidence.';

-- Links evidence about meters, from any number of events, to outages, in a
-- fixed number of statements. 'outage' evidence: each meter joins the active
-- outage covering it (see the rules above), first detected within
-- correlation.window_minutes of the event; meters nothing covers open one
-- outage per distribution point (else feeder, substation), opened by the
-- earliest event. 'restoration' evidence: the active outages covering the
-- meters get it and may be restored. Each (outage, event) link is one
-- oms_event_sources row (a repeat adds nothing) and one timeline entry; the
-- touched outages are refreshed once. Returns the links made or found.
--
-- Each piece of evidence finds its candidates through the partial indexes on
-- active outages (oms_outage_events_active_*_idx, the window condition on
-- first_detected_at in the index), so a call costs what its own evidence
-- costs, however many outages a storm has open. One writer per distribution
-- point (else feeder, substation) at a time: transaction-level advisory locks.
CREATE OR REPLACE FUNCTION oms_link_evidence(p_source_type text, p_source_table text, p_evidence oms_evidence[])
RETURNS TABLE (source_event_id text, outage_event_id uuid, opened boolean)
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_window    interval := oms_setting_interval_minutes('correlation.window_minutes');
    v_weight    numeric := oms_source_confidence(p_source_type);
    v_outages   uuid[];
    v_restored  uuid[];
    v_time      timestamptz;
    v_rtime     timestamptz;
BEGIN
    -- Working set of this call (a session's temp table, emptied at each call).
    IF to_regclass('pg_temp.oms_links') IS NULL THEN
        CREATE TEMP TABLE oms_links (source_event_id text, meter_id uuid, outage_event_id uuid, opened boolean,
                                     evidence text, event_time timestamptz, description text);
    END IF;
    TRUNCATE oms_links;

    -- One writer per distribution point (else feeder, substation) at a time.
    PERFORM pg_advisory_xact_lock(k)
       FROM (SELECT DISTINCT hashtextextended(
                    'oms.scope.' || coalesce(m.dp_id, m.feeder_id, m.substation_id, m.id)::text, 0) AS k
               FROM unnest(p_evidence) e JOIN oms_meters m ON m.id = e.meter_id
              WHERE e.evidence = 'outage'
              ORDER BY 1) AS locks;

    WITH evidence AS MATERIALIZED (
        SELECT e.source_event_id, e.meter_id, e.event_time, e.description, m.dp_id, m.feeder_id, m.substation_id,
               CASE WHEN m.dp_id IS NOT NULL THEN 'dp:' || m.dp_id
                    WHEN m.feeder_id IS NOT NULL THEN 'feeder:' || m.feeder_id
                    WHEN m.substation_id IS NOT NULL THEN 'substation:' || m.substation_id
                    ELSE 'meter:' || m.id END AS scope_key
          FROM unnest(p_evidence) e JOIN oms_meters m ON m.id = e.meter_id
         WHERE e.evidence = 'outage'
    ),
    -- Active outages covering each meter, found by index from the evidence (the
    -- cost follows the batch, not the number of active outages), first
    -- detected within the window of the event.
    candidates AS (
        SELECT e.source_event_id, e.meter_id, o.id, 0 AS rank, o.first_detected_at
          FROM evidence e
          JOIN oms_outage_meters om ON om.meter_id = e.meter_id
          JOIN oms_outage_events o ON o.id = om.outage_event_id
         WHERE o.status NOT IN ('restored', 'cancelled')
           AND o.first_detected_at BETWEEN e.event_time - v_window AND e.event_time + v_window
        UNION ALL
        SELECT e.source_event_id, e.meter_id, o.id, 1, o.first_detected_at
          FROM evidence e
          JOIN oms_outage_events o ON o.dp_id = e.dp_id
         WHERE o.status NOT IN ('restored', 'cancelled')
           AND o.first_detected_at BETWEEN e.event_time - v_window AND e.event_time + v_window
        UNION ALL
        SELECT e.source_event_id, e.meter_id, o.id, 2, o.first_detected_at
          FROM evidence e
          JOIN oms_outage_events o ON o.feeder_id = e.feeder_id AND o.dp_id IS NULL
         WHERE o.status NOT IN ('restored', 'cancelled')
           AND o.first_detected_at BETWEEN e.event_time - v_window AND e.event_time + v_window
        UNION ALL
        SELECT e.source_event_id, e.meter_id, o.id, 3, o.first_detected_at
          FROM evidence e
          JOIN oms_outage_events o ON o.substation_id = e.substation_id AND o.feeder_id IS NULL AND o.dp_id IS NULL
         WHERE o.status NOT IN ('restored', 'cancelled')
           AND o.first_detected_at BETWEEN e.event_time - v_window AND e.event_time + v_window
    ),
    covering AS (
        -- The most specific active outage first detected within the window of each event.
        SELECT DISTINCT ON (c.source_event_id, c.meter_id) c.source_event_id, c.meter_id, c.id
          FROM candidates c
         ORDER BY c.source_event_id, c.meter_id, c.rank, c.first_detected_at DESC
    ),
    links AS MATERIALIZED (
        SELECT e.source_event_id, e.meter_id, e.event_time, e.description, c.id AS outage_id, e.scope_key
          FROM evidence e
          LEFT JOIN covering c ON c.source_event_id = e.source_event_id AND c.meter_id = e.meter_id
    ),
    -- Scopes nothing covers: one new outage each, opened by their earliest event.
    uncovered AS (
        SELECT l.scope_key,
               (array_agg(l.meter_id ORDER BY l.event_time, l.source_event_id))[1] AS any_meter,
               (array_agg(l.source_event_id ORDER BY l.event_time, l.source_event_id))[1] AS opener,
               (array_agg(l.description ORDER BY l.event_time, l.source_event_id))[1] AS description,
               min(l.event_time) AS first_time
          FROM links l WHERE l.outage_id IS NULL
         GROUP BY l.scope_key
    ),
    coded AS (
        SELECT u.*, format('OMS_%s_%s_%s', upper(p_source_type), floor(extract(epoch FROM u.first_time))::bigint,
                           left(md5(coalesce(u.opener, '') || '/' || u.scope_key), 8)) AS event_code
          FROM uncovered u
    ),
    opened AS (
        INSERT INTO oms_outage_events (event_id, event_type, status, severity, confidence_score, root_cause,
                                       description, substation_id, feeder_id, dp_id, event_latitude,
                                       event_longitude, first_detected_at)
        SELECT u.event_code, 'outage', 'detected', 'medium', v_weight,
               format('%s at %s', u.description,
                      coalesce('distribution point ' || dp.dp_id, 'feeder ' || f.feeder_id,
                               'substation ' || s.substation_id, 'meter ' || m.meter_number)),
               format('Opened from %s evidence %s', p_source_type, coalesce(u.opener, '')),
               m.substation_id, m.feeder_id, m.dp_id,
               coalesce(dp.location_lat, m.location_lat), coalesce(dp.location_lng, m.location_lng),
               u.first_time
          FROM coded u
          JOIN oms_meters m ON m.id = u.any_meter
          LEFT JOIN network_distribution_points dp ON dp.id = m.dp_id
          LEFT JOIN network_feeders f ON f.id = m.feeder_id
          LEFT JOIN network_substations s ON s.id = m.substation_id
        ON CONFLICT (event_id) DO NOTHING
        RETURNING oms_outage_events.id, oms_outage_events.event_id
    )
    INSERT INTO oms_links (source_event_id, meter_id, outage_event_id, opened, evidence, event_time, description)
    SELECT l.source_event_id, l.meter_id, coalesce(l.outage_id, o.id),
           o.id IS NOT NULL AND u.opener IS NOT DISTINCT FROM l.source_event_id, 'outage', l.event_time, l.description
      FROM links l
      LEFT JOIN coded u ON l.outage_id IS NULL AND u.scope_key = l.scope_key
      LEFT JOIN opened o ON o.event_id = u.event_code;

    -- Restoration evidence: the active outages covering the meters.
    INSERT INTO oms_links (source_event_id, meter_id, outage_event_id, opened, evidence, event_time, description)
    SELECT e.source_event_id, e.meter_id, om.outage_event_id, false, 'restoration', e.event_time, e.description
      FROM unnest(p_evidence) e
      JOIN oms_outage_meters om ON om.meter_id = e.meter_id
      JOIN oms_outage_events o ON o.id = om.outage_event_id AND o.status NOT IN ('restored', 'cancelled')
     WHERE e.evidence = 'restoration';

    INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at)
    SELECT l.outage_event_id, l.meter_id, p_source_type, min(l.event_time)
      FROM oms_links l WHERE l.evidence = 'outage' AND l.outage_event_id IS NOT NULL
     GROUP BY l.outage_event_id, l.meter_id
    ON CONFLICT DO NOTHING;

    -- One evidence row per outage and event (a repeat adds nothing), with its timeline entry.
    WITH pairs AS (
        SELECT l.outage_event_id, l.source_event_id, l.evidence, min(l.event_time) AS event_time,
               bool_or(l.opened) AS opened, min(l.description) AS description, count(*) AS meters
          FROM oms_links l WHERE l.outage_event_id IS NOT NULL
         GROUP BY l.outage_event_id, l.source_event_id, l.evidence
    ),
    linked AS (
        INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table,
                                       correlation_weight, detected_at, evidence)
        SELECT p.outage_event_id, p_source_type, p.source_event_id, p_source_table, v_weight, p.event_time, p.evidence
          FROM pairs p
        ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING
        RETURNING oms_event_sources.outage_event_id, oms_event_sources.source_event_id
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT p.outage_event_id,
           CASE WHEN p.opened THEN 'outage_opened'
                WHEN p.evidence = 'restoration' THEN 'restoration_evidence'
                ELSE 'evidence_linked' END,
           o.status, p.description, p_source_type, p.event_time,
           jsonb_build_object('source_event_id', p.source_event_id, 'meters', p.meters)
      FROM linked l
      JOIN pairs p ON p.outage_event_id = l.outage_event_id AND p.source_event_id = l.source_event_id
      JOIN oms_outage_events o ON o.id = l.outage_event_id;

    SELECT array_agg(DISTINCT l.outage_event_id), max(l.event_time) INTO v_outages, v_time
      FROM oms_links l WHERE l.evidence = 'outage' AND l.outage_event_id IS NOT NULL;
    SELECT array_agg(DISTINCT l.outage_event_id), max(l.event_time) INTO v_restored, v_rtime
      FROM oms_links l WHERE l.evidence = 'restoration';
    IF v_outages IS NOT NULL THEN
        PERFORM oms_refresh_outages(v_outages, v_time, false);
    END IF;
    IF v_restored IS NOT NULL THEN
        PERFORM oms_refresh_outages(v_restored, v_rtime, true);
    END IF;

    RETURN QUERY
    SELECT DISTINCT l.source_event_id, l.outage_event_id, l.opened
      FROM oms_links l WHERE l.outage_event_id IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION oms_link_evidence(text, text, oms_evidence[]) IS
    'Links outage or restoration evidence about meters, from many events, to the covering active outages (or opens one per DP).';

-- ---------------------------------------------------------------------------
-- Feed events about meters.

-- What many feed events about meters do, in a fixed number of statements:
-- their status changes (oms_apply_status_changes), the meters heard from, and
-- their outage or restoration evidence (oms_link_evidence). One row per event.
CREATE OR REPLACE FUNCTION oms_sync_evidence(p_source_type text, p_source_table text, p_items oms_feed_item[])
RETURNS TABLE (source_event_id text, status_changes integer, late_changes integer, outage_event_ids uuid[],
               outages_opened integer)
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_confidence numeric := oms_source_confidence(p_source_type);
    v_changes    jsonb;
    v_links      jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_items) i
                WHERE i.kind NOT IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'call', 'none')) THEN
        RAISE EXCEPTION 'unknown evidence kind in %',
            (SELECT string_agg(DISTINCT i.kind, ', ') FROM unnest(p_items) i)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. Status changes, audited, as if one by one in event-time order.
    WITH pairs AS (
        SELECT i.source_event_id, m AS meter_id, i.kind, i.event_time, i.metadata
          FROM unnest(p_items) i CROSS JOIN LATERAL unnest(i.meter_ids) AS m
    )
    SELECT coalesce(jsonb_object_agg(s.source_event_id, jsonb_build_array(s.applied, s.late)), '{}'::jsonb)
      INTO v_changes
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
                       p_source_type, v_confidence, true) a
             GROUP BY a.source_event_id) s;

    -- 2. Meters heard from: last communication moves forward, never back.
    UPDATE oms_meters m SET last_communication = h.heard_at
      FROM (SELECT u.meter_id, max(i.event_time) AS heard_at
              FROM unnest(p_items) i CROSS JOIN LATERAL unnest(i.meter_ids) AS u(meter_id)
             WHERE i.kind IN ('power_on', 'comm_restored') GROUP BY u.meter_id) h
     WHERE m.id = h.meter_id AND (m.last_communication IS NULL OR m.last_communication < h.heard_at);

    -- 3. Evidence: power loss and calls point at an outage; power back at its restoration.
    SELECT coalesce(jsonb_object_agg(l.source_event_id, jsonb_build_object('outages', l.outage_ids, 'opened', l.opened)),
                    '{}'::jsonb)
      INTO v_links
      FROM (SELECT e.source_event_id, to_jsonb(array_agg(DISTINCT e.outage_event_id)) AS outage_ids,
                   count(DISTINCT e.outage_event_id) FILTER (WHERE e.opened) AS opened
              FROM oms_link_evidence(
                       p_source_type, p_source_table,
                       ARRAY(SELECT ROW(i.source_event_id, u.meter_id, i.event_time,
                                        CASE WHEN i.kind = 'power_on' THEN 'restoration' ELSE 'outage' END,
                                        i.description)::oms_evidence
                               FROM unnest(p_items) i CROSS JOIN LATERAL unnest(i.meter_ids) AS u(meter_id)
                              WHERE i.kind IN ('power_off', 'call', 'power_on'))) e
             GROUP BY e.source_event_id) l;

    RETURN QUERY
    SELECT i.source_event_id,
           coalesce((v_changes -> i.source_event_id ->> 0)::int, 0),
           coalesce((v_changes -> i.source_event_id ->> 1)::int, 0),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(v_links -> i.source_event_id -> 'outages')::uuid),
                    ARRAY[]::uuid[]),
           coalesce((v_links -> i.source_event_id ->> 'opened')::int, 0)
      FROM unnest(p_items) i;
END;
$$;
COMMENT ON FUNCTION oms_sync_evidence(text, text, oms_feed_item[]) IS
    'What many feed events do to their meters (status, heard from) and outages (evidence), in a fixed number of statements.';

-- The part of a feed function's result that oms_sync_evidence() decides.
CREATE OR REPLACE FUNCTION oms_sync_summary(p_status_changes integer, p_late_changes integer, p_outage_event_ids uuid[],
                                 p_outages_opened integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('status_changes', p_status_changes, 'late_changes', p_late_changes,
                              'outage_event_ids', to_jsonb(p_outage_event_ids), 'outages_opened', p_outages_opened)
$$;
COMMENT ON FUNCTION oms_sync_summary(integer, integer, uuid[], integer) IS
    'The part of a feed function''s jsonb result that oms_sync_evidence() decides.';

-- One feed event about some meters: a batch of one, as jsonb.
CREATE OR REPLACE FUNCTION oms_sync_meter_evidence(
    p_source_type      text,
    p_source_event_id  text,
    p_source_table     text,
    p_meter_ids        uuid[],
    p_kind             text,
    p_event_time       timestamptz,
    p_description      text,
    p_metadata         jsonb
) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT oms_sync_summary(s.status_changes, s.late_changes, s.outage_event_ids, s.outages_opened)
      FROM oms_sync_evidence(
               p_source_type, p_source_table,
               ARRAY[ROW(p_source_event_id, coalesce(p_meter_ids, ARRAY[]::uuid[]), p_kind, p_event_time, p_description,
                         p_metadata)::oms_feed_item]) s
$$;
COMMENT ON FUNCTION oms_sync_meter_evidence(text, text, text, uuid[], text, timestamptz, text, jsonb) IS
    'What one feed event about meters does: status changes (audited, ordered) and outage or restoration evidence.';
