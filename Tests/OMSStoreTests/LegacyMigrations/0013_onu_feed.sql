-- 0013 Meter evidence from the feeds, and the ONU feed.
--
--   oms_sync_evidence()  what feed events about meters do:
--       power_off      -> power off, outage evidence
--       power_on       -> power on, communication online, heard from; restoration evidence
--       comm_lost      -> communication offline (power untouched; no outage)
--       comm_restored  -> communication online, heard from
--       call           -> outage evidence only (a customer's word changes no status)
--       none           -> recorded only (e.g. tamper)
--   Status changes go through oms_apply_status_changes (audited, event-time ordered,
--   confidence <source>.confidence); evidence through oms_link_evidence. Any
--   number of events at once: oms_sync_evidence(); one: oms_sync_meter_evidence().
--
--   insert_onu_event_from_json(jsonb) -> uuid                      store only
--   insert_onu_event_from_json_with_meter_sync(jsonb) -> jsonb     store, match every meter on the ONU, sync, correlate
--
-- ONU messages, as the OLT side sends them:
--   {"type": "ONU_LastGaspAlert" | "ONU_PowerRestored" | "ONU_Alarm", "eventId", "onuId", "onuSerial",
--    "timestamp", "alarmData": {"alarmName": "DGi" | "LOSi" | ..., "state": "raised" | "cleared"},
--    "location": {"lat", "lng"}}
-- A dying gasp (DGi, ONU_DYING_GASP_EVENT) is a power loss; loss of signal
-- (LOS, LOSi) without a dying gasp is a fiber fault: communication only.

-- One feed event about some meters, for oms_sync_evidence().
CREATE TYPE oms_feed_item AS (
    source_event_id  text,
    meter_ids        uuid[],
    kind             text,
    event_time       timestamptz,
    description      text,
    metadata         jsonb
);

-- What many feed events about meters do, in a fixed number of statements:
-- their status changes (oms_apply_status_changes), the meters heard from, and
-- their outage or restoration evidence (oms_link_evidence). One row per event.
CREATE FUNCTION oms_sync_evidence(p_source_type text, p_source_table text, p_items oms_feed_item[])
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
CREATE FUNCTION oms_sync_summary(p_status_changes integer, p_late_changes integer, p_outage_event_ids uuid[],
                                 p_outages_opened integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('status_changes', p_status_changes, 'late_changes', p_late_changes,
                              'outage_event_ids', to_jsonb(p_outage_event_ids), 'outages_opened', p_outages_opened)
$$;

-- One feed event about some meters: a batch of one, as jsonb.
CREATE FUNCTION oms_sync_meter_evidence(
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

ALTER TABLE onu_events
    ADD COLUMN event_kind text NOT NULL DEFAULT 'none'
        CHECK (event_kind IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'none')),
    ADD COLUMN meters_matched integer NOT NULL DEFAULT 0,
    ADD COLUMN sync_result jsonb;
COMMENT ON COLUMN onu_events.event_kind IS 'What the alarm means for the premise (oms_onu_event_kind).';
COMMENT ON COLUMN onu_events.sync_result IS
    'What insert_onu_event_from_json_with_meter_sync() returned the first time: a repeat returns it again.';
CREATE UNIQUE INDEX onu_events_natural_key ON onu_events
    (coalesce(onu_id, ''), coalesce(onu_serial, ''), event_type, coalesce(alarm_name, ''), event_timestamp)
    WHERE source_event_id IS NULL;

-- The meaning of an ONU message: by type, else by alarm name and state.
CREATE FUNCTION oms_onu_event_kind(p_type text, p_alarm_name text, p_alarm_state text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN oms_normalize_code(p_type) IN ('onu_lastgaspalert', 'onu_last_gasp_alert', 'onu_dying_gasp_event',
                                            'onu_dyinggasp', 'dying_gasp') THEN 'power_off'
        WHEN oms_normalize_code(p_type) IN ('onu_powerrestored', 'onu_power_restored') THEN 'power_on'
        WHEN oms_normalize_code(p_type) IN ('onu_los_event', 'onu_loss_of_signal') THEN
             CASE WHEN oms_normalize_code(p_alarm_state) IN ('cleared', 'clear', 'recovered') THEN 'comm_restored'
                  ELSE 'comm_lost' END
        WHEN oms_normalize_code(p_alarm_name) IN ('dgi', 'dg', 'dying_gasp', 'dyinggasp', 'onu_dying_gasp') THEN
             CASE WHEN oms_normalize_code(p_alarm_state) IN ('cleared', 'clear', 'recovered') THEN 'power_on'
                  ELSE 'power_off' END
        WHEN oms_normalize_code(p_alarm_name) IN ('los', 'losi', 'lofi', 'loss_of_signal', 'lobi') THEN
             CASE WHEN oms_normalize_code(p_alarm_state) IN ('cleared', 'clear', 'recovered') THEN 'comm_restored'
                  ELSE 'comm_lost' END
        ELSE 'none'
    END
$$;

-- Stores an ONU message unless it is a repeat.
CREATE FUNCTION oms_store_onu_event(p_message jsonb, OUT onu_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c_context CONSTANT text := 'ONU event';
    v_type       text;
    v_onu_id     text;
    v_serial     text;
    v_source_id  text;
    v_time       timestamptz;
    v_alarm      jsonb;
    v_alarm_name text;
    v_state      text;
    v_lat        double precision;
    v_lng        double precision;
BEGIN
    IF p_message IS NULL OR jsonb_typeof(p_message) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(p_message), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_type := oms_json_required_text(p_message, 'type', c_context);
    v_onu_id := oms_json_text(p_message, 'onuId', c_context);
    v_serial := upper(oms_json_text(p_message, 'onuSerial', c_context));
    IF v_onu_id IS NULL AND v_serial IS NULL THEN
        RAISE EXCEPTION '%: field "onuId" or "onuSerial" is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'onuId';
    END IF;
    IF v_serial IS NOT NULL AND v_serial !~ '^[A-Z]{4}[0-9A-F]{8}$' THEN
        RAISE EXCEPTION '%: field "onuSerial" must be 4 letters of vendor id and 8 hex digits (HWTC1A2B3C4D), not "%"',
            c_context, v_serial
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'onuSerial';
    END IF;
    v_source_id := oms_json_text(p_message, 'eventId', c_context);
    v_time := oms_json_time(p_message, 'timestamp', c_context);
    IF p_message ? 'alarmData' AND jsonb_typeof(p_message -> 'alarmData') <> 'null' THEN
        v_alarm := p_message -> 'alarmData';
        IF jsonb_typeof(v_alarm) <> 'object' THEN
            RAISE EXCEPTION '%: field "alarmData" must be an object, not %', c_context, jsonb_typeof(v_alarm)
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'alarmData';
        END IF;
        v_alarm_name := coalesce(oms_json_text(v_alarm, 'alarmName', c_context), oms_json_text(v_alarm, 'alarm', c_context),
                                 oms_json_text(v_alarm, 'name', c_context));
        v_state := coalesce(oms_json_text(v_alarm, 'state', c_context), oms_json_text(v_alarm, 'status', c_context));
    END IF;
    SELECT pt.lat, pt.lng INTO v_lat, v_lng FROM oms_json_point(p_message, 'location', c_context) pt;

    INSERT INTO onu_events (source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp,
                            latitude, longitude, event_kind, raw)
    VALUES (v_source_id, v_type, v_alarm_name, v_onu_id, v_serial, v_time, v_lat, v_lng,
            oms_onu_event_kind(v_type, v_alarm_name, v_state), p_message)
    ON CONFLICT DO NOTHING
    RETURNING id INTO onu_event_id;
    inserted := onu_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO onu_event_id FROM onu_events e
         WHERE (v_source_id IS NOT NULL AND e.source_event_id = v_source_id)
            OR (v_source_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.onu_id, '') = coalesce(v_onu_id, '') AND coalesce(e.onu_serial, '') = coalesce(v_serial, '')
                AND e.event_type = v_type AND coalesce(e.alarm_name, '') = coalesce(v_alarm_name, '')
                AND e.event_timestamp = v_time);
    END IF;
END;
$$;

CREATE FUNCTION insert_onu_event_from_json(p_event jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT onu_event_id FROM oms_store_onu_event(p_event) $$;
COMMENT ON FUNCTION insert_onu_event_from_json(jsonb) IS
    'Stores an ONU message without touching meters; a repeat returns the first id.';

-- insert_onu_event_from_json_with_meter_sync(jsonb) is in 0016: a batch of one.

-- Feed events whose meter is not in the registry: kept, never dropped, and reported here.
CREATE VIEW oms_unmatched_feed_events AS
SELECT 'onu'::text AS source_type, e.id, e.source_event_id, e.event_timestamp,
       coalesce(e.onu_serial, e.onu_id) AS identifier, e.event_type, e.created_at
  FROM onu_events e WHERE e.match_status = 'unmatched'
UNION ALL
SELECT 'kaifa', e.id, e.source_event_id, e.event_timestamp,
       coalesce(e.asset_mrid, e.usage_point_mrid, e.meter_number), e.event_type_code, e.created_at
  FROM kaifa_events e WHERE e.match_status = 'unmatched'
UNION ALL
SELECT 'call_center', t.id, t.ticket_id, t.event_timestamp,
       coalesce(t.meter_number, t.customer_phone), coalesce(t.trouble_code, 'call'), t.created_at
  FROM callcenter_tickets t WHERE t.match_status = 'unmatched';
COMMENT ON VIEW oms_unmatched_feed_events IS
    'Feed events naming a meter the registry does not know: kept and reported (source, event, identifier given).';

CREATE INDEX onu_events_unmatched_idx ON onu_events (event_timestamp DESC) WHERE match_status = 'unmatched';
CREATE INDEX kaifa_events_unmatched_idx ON kaifa_events (event_timestamp DESC) WHERE match_status = 'unmatched';
CREATE INDEX callcenter_tickets_unmatched_idx ON callcenter_tickets (event_timestamp DESC) WHERE match_status = 'unmatched';
