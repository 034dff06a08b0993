-- 0013 Meter evidence from the feeds, and the ONU feed.
--
--   oms_sync_meter_evidence()  what a feed event about some meters does:
--       power_off      -> power off, outage evidence
--       power_on       -> power on, communication online, heard from; restoration evidence
--       comm_lost      -> communication offline (power untouched; no outage)
--       comm_restored  -> communication online, heard from
--       call           -> outage evidence only (a customer's word changes no status)
--       none           -> recorded only (e.g. tamper)
--   Status changes go through oms_apply_meter_status (audited, event-time ordered,
--   confidence <source>.confidence); evidence through oms_link_meter_evidence.
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

-- Hearing from a meter at p_time: its last communication moves forward, never back.
CREATE FUNCTION oms_heard_from(p_meter_ids uuid[], p_time timestamptz) RETURNS void
LANGUAGE sql AS $$
    UPDATE oms_meters SET last_communication = p_time
     WHERE id = ANY (p_meter_ids) AND (last_communication IS NULL OR last_communication < p_time)
$$;

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
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_confidence  numeric := oms_source_confidence(p_source_type);
    v_applied     integer := 0;
    v_late        integer := 0;
    v_count_a     integer;
    v_count_l     integer;
    v_outages     uuid[];
    v_opened      integer := 0;
BEGIN
    IF p_kind NOT IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'call', 'none') THEN
        RAISE EXCEPTION 'unknown evidence kind "%"', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_meter_ids IS NULL OR cardinality(p_meter_ids) = 0 THEN
        RETURN jsonb_build_object('status_changes', 0, 'late_changes', 0, 'outage_event_ids', '[]'::jsonb,
                                  'outages_opened', 0);
    END IF;

    -- Status: each change audited; a change older than the meter's last is audited, not applied.
    IF p_kind IN ('power_off', 'power_on') THEN
        SELECT count(*) FILTER (WHERE a.applied), count(*) FILTER (WHERE NOT a.applied) INTO v_count_a, v_count_l
          FROM oms_apply_meter_status(p_meter_ids, 'power_status', CASE p_kind WHEN 'power_off' THEN 'off' ELSE 'on' END,
                                      p_kind, p_source_type, p_source_event_id, p_event_time, v_confidence,
                                      p_metadata, true) a;
        v_applied := v_applied + v_count_a;
        v_late := v_late + v_count_l;
    END IF;
    IF p_kind IN ('power_on', 'comm_lost', 'comm_restored') THEN
        SELECT count(*) FILTER (WHERE a.applied), count(*) FILTER (WHERE NOT a.applied) INTO v_count_a, v_count_l
          FROM oms_apply_meter_status(p_meter_ids, 'communication_status',
                                      CASE p_kind WHEN 'comm_lost' THEN 'offline' ELSE 'online' END,
                                      p_kind, p_source_type, p_source_event_id, p_event_time, v_confidence,
                                      p_metadata, true) a;
        v_applied := v_applied + v_count_a;
        v_late := v_late + v_count_l;
    END IF;
    IF p_kind IN ('power_on', 'comm_restored') THEN
        PERFORM oms_heard_from(p_meter_ids, p_event_time);
    END IF;

    -- Evidence: power loss and calls point at an outage; power back at its restoration.
    IF p_kind IN ('power_off', 'call', 'power_on') THEN
        SELECT array_agg(l.outage_event_id), count(*) FILTER (WHERE l.opened)
          INTO v_outages, v_opened
          FROM oms_link_meter_evidence(p_source_type, p_source_event_id, p_source_table, p_meter_ids, p_event_time,
                                       CASE WHEN p_kind = 'power_on' THEN 'restoration' ELSE 'outage' END,
                                       p_description) l;
    END IF;

    RETURN jsonb_build_object(
        'status_changes', v_applied,
        'late_changes', v_late,
        'outage_event_ids', coalesce(to_jsonb(v_outages), '[]'::jsonb),
        'outages_opened', coalesce(v_opened, 0));
