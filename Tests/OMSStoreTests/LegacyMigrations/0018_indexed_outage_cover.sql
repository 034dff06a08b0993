-- 0018 Covering outages found by index from the evidence.
--
-- oms_link_evidence() (0011) matched each batch's evidence against every
-- active outage, read whole per call: in a storm with thousands of active
-- outages that cost grew with the storm, not with the batch. Here each piece
-- of evidence looks up its candidates through partial indexes on the active
-- outages (by distribution point, feeder, substation; the window condition on
-- first_detected_at in the index), so a call costs what its own evidence costs.
-- The rules are unchanged.

CREATE INDEX oms_outage_events_active_dp_idx ON oms_outage_events (dp_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled');
CREATE INDEX oms_outage_events_active_feeder_idx ON oms_outage_events (feeder_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled') AND dp_id IS NULL;
CREATE INDEX oms_outage_events_active_substation_idx ON oms_outage_events (substation_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled') AND dp_id IS NULL AND feeder_id IS NULL;

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
