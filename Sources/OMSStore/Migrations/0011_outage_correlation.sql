-- 0011 Outage correlation: which meters an outage covers, how its evidence
-- combines, and how evidence from meters (ONU, KAIFA, calls) finds its outage.
--
--   oms_outage_meters       the meters an outage covers (those its evidence named)
--   oms_refresh_outages()   confidence, status and size, recomputed from evidence
--   oms_link_meter_evidence()  meter evidence -> the active outage covering each
--                           meter (same DP, else feeder, else substation, first
--                           detected within correlation.window_minutes), or a new one
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

-- Links evidence about some meters to outages. p_evidence 'outage': each meter
-- joins the active outage covering it (its DP, else its feeder, else its
-- substation, or one that already covers the meter), first detected within
-- correlation.window_minutes; meters left over open one outage per distribution
-- point (else feeder, substation). 'restoration': the active outages covering
-- the meters get the evidence and may be restored. Returns the outages touched.
CREATE FUNCTION oms_link_meter_evidence(
    p_source_type      text,
    p_source_event_id  text,
    p_source_table     text,
    p_meter_ids        uuid[],
    p_event_time       timestamptz,
    p_evidence         text,
    p_description      text
) RETURNS TABLE (outage_event_id uuid, opened boolean)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_window  interval := oms_setting_interval_minutes('correlation.window_minutes');
    v_weight  numeric := oms_source_confidence(p_source_type);
    v_touched uuid[];
    v_opened  uuid[] := ARRAY[]::uuid[];
