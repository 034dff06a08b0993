-- 0011 Outage correlation: which meters an outage covers, how its evidence
-- combines, and how evidence from meters (ONU, KAIFA, calls) finds its outage.
--
--   oms_outage_meters       the meters an outage covers (those its evidence named)
--   oms_refresh_outages()   confidence, status and size, recomputed from evidence
--   oms_link_evidence()     evidence about meters, from many events -> the active
--                           outage covering each meter (same DP, else feeder, else
--                           substation, first detected within
--                           correlation.window_minutes), or a new one
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

INSERT INTO oms_settings (key, value, description) VALUES
    ('correlation.window_minutes', '60',
     'Meter evidence joins an active outage covering its meter only if that outage was first detected within this many minutes.'),
    ('correlation.confirm_confidence', '0.95',
     'An outage whose combined confidence reaches this is confirmed (so is one with evidence from two different feeds).');

ALTER TABLE oms_event_sources
    ADD COLUMN evidence text NOT NULL DEFAULT 'outage' CHECK (evidence IN ('outage', 'restoration'));
COMMENT ON COLUMN oms_event_sources.evidence IS
    'outage: the event shows the outage (counts for confidence); restoration: it shows power back.';

CREATE TABLE oms_outage_meters (
    outage_event_id    uuid NOT NULL REFERENCES oms_outage_events (id) ON DELETE CASCADE,
    meter_id           uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    source_type        text NOT NULL CHECK (source_type IN ('scada', 'onu', 'kaifa', 'call_center')),
    first_evidence_at  timestamptz NOT NULL,
    PRIMARY KEY (outage_event_id, meter_id)
);
COMMENT ON TABLE oms_outage_meters IS
    'The meters an outage covers: those its evidence found without power (SCADA offline meters, last gasps, calls).';
CREATE INDEX oms_outage_meters_meter_idx ON oms_outage_meters (meter_id);

-- Recomputes confidence, status and size of the given outages from their
-- evidence, in one statement, with a timeline entry for each status change.
-- p_restoration: the call brings restoration evidence (may restore).
CREATE FUNCTION oms_refresh_outages(p_outage_ids uuid[], p_event_time timestamptz, p_restoration boolean)
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

-- One piece of evidence about one meter, for oms_link_evidence().
CREATE TYPE oms_evidence AS (
    source_event_id  text,
    meter_id         uuid,
    event_time       timestamptz,
    evidence         text,
    description      text
);

-- Links evidence about meters, from any number of events, to outages, in a
-- fixed number of statements. 'outage' evidence: each meter joins the active
-- outage covering it (one that already covers the meter, else its DP's, else
-- a feeder-wide one, else a substation-wide one), first detected within
-- correlation.window_minutes of the event; meters nothing covers open one
-- outage per distribution point (else feeder, substation), opened by the
-- earliest event. 'restoration' evidence: the active outages covering the
-- meters get it and may be restored. Each (outage, event) link is one
-- oms_event_sources row (a repeat adds nothing) and one timeline entry; the
-- touched outages are refreshed once. Returns the links made or found.
CREATE FUNCTION oms_link_evidence(p_source_type text, p_source_table text, p_evidence oms_evidence[])
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
    -- The active outages (few, through the partial index), matched to the evidence set-based.
    active AS MATERIALIZED (
        SELECT o.id, o.dp_id, o.feeder_id, o.substation_id, o.first_detected_at
          FROM oms_outage_events o WHERE o.status NOT IN ('restored', 'cancelled')
    ),
    candidates AS (
        SELECT e.source_event_id, e.meter_id, a.id, 0 AS rank, a.first_detected_at, e.event_time
          FROM evidence e
          JOIN oms_outage_meters om ON om.meter_id = e.meter_id
          JOIN active a ON a.id = om.outage_event_id
        UNION ALL
        SELECT e.source_event_id, e.meter_id, a.id, 1, a.first_detected_at, e.event_time
          FROM evidence e JOIN active a ON a.dp_id = e.dp_id
        UNION ALL
        SELECT e.source_event_id, e.meter_id, a.id, 2, a.first_detected_at, e.event_time
          FROM evidence e JOIN active a ON a.dp_id IS NULL AND a.feeder_id = e.feeder_id
        UNION ALL
        SELECT e.source_event_id, e.meter_id, a.id, 3, a.first_detected_at, e.event_time
          FROM evidence e JOIN active a ON a.dp_id IS NULL AND a.feeder_id IS NULL AND a.substation_id = e.substation_id
    ),
    covering AS (
        -- The most specific active outage first detected within the window of each event.
        SELECT DISTINCT ON (c.source_event_id, c.meter_id) c.source_event_id, c.meter_id, c.id
          FROM candidates c
         WHERE c.first_detected_at BETWEEN c.event_time - v_window AND c.event_time + v_window
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