END;
$$;
COMMENT ON FUNCTION oms_sync_meter_evidence(text, text, text, uuid[], text, timestamptz, text, jsonb) IS
    'What a feed event about meters does: status changes (audited, ordered) and outage or restoration evidence.';

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
    v_type := oms_json_text(p_message, 'type', c_context);
    IF v_type IS NULL THEN
        RAISE EXCEPTION '%: field "type" is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'type';
    END IF;
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
    IF p_message ? 'location' AND jsonb_typeof(p_message -> 'location') <> 'null' THEN
        IF jsonb_typeof(p_message -> 'location') <> 'object' THEN
            RAISE EXCEPTION '%: field "location" must be an object {"lat", "lng"}, not %', c_context,
                jsonb_typeof(p_message -> 'location')
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'location';
        END IF;
        v_lat := oms_json_number(p_message -> 'location', 'lat', c_context, 'location.lat');
        v_lng := oms_json_number(p_message -> 'location', 'lng', c_context, 'location.lng');
        IF v_lat IS NULL OR v_lat NOT BETWEEN -90 AND 90 THEN
            RAISE EXCEPTION '%: field "location.lat" %', c_context,
                coalesce('must be between -90 and 90, not ' || v_lat, 'is required')
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'location.lat';
        END IF;
        IF v_lng IS NULL OR v_lng NOT BETWEEN -180 AND 180 THEN
            RAISE EXCEPTION '%: field "location.lng" %', c_context,
                coalesce('must be between -180 and 180, not ' || v_lng, 'is required')
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'location.lng';
        END IF;
    END IF;

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

CREATE FUNCTION insert_onu_event_from_json_with_meter_sync(p_event jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_stored   record;
    v_event    onu_events;
    v_meters   uuid[];
    v_numbers  text[];
    v_sync     jsonb;
    v_result   jsonb;
BEGIN
    SELECT * INTO v_stored FROM oms_store_onu_event(p_event);
    SELECT * INTO v_event FROM onu_events WHERE id = v_stored.onu_event_id;
    IF v_event.sync_result IS NOT NULL THEN
        RETURN v_event.sync_result || '{"duplicate": true}';
    END IF;

    -- Every active meter on this ONU (an ONU may serve several premises).
    SELECT array_agg(m.id ORDER BY m.meter_number), array_agg(m.meter_number ORDER BY m.meter_number)
      INTO v_meters, v_numbers
      FROM oms_meters m
     WHERE m.status = 'active'
       AND ((v_event.onu_id IS NOT NULL AND m.onu_id = v_event.onu_id)
            OR (v_event.onu_serial IS NOT NULL AND m.onu_serial_no = v_event.onu_serial));

    v_sync := oms_sync_meter_evidence(
        'onu', coalesce(v_event.source_event_id, v_event.id::text), 'onu_events', v_meters, v_event.event_kind,
        v_event.event_timestamp,
        format('ONU %s (%s)', coalesce(v_event.alarm_name, v_event.event_type), coalesce(v_event.onu_serial, v_event.onu_id)),
        jsonb_build_object('onu_event_id', v_event.id, 'onu_id', v_event.onu_id, 'onu_serial', v_event.onu_serial));

    v_result := jsonb_build_object(
        'onu_event_id', v_event.id,
        'kind', v_event.event_kind,
        'match_status', CASE WHEN v_meters IS NULL THEN 'unmatched' ELSE 'matched' END,
        'meters_matched', coalesce(cardinality(v_meters), 0),
        'meter_numbers', coalesce(to_jsonb(v_numbers), '[]'::jsonb)) || v_sync;

    UPDATE onu_events
       SET meter_id = v_meters[1],
           match_status = CASE WHEN v_meters IS NULL THEN 'unmatched' ELSE 'matched' END,
           meters_matched = coalesce(cardinality(v_meters), 0),
           outage_event_id = (v_sync -> 'outage_event_ids' ->> 0)::uuid,
           sync_result = v_result
     WHERE id = v_event.id;
    RETURN v_result;
END;
$$;
COMMENT ON FUNCTION insert_onu_event_from_json_with_meter_sync(jsonb) IS
    'Stores an ONU message, syncs every meter on that ONU (dying gasp -> off, restore -> on, LOS -> communication) and links the outage.';

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
