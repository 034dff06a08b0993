-- 0027 Outages for the read API: a filtered list by cursor pages, and one
-- outage with its evidence, timeline and meters.
--
-- GET /api/v1/outages and GET /api/v1/outages/{event_id} call these; psql users can too:
--   SELECT * FROM oms_outages(p_active => true);                         -- active, newest first
--   SELECT * FROM oms_outages(p_status => ARRAY['restored'], p_from => now() - interval '1 day');
--   SELECT oms_outage_detail('OMS_SCADA_1759226400_ab12cd34');
-- Newest first by (first_detected_at, id), keyset pages as in 0026 (oms_page_cursor).

-- The outage statuses of 0006, for checking filters.
CREATE FUNCTION oms_outage_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['predicted', 'detected', 'confirmed', 'in_progress', 'restored', 'cancelled']
$$;

CREATE FUNCTION oms_outages(
    p_status      text[] DEFAULT NULL,        -- any of these statuses (NULL: all)
    p_active      boolean DEFAULT NULL,       -- true: not restored or cancelled; false: restored or cancelled
    p_from        timestamptz DEFAULT NULL,   -- first detected at or after
    p_to          timestamptz DEFAULT NULL,   -- first detected before
    p_substation  text DEFAULT NULL,          -- under this substation (business id)
    p_limit       integer DEFAULT 100,
    p_cursor      text DEFAULT NULL
)
RETURNS TABLE (id uuid, event_id text, event_type text, status text, severity text, confidence_score numeric,
               affected_customers_count integer, affected_meters_count integer, root_cause text, description text,
               substation_code text, feeder_code text, dp_code text, event_latitude double precision,
               event_longitude double precision, first_detected_at timestamptz,
               estimated_restoration_time timestamptz, actual_restoration_time timestamptz,
               last_updated_at timestamptz, cursor text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_unknown   text[];
    v_substation uuid;
    v_time      timestamptz;
    v_id        uuid;
BEGIN
    PERFORM oms_page_limit_checked(p_limit);
    SELECT array_agg(s) INTO v_unknown FROM unnest(p_status) s WHERE s IS NULL OR s <> ALL (oms_outage_statuses());
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown outage status %: the statuses are %', array_to_string(v_unknown, ', ', 'NULL'),
                array_to_string(oms_outage_statuses(), ', ')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_status';
    END IF;
    IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_from >= p_to THEN
        RAISE EXCEPTION 'invalid time range: p_from (%) must be before p_to (%)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_from';
    END IF;
    IF p_substation IS NOT NULL THEN
        SELECT s.id INTO v_substation FROM network_substations s WHERE s.substation_id = p_substation;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no substation %', quote_literal(p_substation)
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_substation';
        END IF;
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.position_time, c.position_id INTO v_time, v_id FROM oms_page_cursor_position(p_cursor) c;
    END IF;
    RETURN QUERY
        SELECT o.id, o.event_id, o.event_type, o.status, o.severity, o.confidence_score, o.affected_customers_count,
               o.affected_meters_count, o.root_cause, o.description, ns.substation_id, nf.feeder_id, dp.dp_id,
               o.event_latitude, o.event_longitude, o.first_detected_at, o.estimated_restoration_time,
               o.actual_restoration_time, o.last_updated_at, oms_page_cursor(o.first_detected_at, o.id)
          FROM oms_outage_events o
          LEFT JOIN network_substations ns ON ns.id = o.substation_id
          LEFT JOIN network_feeders nf ON nf.id = o.feeder_id
          LEFT JOIN network_distribution_points dp ON dp.id = o.dp_id
         WHERE (p_status IS NULL OR o.status = ANY (p_status))
           AND (p_active IS NULL OR (o.status NOT IN ('restored', 'cancelled')) = p_active)
           AND (p_from IS NULL OR o.first_detected_at >= p_from)
           AND (p_to IS NULL OR o.first_detected_at < p_to)
           AND (v_substation IS NULL OR o.substation_id = v_substation)
           AND (p_cursor IS NULL OR (o.first_detected_at, o.id) < (v_time, v_id))
         ORDER BY o.first_detected_at DESC, o.id DESC
         LIMIT p_limit;
END;
$$;
COMMENT ON FUNCTION oms_outages(text[], boolean, timestamptz, timestamptz, text, integer, text) IS
    'Outages newest first, filtered by status, activity, detection time and substation; p_limit at a time, the next page from the last row''s cursor.';

-- One outage as a JSON document: the outage (as oms_outages lists it), its
-- evidence (oms_event_sources), its timeline (oldest first) and its meters
-- (each with the source that first put it there and its current status). NULL
-- when there is no such outage.
CREATE FUNCTION oms_outage_detail(p_event_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT to_jsonb(o) - 'cursor'
           || jsonb_build_object(
                'sources', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                         'source_type', s.source_type, 'source_event_id', s.source_event_id,
                                         'source_table', s.source_table, 'evidence', s.evidence,
                                         'correlation_weight', s.correlation_weight, 'detected_at', s.detected_at)
                                       ORDER BY s.detected_at, s.source_type, s.source_event_id)
                                      FROM oms_event_sources s WHERE s.outage_event_id = o.id), '[]'::jsonb),
                'timeline', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                          'event_type', t.event_type, 'status', t.status, 'description', t.description,
                                          'source', t.source, 'timestamp', t."timestamp", 'metadata', t.metadata)
                                        ORDER BY t."timestamp", t.id)
                                       FROM oms_event_timeline t WHERE t.outage_event_id = o.id), '[]'::jsonb),
                'meters', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                        'meter_number', m.meter_number, 'source_type', om.source_type,
                                        'first_evidence_at', om.first_evidence_at, 'power_status', m.power_status,
                                        'communication_status', m.communication_status)
                                      ORDER BY m.meter_number)
                                     FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
                                    WHERE om.outage_event_id = o.id), '[]'::jsonb))
      FROM (
         SELECT oe.id, oe.event_id, oe.event_type, oe.status, oe.severity, oe.confidence_score,
                oe.affected_customers_count, oe.affected_meters_count, oe.root_cause, oe.description,
                ns.substation_id AS substation_code, nf.feeder_id AS feeder_code, dp.dp_id AS dp_code,
                oe.event_latitude, oe.event_longitude, oe.first_detected_at, oe.estimated_restoration_time,
                oe.actual_restoration_time, oe.last_updated_at, NULL::text AS cursor
           FROM oms_outage_events oe
           LEFT JOIN network_substations ns ON ns.id = oe.substation_id
           LEFT JOIN network_feeders nf ON nf.id = oe.feeder_id
           LEFT JOIN network_distribution_points dp ON dp.id = oe.dp_id
          WHERE oe.event_id = p_event_id) o
$$;
COMMENT ON FUNCTION oms_outage_detail(text) IS
    'One outage (by event_id) with its sources, timeline and affected meters, as JSON; NULL if there is none.';