BEGIN
    IF p_meter_ids IS NULL OR cardinality(p_meter_ids) = 0 THEN
        RETURN;
    END IF;

    IF p_evidence = 'restoration' THEN
        SELECT array_agg(DISTINCT om.outage_event_id) INTO v_touched
          FROM oms_outage_meters om
          JOIN oms_outage_events o ON o.id = om.outage_event_id
         WHERE om.meter_id = ANY (p_meter_ids) AND o.status NOT IN ('restored', 'cancelled');
    ELSE
        -- One writer per distribution point (else feeder, substation) at a time,
        -- so that two last gasps from one transformer cannot open two outages.
        PERFORM pg_advisory_xact_lock(k)
           FROM (SELECT DISTINCT hashtextextended(
                        'oms.scope.' || coalesce(m.dp_id, m.feeder_id, m.substation_id, m.id)::text, 0) AS k
                   FROM oms_meters m WHERE m.id = ANY (p_meter_ids)
                  ORDER BY 1) AS locks;

        WITH links AS MATERIALIZED (
            SELECT m.id AS meter_id, covering.id AS outage_id,
                   CASE WHEN m.dp_id IS NOT NULL THEN 'dp:' || m.dp_id
                        WHEN m.feeder_id IS NOT NULL THEN 'feeder:' || m.feeder_id
                        WHEN m.substation_id IS NOT NULL THEN 'substation:' || m.substation_id
                        ELSE 'meter:' || m.id END AS scope_key
              FROM oms_meters m
              LEFT JOIN LATERAL (
                    -- Each way of covering a meter through its own index; the most specific wins.
                    SELECT c.id FROM (
                        SELECT o.id, 0 AS rank, o.first_detected_at FROM oms_outage_meters om
                          JOIN oms_outage_events o ON o.id = om.outage_event_id
                         WHERE om.meter_id = m.id
                           AND o.status NOT IN ('restored', 'cancelled')
                           AND o.first_detected_at BETWEEN p_event_time - v_window AND p_event_time + v_window
                        UNION ALL
                        SELECT o.id, 1, o.first_detected_at FROM oms_outage_events o
                         WHERE m.dp_id IS NOT NULL AND o.dp_id = m.dp_id
                           AND o.status NOT IN ('restored', 'cancelled')
                           AND o.first_detected_at BETWEEN p_event_time - v_window AND p_event_time + v_window
                        UNION ALL
                        SELECT o.id, 2, o.first_detected_at FROM oms_outage_events o
                         WHERE m.feeder_id IS NOT NULL AND o.feeder_id = m.feeder_id AND o.dp_id IS NULL
                           AND o.status NOT IN ('restored', 'cancelled')
                           AND o.first_detected_at BETWEEN p_event_time - v_window AND p_event_time + v_window
                        UNION ALL
                        SELECT o.id, 3, o.first_detected_at FROM oms_outage_events o
                         WHERE m.substation_id IS NOT NULL AND o.substation_id = m.substation_id
                           AND o.feeder_id IS NULL AND o.dp_id IS NULL
                           AND o.status NOT IN ('restored', 'cancelled')
                           AND o.first_detected_at BETWEEN p_event_time - v_window AND p_event_time + v_window
                    ) c
                    ORDER BY c.rank, c.first_detected_at DESC
                    LIMIT 1) covering ON true
             WHERE m.id = ANY (p_meter_ids)
        ),
        uncovered AS (
            SELECT l.scope_key, min(l.meter_id::text)::uuid AS any_meter,
                   format('OMS_%s_%s_%s', upper(p_source_type), floor(extract(epoch FROM p_event_time))::bigint,
                          left(md5(coalesce(p_source_event_id, '') || '/' || l.scope_key), 8)) AS event_code
              FROM links l WHERE l.outage_id IS NULL
             GROUP BY l.scope_key
        ),
        opened AS (
            INSERT INTO oms_outage_events (event_id, event_type, status, severity, confidence_score, root_cause,
                                           description, substation_id, feeder_id, dp_id, event_latitude,
                                           event_longitude, first_detected_at)
            SELECT u.event_code, 'outage', 'detected', 'medium', v_weight,
                   format('%s at %s', p_description,
                          coalesce('distribution point ' || dp.dp_id, 'feeder ' || f.feeder_id,
                                   'substation ' || s.substation_id, 'meter ' || m.meter_number)),
                   format('Opened from %s evidence %s', p_source_type, coalesce(p_source_event_id, '')),
                   m.substation_id, m.feeder_id, m.dp_id,
                   coalesce(dp.location_lat, m.location_lat), coalesce(dp.location_lng, m.location_lng),
                   p_event_time
              FROM uncovered u
              JOIN oms_meters m ON m.id = u.any_meter
              LEFT JOIN network_distribution_points dp ON dp.id = m.dp_id
              LEFT JOIN network_feeders f ON f.id = m.feeder_id
              LEFT JOIN network_substations s ON s.id = m.substation_id
            ON CONFLICT (event_id) DO NOTHING
            RETURNING oms_outage_events.id, oms_outage_events.event_id
        ),
        resolved AS (
            SELECT l.meter_id, coalesce(l.outage_id, o.id) AS outage_id, o.id IS NOT NULL AS is_new
              FROM links l
              LEFT JOIN uncovered u ON l.outage_id IS NULL AND u.scope_key = l.scope_key
              LEFT JOIN opened o ON o.event_id = u.event_code
        ),
        members AS (
            INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at)
            SELECT r.outage_id, r.meter_id, p_source_type, p_event_time
              FROM resolved r WHERE r.outage_id IS NOT NULL
            ON CONFLICT DO NOTHING
        )
        SELECT array_agg(DISTINCT r.outage_id) FILTER (WHERE r.outage_id IS NOT NULL),
               coalesce(array_agg(DISTINCT r.outage_id) FILTER (WHERE r.is_new), ARRAY[]::uuid[])
          INTO v_touched, v_opened
          FROM resolved r;
    END IF;

    IF v_touched IS NULL THEN
        RETURN;
    END IF;

    -- One evidence row per outage and source event (a repeat adds nothing), with its timeline entry.
    WITH linked AS (
        INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table,
                                       correlation_weight, detected_at, evidence)
        SELECT t.id, p_source_type, p_source_event_id, p_source_table, v_weight, p_event_time, p_evidence
          FROM unnest(v_touched) AS t(id)
        ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING
        RETURNING oms_event_sources.outage_event_id
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT l.outage_event_id,
           CASE WHEN l.outage_event_id = ANY (v_opened) THEN 'outage_opened'
                WHEN p_evidence = 'restoration' THEN 'restoration_evidence'
                ELSE 'evidence_linked' END,
           o.status, p_description, p_source_type, p_event_time,
           jsonb_build_object('source_event_id', p_source_event_id,
                              'meters', (SELECT count(*) FROM unnest(p_meter_ids)))
      FROM linked l JOIN oms_outage_events o ON o.id = l.outage_event_id;

    PERFORM oms_refresh_outages(v_touched, p_event_time, p_evidence = 'restoration');

    RETURN QUERY SELECT t.id, t.id = ANY (v_opened) FROM unnest(v_touched) AS t(id);
END;
$$;
COMMENT ON FUNCTION oms_link_meter_evidence(text, text, text, uuid[], timestamptz, text, text) IS
    'Links outage or restoration evidence about meters to the covering active outage (or opens one per DP); returns the outages touched.';
