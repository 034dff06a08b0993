-- The seed's SCADA workflow: a breaker event checks exactly the meters under
-- its feeder (or, without a feeder, its substation), records which are off,
-- and opens one outage, or joins the active one.
--
--   insert_scada_event_from_json(jsonb) -> uuid         store only
--   insert_scada_event_with_meter_check(jsonb) -> jsonb store, and check when critical
--   insert_scada_events_with_meter_check(jsonb) -> jsonb array of those, one transaction
--   process_scada_event_meters(uuid, text, text, timestamptz)
--       -> (total_meters, offline_meters, online_meters, unknown_meters, outage_event_id)
--   get_meters_by_substation(text), get_meters_by_feeder(text)
--       the seed's lookups: the meters such an event would check
--
-- Following one event: insert_scada_event_with_meter_check -> oms_store_scada_event
-- (its fields read by 01_helpers.sql) -> process_scada_event_meters ->
-- oms_supplied_meters (all here) -> oms_classify_meter and oms_apply_meter_status
-- (05_status.sql) -> oms_refresh_outages (06_correlation.sql).
--
-- Rules (thresholds in oms_settings):
--   * Input: the seed's object or the prototype's envelope {"event": {...},
--     "source", "received_at"}. Required: eventType, substationId, timestamp
--     (ISO 8601 with a zone). A bad field is an error naming it (SQLSTATE
--     22023, the field in the error's COLUMN); nothing is written.
--   * Scope: feeder given -> the meters mapped to that feeder; absent, null or
--     empty -> every meter mapped to the substation. A feeder of another
--     substation is an error (never a wider check). An unknown substation or
--     feeder is stored and reported, and opens nothing.
--   * Each checked meter is classified at the event's time by
--     oms_classify_meter() (timeout: meter.communication_timeout_minutes).
--     Only offline meters are set to power off (source scada, confidence
--     scada.confidence); unknown meters are never forced off.
--   * Critical: alarm type or event type in scada.critical_alarms, compared
--     after oms_normalize_code() (case, spaces and dashes do not matter).
--   * Telemetry wins: a message whose event or alarm type says the device is
--     out (scada_state_words: open, locked_out, de_energized) confirms the
--     device's outage through oms_apply_device_state (20_device_telemetry.sql),
--     covering every meter under it; the check's counts stay the seed's. Every
--     new message, checked or not, applies its device state (a reclose or a
--     close restores).
--   * Otherwise (a critical alarm that names no state), offline meters open one
--     outage (status detected) unless an outage on the
--     same feeder (or a substation-wide one of its substation) is active, which
--     the event then joins. The outage covers the offline meters
--     (oms_outage_meters); its confidence, status and size come from
--     oms_refresh_outages() like any outage's.
--   * Idempotent: the same message again (same eventId, or without one the same
--     substation, feeder, alarm and timestamp) changes nothing and returns the
--     first result, marked "duplicate": true. An event stored without a check
--     (not critical, unknown substation or feeder) is not locked in: delivered
--     again once the reason no longer holds (the setting fixed, the network
--     imported), it is checked then and answered with "rechecked": true and the
--     earlier "previous_reason"; while the reason holds, a repeat stays a
--     duplicate.
--   * Set-based: the meters are reached through the mapping tables' indexes;
--     no statement reads the whole registry.

-- ---------------------------------------------------------------------------
-- Storing.

-- Stores a SCADA message unless it is a repeat. Accepts the seed's event
-- object and the prototype's envelope {"event": {...}, "source", "received_at"}.
CREATE OR REPLACE FUNCTION oms_store_scada_event(p_message jsonb, OUT scada_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c_context CONSTANT text := 'SCADA event';
    v_event        jsonb := p_message;
    v_event_type   text;
    v_substation   text;
    v_feeder       text;
    v_alarm        text;
    v_source_id    text;
    v_timestamp    timestamptz;
    v_lat          double precision;
    v_lng          double precision;
BEGIN
    IF jsonb_typeof(v_event) = 'object' AND jsonb_typeof(v_event -> 'event') = 'object' THEN
        v_event := v_event -> 'event';
    END IF;
    IF v_event IS NULL OR jsonb_typeof(v_event) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(v_event), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_event_type := oms_json_required_text(v_event, 'eventType', c_context);
    v_substation := oms_json_required_text(v_event, 'substationId', c_context);
    v_feeder := oms_json_text(v_event, 'feederId', c_context);
    v_alarm := oms_json_text(v_event, 'alarmType', c_context);
    v_source_id := oms_json_text(v_event, 'eventId', c_context);
    v_timestamp := oms_json_time(v_event, 'timestamp', c_context);
    SELECT pt.lat, pt.lng INTO v_lat, v_lng FROM oms_json_point(v_event, 'coordinates', c_context) pt;

    INSERT INTO scada_events (source_event_id, event_type, substation_id, feeder_id, main_station_id, alarm_type,
                              severity, voltage, reason, event_timestamp, latitude, longitude, raw)
    VALUES (v_source_id, v_event_type, v_substation, v_feeder, oms_json_text(v_event, 'mainStationId', c_context),
            v_alarm, oms_json_text(v_event, 'severity', c_context), oms_json_number(v_event, 'voltage', c_context),
            oms_json_text(v_event, 'reason', c_context), v_timestamp, v_lat, v_lng, p_message)
    ON CONFLICT DO NOTHING
    RETURNING id INTO scada_event_id;

    inserted := scada_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO scada_event_id FROM scada_events e
         WHERE (v_source_id IS NOT NULL AND e.source_event_id = v_source_id)
            OR (v_source_id IS NULL AND e.source_event_id IS NULL AND e.substation_id = v_substation
                AND coalesce(e.feeder_id, '') = coalesce(v_feeder, '')
                AND coalesce(lower(e.alarm_type), '') = coalesce(lower(v_alarm), '')
                AND e.event_timestamp = v_timestamp);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_store_scada_event(jsonb) IS
    'Stores a SCADA message unless it is a repeat; returns its id and whether it was new. Refuses a bad field naming it.';

-- The seed's store-only function.
CREATE OR REPLACE FUNCTION insert_scada_event_from_json(p_event jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT scada_event_id FROM oms_store_scada_event(p_event) $$;
COMMENT ON FUNCTION insert_scada_event_from_json(jsonb) IS
    'Stores a SCADA event (the seed''s JSON or the {"event": ...} envelope) without checking meters; a repeat returns the first id.';

-- Whether an alarm or event type is in scada.critical_alarms.
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_scada_is_critical(p_alarm_type text, p_event_type text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(oms_setting('scada.critical_alarms')) AS critical(code)
         WHERE oms_normalize_code(critical.code) IN (oms_normalize_code(p_alarm_type), oms_normalize_code(p_event_type))));
END;
$$;
COMMENT ON FUNCTION oms_scada_is_critical(text, text) IS
    'Whether an alarm or event type is in scada.critical_alarms (compared after oms_normalize_code).';

-- Why a stored SCADA event cannot be checked now (NULL: it can).
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_scada_unchecked_reason(p_event scada_events) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (CASE
        WHEN NOT oms_scada_is_critical(p_event.alarm_type, p_event.event_type)
        THEN format('not critical: alarm type %s and event type %s are not in scada.critical_alarms',
                    coalesce('"' || p_event.alarm_type || '"', 'none'), '"' || p_event.event_type || '"')
        WHEN NOT EXISTS (SELECT 1 FROM network_substations s WHERE s.substation_id = p_event.substation_id)
        THEN format('unknown substation "%s"', p_event.substation_id)
        WHEN p_event.feeder_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM network_feeders f WHERE f.feeder_id = p_event.feeder_id)
        THEN format('unknown feeder "%s"', p_event.feeder_id)
    END);
END;
$$;
COMMENT ON FUNCTION oms_scada_unchecked_reason(scada_events) IS
    'Why a SCADA event is not checked (not critical, unknown substation or feeder), or NULL when it can be.';

-- ---------------------------------------------------------------------------
-- Scope: which meters an event checks (the mapping tables, kept by
-- 04_mappings.sql), and the seed's lookups of the same meters.

-- The active meters a substation (p_feeder_id NULL) or a feeder supplies, as the
-- mapping tables say, with each link's priority: what a SCADA event checks and
-- what the seed's lookups list. Meters whose own parent is the scope (nearly
-- all) are read through oms_meters' parent index, where they share pages, and
-- matched to their links by a hash join; the few linked by hand from elsewhere
-- (a second feed) by primary key, only for the links the parent index did not
-- give (the lateral lookup is gated on that, OFFSET 0 keeping it a lookup).
-- One implementation for every caller; its cost follows the scope, never the
-- registry (enable_seqscan = off: small networks tempt the planner to scan).
-- No merge join: the plan is made without the scope's size, and a merge join
-- sorts both sides (measured at 10,000 meters: 24.7 ms with it, 12.5 ms hashed).
-- PL/pgSQL with that one generic plan kept per session (plan_cache_mode): as a
-- SQL function it was planned again at every call (0.31 ms of a feeder trip).
CREATE OR REPLACE FUNCTION oms_supplied_meters(p_substation_id uuid, p_feeder_id uuid)
RETURNS TABLE (priority integer, meter_id uuid, meter_number text, customer_id uuid, power_status text,
               communication_status text, last_communication timestamptz, location_lat double precision,
               location_lng double precision)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_mergejoin = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH links AS (
        SELECT l.meter_id, l.priority FROM network_feeder_meters l
         WHERE p_feeder_id IS NOT NULL AND l.feeder_id = p_feeder_id
        UNION ALL
        SELECT l.meter_id, l.priority FROM network_substation_meters l
         WHERE p_feeder_id IS NULL AND l.substation_id = p_substation_id
    ),
    own AS (
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
    SELECT l.priority, coalesce(o.id, x.id), coalesce(o.meter_number, x.meter_number),
           coalesce(o.customer_id, x.customer_id), coalesce(o.power_status, x.power_status),
           coalesce(o.communication_status, x.communication_status),
           coalesce(o.last_communication, x.last_communication),
           coalesce(o.location_lat, x.location_lat), coalesce(o.location_lng, x.location_lng)
      FROM links l
      LEFT JOIN own o ON o.id = l.meter_id
      LEFT JOIN LATERAL (
               SELECT m.id, m.meter_number, m.customer_id, m.power_status, m.communication_status,
                      m.last_communication, m.location_lat, m.location_lng
                 FROM oms_meters m
                WHERE o.id IS NULL AND m.id = l.meter_id AND m.status = 'active'
               OFFSET 0) x ON true
     WHERE o.id IS NOT NULL OR x.id IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION oms_supplied_meters(uuid, uuid) IS
    'Active meters mapped to a substation (feeder NULL) or a feeder, with their link priority.';

-- The seed's meter lookups, by business id, most important (lowest priority) first.
CREATE OR REPLACE FUNCTION get_meters_by_substation(p_substation_id text)
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
COMMENT ON FUNCTION get_meters_by_substation(text) IS
    'The seeds lookup: the active meters a substation (business id) supplies, most important first.';

CREATE OR REPLACE FUNCTION get_meters_by_feeder(p_feeder_id text)
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
COMMENT ON FUNCTION get_meters_by_feeder(text) IS
    'The seeds lookup: the active meters a feeder (business id) supplies, most important first.';

-- ---------------------------------------------------------------------------
-- The check.

-- The seed's table of checked meters, one row per meter a SCADA event checked,
-- read from the check's one row (scada_event_checks, versioned/0108: one row
-- per check, its meters in parallel arrays; writing 10,000 rows with their keys
-- cost most of a substation event). Same columns, in the same order, as the
-- table it replaces.
CREATE OR REPLACE VIEW scada_event_affected_meters AS
SELECT c.scada_event_id, u.meter_id, u.meter_status_before, u.meter_status_after, c.checked_at, u.check_result
  FROM scada_event_checks c
 CROSS JOIN LATERAL unnest(c.meter_ids, c.statuses_before, c.statuses_after, c.check_results)
       AS u(meter_id, meter_status_before, meter_status_after, check_result);
