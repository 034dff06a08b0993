-- 0010 Meter status changes: the one rule every feed uses to change a meter's
-- status, and the seed's update_meter_status() and meter lookups.
--
-- oms_apply_meter_status() changes many meters in one statement and writes
-- their audit rows. A change older than the meter's last applied change
-- (last_status_change) is recorded with applied = false and does not
-- overwrite the newer state: feeds deliver out of order.

-- How much each source is believed: the confidence of the status changes it
-- makes, and the weight of its evidence for an outage (scada.confidence, 0.9,
-- is in 0001). Evidence combines as 1 - product(1 - weight) over distinct
-- source events.
INSERT INTO oms_settings (key, value, description) VALUES
    ('kaifa.confidence', '0.8',
     'Weight of AMI head-end evidence (power down, power up) and confidence of the status changes it makes.'),
    ('onu.confidence', '0.7',
     'Weight of ONU evidence (dying gasp, recovery) and confidence of the status changes it makes.'),
    ('call_center.confidence', '0.5',
     'Weight of a customer call as outage evidence and confidence of the status changes it makes.'),
    ('manual.confidence', '1.0',
     'Confidence of a status change made by an operator.'),
    ('system.confidence', '1.0',
     'Confidence of a status change made by the service itself.');

-- The confidence setting of a source ('scada' -> scada.confidence).
CREATE FUNCTION oms_source_confidence(p_source_type text) RETURNS numeric
LANGUAGE sql STABLE AS $$ SELECT oms_setting_numeric(p_source_type || '.confidence') $$;

-- One status change of one meter, for oms_apply_status_changes().
CREATE TYPE oms_status_change AS (
    meter_id         uuid,
    status_field     text,
    new_status       text,
    event_type       text,
    source_event_id  text,
    event_time       timestamptz,
    metadata         jsonb
);

-- Applies many status changes, of many meters and events, in one statement,
-- with one audit row each, as if they had come one by one in event-time order:
-- a change older than the meter's last applied change is audited with
-- applied = false and changes nothing; p_only_changes skips a change that
-- finds the meter already in that state. Returns the audit rows written.
CREATE FUNCTION oms_apply_status_changes(
    p_changes       oms_status_change[],
    p_source_type   text,
    p_confidence    numeric,
    p_only_changes  boolean
) RETURNS TABLE (status_event_id uuid, meter_id uuid, source_event_id text, status_field text,
                 previous_status text, applied boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_changes) c
                WHERE NOT (c.status_field = 'power_status' AND c.new_status IN ('on', 'off', 'unknown')
                           OR c.status_field = 'communication_status' AND c.new_status IN ('online', 'offline', 'unknown'))) THEN
        RAISE EXCEPTION 'invalid status change: use power_status on/off/unknown or communication_status online/offline/unknown'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    WITH changes AS (
        SELECT c.*, n AS seq FROM unnest(p_changes) WITH ORDINALITY AS c(meter_id, status_field, new_status, event_type,
                                                                          source_event_id, event_time, metadata, n)
    ),
    locked AS (
        SELECT m.id, m.power_status, m.communication_status, m.last_status_change
          FROM oms_meters m
         WHERE m.id IN (SELECT DISTINCT c.meter_id FROM changes c)
         ORDER BY m.id
           FOR UPDATE
    ),
    marked AS (
        SELECT c.*,
               (l.last_status_change IS NULL OR c.event_time >= l.last_status_change) AS in_order,
               CASE c.status_field WHEN 'power_status' THEN l.power_status ELSE l.communication_status END AS current
          FROM changes c JOIN locked l ON l.id = c.meter_id
    ),
    -- In order, each change finds the state the one before it left.
    sequenced AS (
        SELECT mk.*,
               CASE WHEN mk.in_order
                    THEN coalesce(lag(mk.new_status) OVER (PARTITION BY mk.meter_id, mk.status_field, mk.in_order
                                                           ORDER BY mk.event_time, mk.seq), mk.current)
                    ELSE mk.current END AS previous
          FROM marked mk
    ),
    kept AS (
        SELECT s.* FROM sequenced s WHERE NOT p_only_changes OR s.previous IS DISTINCT FROM s.new_status
    ),
    -- The state each meter ends in: its newest applied change per field.
    final AS (
        SELECT DISTINCT ON (k.meter_id, k.status_field) k.meter_id, k.status_field, k.new_status, k.event_time
          FROM kept k WHERE k.in_order
         ORDER BY k.meter_id, k.status_field, k.event_time DESC, k.seq DESC
    ),
    per_meter AS (
        SELECT f.meter_id,
               max(f.new_status) FILTER (WHERE f.status_field = 'power_status') AS power,
               max(f.event_time) FILTER (WHERE f.status_field = 'power_status') AS power_time,
               max(f.new_status) FILTER (WHERE f.status_field = 'communication_status') AS communication,
               max(f.event_time) AS last_time
          FROM final f GROUP BY f.meter_id
    ),
    updated AS (
        UPDATE oms_meters m
           SET power_status = coalesce(p.power, m.power_status),
               communication_status = coalesce(p.communication, m.communication_status),
               last_power_change = CASE WHEN p.power IS NOT NULL AND p.power IS DISTINCT FROM m.power_status
                                        THEN p.power_time ELSE m.last_power_change END,
               last_status_change = greatest(m.last_status_change, p.last_time)
          FROM per_meter p
         WHERE m.id = p.meter_id
     RETURNING m.id
    ),
    audited AS (
        INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id, status_field,
                                             previous_status, new_status, event_timestamp, confidence_score,
                                             applied, metadata)
        SELECT k.meter_id, k.event_type, p_source_type, k.source_event_id, k.status_field, k.previous, k.new_status,
               k.event_time, p_confidence, k.in_order, k.metadata
          FROM kept k
     RETURNING oms_meter_status_events.id, oms_meter_status_events.meter_id, oms_meter_status_events.source_event_id,
               oms_meter_status_events.status_field, oms_meter_status_events.previous_status,
               oms_meter_status_events.applied
    )
    SELECT a.id, a.meter_id, a.source_event_id, a.status_field, a.previous_status, a.applied FROM audited a;