COMMENT ON VIEW scada_event_affected_meters IS
    'Meters checked by a SCADA event, with their power status before and after (one row per element of scada_event_checks).';

-- The seed's check: the meters in scope, each classified at the event's time,
-- offline ones set off, one outage opened or joined. The event must be stored
-- first: the outage it opens links back to it. A second call for the same
-- event reports what was found then and changes nothing.
CREATE OR REPLACE FUNCTION process_scada_event_meters(
    p_scada_event_id   uuid,
    p_substation_id    text,
    p_feeder_id        text,
    p_event_timestamp  timestamptz
) RETURNS TABLE (total_meters integer, offline_meters integer, online_meters integer, unknown_meters integer,
                 outage_event_id uuid)
LANGUAGE plpgsql
-- The check's cost must follow the size of the outage, not of the network:
-- reach meters through indexes even where the planner would guess a scan of
-- the registry cheaper (it does on small networks). Applies to everything
-- this function runs. JIT off: the penalty enable_seqscan puts on the costs
-- would otherwise trigger JIT compilation (tens of ms) for tiny statements.
SET enable_seqscan = off
SET jit = off
-- One generic plan, not re-planned per call (measured: 5.1 -> 4.2 ms per feeder trip).
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_event        scada_events;
    v_substation   network_substations;
    v_feeder       network_feeders;
    v_feeder_code  text := nullif(btrim(p_feeder_id), '');
    v_confidence   numeric := oms_setting_numeric('scada.confidence');
    v_total        integer;
    v_offline      integer;
    v_online       integer;
    v_unknown      integer;
    v_offline_ids  uuid[];
    v_timeout      interval := oms_setting_interval_minutes('meter.communication_timeout_minutes');
    v_outage       oms_outage_events;
    v_joined       boolean := false;
    v_cause        text;
    v_holds_apart  boolean;
    v_state        text;