END;
$$;
COMMENT ON FUNCTION oms_apply_status_changes(oms_status_change[], text, numeric, boolean) IS
    'Applies many meters'' status changes (any events, any times) in one statement as if in event-time order, audited; late ones audited, not applied.';

-- One event's change of many meters to one status: a batch of changes.
CREATE FUNCTION oms_apply_meter_status(
    p_meter_ids        uuid[],
    p_status_field     text,
    p_new_status       text,
    p_event_type       text,
    p_source_type      text,
    p_source_event_id  text,
    p_event_timestamp  timestamptz,
    p_confidence       numeric,
    p_metadata         jsonb,
    p_only_changes     boolean
) RETURNS TABLE (meter_id uuid, status_event_id uuid, previous_status text, applied boolean)
LANGUAGE sql AS $$
    SELECT a.meter_id, a.status_event_id, a.previous_status, a.applied
      FROM oms_apply_status_changes(
               ARRAY(SELECT ROW(m, p_status_field, p_new_status, p_event_type, p_source_event_id, p_event_timestamp,
                                p_metadata)::oms_status_change
                       FROM unnest(p_meter_ids) AS m),
               p_source_type, p_confidence, p_only_changes) a
$$;
COMMENT ON FUNCTION oms_apply_meter_status(uuid[], text, text, text, text, text, timestamptz, numeric, jsonb, boolean) IS
    'Sets a status field of many meters (one event) with one audit row each; late events are audited, not applied.';

-- The seed's update_meter_status(): one meter, by number, power status.
CREATE FUNCTION update_meter_status(
    p_meter_number     text,
    p_new_status       text,
    p_event_type       text,
    p_source_type      text,
    p_source_event_id  text,
    p_event_timestamp  timestamptz DEFAULT now(),
    p_metadata         jsonb DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_meter_id  uuid;
    v_event_id  uuid;
BEGIN
    SELECT id INTO v_meter_id FROM oms_meters WHERE meter_number = btrim(p_meter_number);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown meter "%"', p_meter_number
            USING ERRCODE = 'no_data_found', COLUMN = 'meter_number';
    END IF;
    IF p_new_status IS NULL OR p_new_status NOT IN ('on', 'off', 'unknown') THEN
        RAISE EXCEPTION 'invalid power status "%": use on, off or unknown', p_new_status
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'power_status';
    END IF;
    IF p_source_type IS NULL
       OR p_source_type NOT IN ('scada', 'onu', 'kaifa', 'call_center', 'manual', 'system') THEN
        RAISE EXCEPTION 'invalid source type "%": use scada, onu, kaifa, call_center, manual or system', p_source_type
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'source_type';
    END IF;
    SELECT a.status_event_id INTO v_event_id
      FROM oms_apply_meter_status(ARRAY[v_meter_id], 'power_status', p_new_status, p_event_type, p_source_type,
                                  p_source_event_id, coalesce(p_event_timestamp, now()),
                                  oms_source_confidence(p_source_type), p_metadata, false) a;
    RETURN v_event_id;
END;
$$;
COMMENT ON FUNCTION update_meter_status(text, text, text, text, text, timestamptz, jsonb) IS
    'Sets one meter''s power status with an audit row; returns the audit row''s id. Late events are audited, not applied.';

-- The active meters a substation (p_feeder_id NULL) or a feeder supplies, as the
-- mapping tables say, with each link's priority: what a SCADA event checks and
-- what the seed's lookups list. Meters whose own parent is the scope (nearly
-- all) are read through oms_meters' parent index, where they share pages; the
-- few linked by hand from elsewhere (a second feed) by primary key. One
-- implementation for every caller; its cost follows the scope, never the
-- registry (enable_seqscan = off: small networks tempt the planner to scan).
CREATE FUNCTION oms_supplied_meters(p_substation_id uuid, p_feeder_id uuid)
RETURNS TABLE (priority integer, meter_id uuid, meter_number text, customer_id uuid, power_status text,
               communication_status text, last_communication timestamptz, location_lat double precision,
               location_lng double precision)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
    WITH links AS MATERIALIZED (
        SELECT l.meter_id, l.priority FROM network_feeder_meters l
         WHERE p_feeder_id IS NOT NULL AND l.feeder_id = p_feeder_id
        UNION ALL
        SELECT l.meter_id, l.priority FROM network_substation_meters l
         WHERE p_feeder_id IS NULL AND l.substation_id = p_substation_id
    ),
    own AS MATERIALIZED (
        SELECT m.id, m.meter_number, m.customer_id, m.power_status, m.communication_status,
               m.last_communication, m.location_lat, m.location_lng
          FROM oms_meters m
         WHERE p_feeder_id IS NOT NULL AND m.feeder_id = p_feeder_id AND m.status = 'active'
        UNION ALL
        SELECT m.id, m.meter_number, m.customer_id, m.power_status, m.communication_status,
               m.last_communication, m.location_lat, m.location_lng
          FROM oms_meters m
         WHERE p_feeder_id IS NULL AND m.substation_id = p_substation_id AND m.status = 'active'
    )
    SELECT l.priority, o.id, o.meter_number, o.customer_id, o.power_status, o.communication_status,
           o.last_communication, o.location_lat, o.location_lng
      FROM links l JOIN own o ON o.id = l.meter_id
    UNION ALL
    SELECT l.priority, m.id, m.meter_number, m.customer_id, m.power_status, m.communication_status,
           m.last_communication, m.location_lat, m.location_lng
      FROM links l JOIN oms_meters m ON m.id = l.meter_id
     WHERE m.status = 'active' AND NOT EXISTS (SELECT 1 FROM own o WHERE o.id = l.meter_id)
$$;
COMMENT ON FUNCTION oms_supplied_meters(uuid, uuid) IS
    'Active meters mapped to a substation (feeder NULL) or a feeder, with their link priority.';

-- The seed's meter lookups, by business id, most important (lowest priority) first.
CREATE FUNCTION get_meters_by_substation(p_substation_id text)
RETURNS TABLE (meter_id uuid, meter_number text, communication_status text, power_status text,
               last_communication timestamptz, customer_id uuid, location_lat double precision,
               location_lng double precision)
LANGUAGE sql STABLE AS $$
    SELECT m.meter_id, m.meter_number, m.communication_status, m.power_status, m.last_communication,
           m.customer_id, m.location_lat, m.location_lng
      FROM network_substations s
     CROSS JOIN LATERAL oms_supplied_meters(s.id, NULL) m
     WHERE s.substation_id = p_substation_id
     ORDER BY m.priority, m.meter_number
$$;

CREATE FUNCTION get_meters_by_feeder(p_feeder_id text)
RETURNS TABLE (meter_id uuid, meter_number text, communication_status text, power_status text,
               last_communication timestamptz, customer_id uuid, location_lat double precision,
               location_lng double precision)
LANGUAGE sql STABLE AS $$
    SELECT m.meter_id, m.meter_number, m.communication_status, m.power_status, m.last_communication,
           m.customer_id, m.location_lat, m.location_lng
      FROM network_feeders f
     CROSS JOIN LATERAL oms_supplied_meters(f.substation_id, f.id) m
     WHERE f.feeder_id = p_feeder_id
     ORDER BY m.priority, m.meter_number
$$;