BEGIN
    SELECT * INTO v_event FROM scada_events WHERE id = p_scada_event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown SCADA event %: store it first (insert_scada_event_from_json)', p_scada_event_id
            USING ERRCODE = 'no_data_found';
    END IF;

    -- Checked before: report what was found then, change nothing.
    IF v_event.meters_checked_at IS NOT NULL THEN
        RETURN QUERY
        SELECT coalesce(max(c.total_meters), 0), coalesce(max(c.offline_meters), 0),
               coalesce(max(c.online_meters), 0), coalesce(max(c.unknown_meters), 0), v_event.outage_event_id
          FROM scada_event_checks c
         WHERE c.scada_event_id = p_scada_event_id;
        RETURN;
    END IF;

    SELECT * INTO v_substation FROM network_substations s WHERE s.substation_id = btrim(p_substation_id);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0, 0, 0, NULL::uuid;
        RETURN;
    END IF;
    IF v_feeder_code IS NOT NULL THEN
        SELECT * INTO v_feeder FROM network_feeders f WHERE f.feeder_id = v_feeder_code;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 0, 0, 0, 0, NULL::uuid;
            RETURN;
        END IF;
        IF v_feeder.substation_id <> v_substation.id THEN
            RAISE EXCEPTION 'feeder % belongs to substation %, not to substation %', v_feeder_code,
                (SELECT s.substation_id FROM network_substations s WHERE s.id = v_feeder.substation_id),
                v_substation.substation_id
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'feederId';
        END IF;
    END IF;

    -- The engine's locks (06_correlation.sql): the substation shared and the
    -- feeder exclusive, or the substation exclusive: two trips on a device
    -- cannot both open an outage.
    PERFORM oms_lock_device(v_substation.id, v_feeder.id);

    -- One statement: the meters in scope (oms_supplied_meters), each
    -- classified at the event's time; offline ones set off (those not already
    -- off; late events audited, not applied); the check's row with each
    -- meter's status before and after; the counts and the offline meters.
    WITH checked AS MATERIALIZED (
        SELECT m.meter_id AS id, m.power_status,
               oms_classify_meter(m.power_status, m.communication_status, m.last_communication,
                                  p_event_timestamp, v_timeout) AS result
          FROM oms_supplied_meters(v_substation.id, v_feeder.id) m
    ),
    offline AS MATERIALIZED (
        SELECT coalesce(array_agg(c.id), '{}') AS ids FROM checked c WHERE c.result = 'offline'
    ),
    switched_off AS (
        SELECT s.meter_id, s.applied
          FROM oms_apply_meter_status(
                   (SELECT o.ids FROM offline o),
                   'power_status', 'off', 'power_off', 'scada', p_scada_event_id::text, p_event_timestamp,
                   v_confidence,
                   jsonb_build_object('substation_id', v_substation.substation_id, 'feeder_id', v_feeder_code,
                                      'event_type', v_event.event_type, 'alarm_type', v_event.alarm_type),
                   true) s
    ),
    recorded AS (
        INSERT INTO scada_event_checks (scada_event_id, total_meters, offline_meters, online_meters, unknown_meters,
                                        meter_ids, statuses_before, statuses_after, check_results)
        SELECT p_scada_event_id, count(*),
               count(*) FILTER (WHERE c.result = 'offline'),
               count(*) FILTER (WHERE c.result = 'online'),
               count(*) FILTER (WHERE c.result = 'unknown'),
               coalesce(array_agg(c.id), '{}'),
               coalesce(array_agg(c.power_status), '{}'),
               coalesce(array_agg(CASE WHEN s.applied THEN 'off' ELSE c.power_status END), '{}'),
               coalesce(array_agg(c.result), '{}')
          FROM checked c LEFT JOIN switched_off s ON s.meter_id = c.id
        RETURNING total_meters, offline_meters, online_meters, unknown_meters
    )
    SELECT r.total_meters, r.offline_meters, r.online_meters, r.unknown_meters, o.ids
      INTO v_total, v_offline, v_online, v_unknown, v_offline_ids
      FROM recorded r, offline o;

    -- Telemetry wins (20_device_telemetry.sql): a message saying the device is
    -- out confirms the device's outage, covering every meter under it, whatever
    -- the check found; the meters found offline are its own evidence.
    v_state := oms_scada_state(v_event.event_type, v_event.alarm_type);
    IF v_state IN ('open', 'locked_out', 'de_energized') THEN
        v_outage.id := oms_device_state_apply(v_event, v_state, v_substation.id, v_feeder.id);
        UPDATE scada_events e
           SET outage_event_id = coalesce(v_outage.id, e.outage_event_id), affected_meter_count = v_offline,
               meters_checked_at = now()
         WHERE e.id = p_scada_event_id;
        IF v_outage.id IS NOT NULL AND v_offline > 0 THEN
            v_holds_apart := oms_outage_holds_apart(v_outage.id);
            -- The meters found offline are the outage's own evidence (rows), but those
            -- held apart from it (19_outage_engine.sql: they stay with their outages).
            INSERT INTO oms_outage_meters AS om (outage_event_id, meter_id, source_type, first_evidence_at,
                                                 last_evidence_at, reported)
            SELECT v_outage.id, a.meter_id, 'scada', p_event_timestamp, p_event_timestamp, true
              FROM unnest(v_offline_ids) AS a(meter_id)
             WHERE v_holds_apart IS FALSE
                OR NOT EXISTS (SELECT 1 FROM oms_outage_apart_meters(v_outage.id) x WHERE x.meter_id = a.meter_id)
            ON CONFLICT (outage_event_id, meter_id) DO UPDATE SET reported = true, source_type = 'scada'
             WHERE NOT om.reported;
        END IF;
        RETURN QUERY SELECT v_total, v_offline, v_online, v_unknown, v_outage.id;
        RETURN;
    END IF;

    IF v_offline > 0 THEN
        -- Not a device state (a critical alarm scada_state_words does not know):
        -- join the active outage of this feeder, or of the whole substation.
        SELECT o.* INTO v_outage FROM oms_outage_events o
         WHERE o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.dp_id IS NULL
           AND ((v_feeder.id IS NOT NULL AND o.feeder_id = v_feeder.id)
                OR (o.substation_id = v_substation.id AND o.feeder_id IS NULL))
         ORDER BY o.first_detected_at DESC
         LIMIT 1
           FOR UPDATE;
        v_joined := FOUND;

        IF NOT v_joined THEN
            v_cause := CASE WHEN v_feeder.id IS NOT NULL
                            THEN format('%s on feeder %s at substation %s', coalesce(v_event.alarm_type, v_event.event_type),
                                        v_feeder.feeder_id, v_substation.substation_id)
                            ELSE format('%s at substation %s', coalesce(v_event.alarm_type, v_event.event_type),
                                        v_substation.substation_id) END
                       || coalesce(': ' || v_event.reason, '');
            INSERT INTO oms_outage_events (event_id, event_type, status, basis, severity, confidence_score, root_cause,
                                           description, substation_id, feeder_id, event_latitude, event_longitude,
                                           first_detected_at)
            VALUES (format('OMS_SCADA_%s_%s', floor(extract(epoch FROM p_event_timestamp))::bigint,
                           left(md5(p_scada_event_id::text), 8)),
                    'outage', 'detected', 'evidence',
                    CASE oms_normalize_code(v_event.severity)
                        WHEN 'critical' THEN 'critical' WHEN 'high' THEN 'high' WHEN 'major' THEN 'high'
                        WHEN 'medium' THEN 'medium' WHEN 'minor' THEN 'medium' WHEN 'low' THEN 'low'
                        WHEN 'warning' THEN 'low' ELSE 'high' END,
                    v_confidence, v_cause,
                    format('SCADA %s (%s): %s of %s checked meters without power',
                           v_event.event_type, coalesce(v_event.alarm_type, 'no alarm type'), v_offline, v_total),
                    v_substation.id, v_feeder.id,
                    coalesce(v_event.latitude, v_feeder.location_lat, v_substation.location_lat),
                    coalesce(v_event.longitude, v_feeder.location_lng, v_substation.location_lng),
                    p_event_timestamp)
            RETURNING * INTO v_outage;
        END IF;

        UPDATE scada_events e
           SET outage_event_id = v_outage.id, affected_meter_count = v_offline, meters_checked_at = now()
         WHERE e.id = p_scada_event_id;

        -- The outage covers the meters found offline; the event is one piece of evidence.
        INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at)
        SELECT v_outage.id, a.meter_id, 'scada', p_event_timestamp, p_event_timestamp
          FROM unnest(v_offline_ids) AS a(meter_id)
        ON CONFLICT DO NOTHING;

        INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table,
                                       correlation_weight, detected_at)
        VALUES (v_outage.id, 'scada', p_scada_event_id::text, 'scada_events', v_confidence, p_event_timestamp)
        ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING;

        INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
        VALUES (v_outage.id,
                CASE WHEN v_joined THEN 'evidence_linked' ELSE 'outage_opened' END,
                v_outage.status,
                CASE WHEN v_joined
                     THEN format('SCADA %s at %s%s joined: %s meters checked, %s offline', v_event.event_type,
                                 v_substation.substation_id, coalesce('/' || v_feeder.feeder_id, ''), v_total, v_offline)
                     ELSE format('Opened from SCADA %s at %s%s: %s of %s meters offline', v_event.event_type,
                                 v_substation.substation_id, coalesce('/' || v_feeder.feeder_id, ''),
                                 v_offline, v_total) END,
                'scada', p_event_timestamp,
                jsonb_build_object('scada_event_id', p_scada_event_id, 'total_meters', v_total,
                                   'offline_meters', v_offline));

        -- Confidence, status and size from all the outage's evidence (06_correlation.sql).
        PERFORM oms_refresh_outages(ARRAY[v_outage.id], p_event_timestamp, false);
    ELSE
        UPDATE scada_events e SET affected_meter_count = 0, meters_checked_at = now() WHERE e.id = p_scada_event_id;
    END IF;

    RETURN QUERY SELECT v_total, v_offline, v_online, v_unknown, v_outage.id;
END;
$$;
COMMENT ON FUNCTION process_scada_event_meters(uuid, text, text, timestamptz) IS
    'Checks the meters under a feeder (or a substation), sets offline ones off, and opens or joins an outage.';

-- The seed's main entry: stores the message, decides whether it can be checked
-- (oms_scada_unchecked_reason), checks it, and keeps the answer
-- (scada_events.check_result) for repeats.
CREATE OR REPLACE FUNCTION insert_scada_event_with_meter_check(p_event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_stored    record;
    v_event     scada_events;
    v_result    jsonb;
    v_check     record;
    v_reason    text;
    v_previous  jsonb;
    v_outage    uuid;
BEGIN
    SELECT * INTO v_stored FROM oms_store_scada_event(p_event);
    SELECT * INTO v_event FROM scada_events WHERE id = v_stored.scada_event_id;
    IF v_event.check_result IS NOT NULL THEN
        IF (v_event.check_result ->> 'meters_checked')::boolean IS NOT FALSE THEN
            RETURN v_event.check_result || '{"duplicate": true}';
        END IF;
        -- Stored without a check. Two repeats at once: one checks, the other waits here and finds it done.
        SELECT * INTO v_event FROM scada_events WHERE id = v_event.id FOR UPDATE;
        IF (v_event.check_result ->> 'meters_checked')::boolean IS NOT FALSE THEN
            RETURN v_event.check_result || '{"duplicate": true}';
        END IF;
        v_reason := oms_scada_unchecked_reason(v_event);
        IF v_reason IS NOT NULL THEN
            -- Still not checkable: a repeat, with the reason as it stands now.
            IF v_reason IS DISTINCT FROM v_event.check_result ->> 'reason' THEN
                UPDATE scada_events SET check_result = check_result || jsonb_build_object('reason', v_reason)
                 WHERE id = v_event.id
                RETURNING check_result INTO v_event.check_result;
            END IF;
            RETURN v_event.check_result || '{"duplicate": true}';
        END IF;
        v_previous := v_event.check_result;
    ELSE
        v_reason := oms_scada_unchecked_reason(v_event);
        IF v_reason IS NOT NULL THEN
            -- Not checked (e.g. a reclose, a close): its device state still applies.
            v_outage := oms_apply_device_state(v_event.id);
            v_result := jsonb_build_object(
                'scada_event_id', v_event.id, 'meters_checked', false, 'reason', v_reason,
                'substation_id', v_event.substation_id, 'feeder_id', v_event.feeder_id,
                'total_meters', 0, 'offline_meters', 0, 'online_meters', 0, 'unknown_meters', 0,
                'outage_event_id', v_outage,
                'device_state', oms_scada_state(v_event.event_type, v_event.alarm_type));
            UPDATE scada_events SET check_result = v_result WHERE id = v_event.id;
            RETURN v_result;
        END IF;
    END IF;

    SELECT * INTO v_check
      FROM process_scada_event_meters(v_event.id, v_event.substation_id, v_event.feeder_id, v_event.event_timestamp);
    v_result := jsonb_build_object(
        'scada_event_id', v_event.id,
        'meters_checked', true,
        'scope', CASE WHEN v_event.feeder_id IS NULL THEN 'substation' ELSE 'feeder' END,
        'substation_id', v_event.substation_id,
        'feeder_id', v_event.feeder_id,
        'total_meters', v_check.total_meters,
        'offline_meters', v_check.offline_meters,
        'online_meters', v_check.online_meters,
        'unknown_meters', v_check.unknown_meters,
        'outage_event_id', v_check.outage_event_id,
        'outage_event_code', (SELECT o.event_id FROM oms_outage_events o WHERE o.id = v_check.outage_event_id),
        'device_state', oms_scada_state(v_event.event_type, v_event.alarm_type));
    IF v_previous IS NOT NULL THEN
        v_result := v_result || jsonb_build_object('rechecked', true, 'previous_reason', v_previous ->> 'reason');
    END IF;
    UPDATE scada_events SET check_result = v_result WHERE id = v_event.id;
    RETURN v_result;
END;
$$;
COMMENT ON FUNCTION insert_scada_event_with_meter_check(jsonb) IS
    'Stores a SCADA event and, when critical, checks its meters and opens or joins an outage; a repeat of one stored unchecked is checked once it can be ("rechecked"); returns the summary as jsonb.';

-- SCADA events (a jsonb array) in one call and one transaction: each through
-- insert_scada_event_with_meter_check, one result per message, in order.
CREATE OR REPLACE FUNCTION insert_scada_events_with_meter_check(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_events, 'SCADA events');
    RETURN (SELECT coalesce(jsonb_agg(insert_scada_event_with_meter_check(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n));
END;
$$;
COMMENT ON FUNCTION insert_scada_events_with_meter_check(jsonb) IS
    'SCADA events (a jsonb array) in one transaction, each through insert_scada_event_with_meter_check; one result per message, in order.';
