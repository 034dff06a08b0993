-- 0016 Batch forms of the feed functions: a jsonb array of messages in one
-- call and one transaction, one result per message, in order.
--
--   insert_scada_events_with_meter_check(jsonb)      -> jsonb array
--   insert_onu_events_with_meter_sync(jsonb)         -> jsonb array
--   insert_kaifa_events_with_meter_sync(jsonb)       -> jsonb array
--   insert_callcenter_tickets_with_meter_link(jsonb) -> jsonb array
--
-- The ONU and KAIFA batches are set-based: each message is validated and
-- stored (one function call per message), then matching, status changes,
-- evidence and outage refreshes run once for the whole batch
-- (oms_sync_evidence); the single-message functions are batches of one. The
-- SCADA and call-center batches still run their single-message function per
-- message. Either way a batch is one call and one commit (durable when the
-- call returns). A message the database refuses fails the whole batch: the
-- service decodes messages first and, should a batch fail, falls back to one
-- call per message so that good messages still land.

CREATE FUNCTION oms_require_array(p_messages jsonb, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_messages IS NULL OR jsonb_typeof(p_messages) <> 'array' THEN
        RAISE EXCEPTION '%: expected a JSON array of messages, not %', p_what, coalesce(jsonb_typeof(p_messages), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;

CREATE FUNCTION insert_scada_events_with_meter_check(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_events, 'SCADA events');
    RETURN (SELECT coalesce(jsonb_agg(insert_scada_event_with_meter_check(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n));
END;
$$;

-- Which messages of a batch to process: the first occurrence of each stored
-- event that has no result yet; every other one answers as a duplicate.
CREATE FUNCTION oms_batch_plan(p_ids uuid[], p_done boolean[])
RETURNS TABLE (n bigint, id uuid, process boolean)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.n, x.id, NOT x.done AND x.n = min(x.n) OVER (PARTITION BY x.id)
      FROM unnest(p_ids, p_done) WITH ORDINALITY AS x(id, done, n)
$$;

-- ONU messages, set-based: each message is validated and stored, then the
-- batch's meters are matched, synced and correlated in one pass.
CREATE FUNCTION insert_onu_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_ids      uuid[];
    v_done     boolean[];
    v_process  uuid[];
BEGIN
    PERFORM oms_require_array(p_events, 'ONU events');
    -- 1. Store (and validate) each message; a repeat finds the first.
    SELECT array_agg(s.onu_event_id ORDER BY e.n), array_agg(ev.sync_result IS NOT NULL ORDER BY e.n)
      INTO v_ids, v_done
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n)
     CROSS JOIN LATERAL oms_store_onu_event(e.value) s
      LEFT JOIN onu_events ev ON ev.id = s.onu_event_id;
    IF v_ids IS NULL THEN
        RETURN '[]'::jsonb;
    END IF;
    SELECT array_agg(p.id) INTO v_process FROM oms_batch_plan(v_ids, v_done) p WHERE p.process;

    IF v_process IS NOT NULL THEN
        -- 2. Every active meter on each ONU; 3. sync and correlate them all; 4. record each outcome.
        WITH matched AS (
            SELECT e.id, e.source_event_id, e.event_kind, e.event_timestamp, e.onu_id, e.onu_serial, e.alarm_name,
                   e.event_type,
                   coalesce(array_agg(m.id ORDER BY m.meter_number) FILTER (WHERE m.id IS NOT NULL), ARRAY[]::uuid[]) AS meter_ids,
                   coalesce(array_agg(m.meter_number ORDER BY m.meter_number) FILTER (WHERE m.id IS NOT NULL), ARRAY[]::text[]) AS numbers
              FROM onu_events e
              LEFT JOIN oms_meters m ON m.status = 'active'
                                    AND ((e.onu_id IS NOT NULL AND m.onu_id = e.onu_id)
                                         OR (e.onu_serial IS NOT NULL AND m.onu_serial_no = e.onu_serial))
             WHERE e.id = ANY (v_process)
             GROUP BY e.id
        ),
        synced AS (
            SELECT s.* FROM oms_sync_evidence('onu', 'onu_events', ARRAY(
                SELECT ROW(coalesce(x.source_event_id, x.id::text), x.meter_ids, x.event_kind, x.event_timestamp,
                           format('ONU %s (%s)', coalesce(x.alarm_name, x.event_type), coalesce(x.onu_serial, x.onu_id)),
                           jsonb_build_object('onu_event_id', x.id, 'onu_id', x.onu_id, 'onu_serial', x.onu_serial)
                          )::oms_feed_item
                  FROM matched x)) s
        )
        UPDATE onu_events e
           SET meter_id = x.meter_ids[1],
               match_status = CASE WHEN cardinality(x.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END,
               meters_matched = cardinality(x.meter_ids),
               outage_event_id = s.outage_event_ids[1],
               sync_result = jsonb_build_object(
                   'onu_event_id', x.id, 'kind', x.event_kind,
                   'match_status', CASE WHEN cardinality(x.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END,
                   'meters_matched', cardinality(x.meter_ids), 'meter_numbers', to_jsonb(x.numbers),
                   'status_changes', s.status_changes, 'late_changes', s.late_changes,
                   'outage_event_ids', to_jsonb(s.outage_event_ids), 'outages_opened', s.outages_opened)
          FROM matched x JOIN synced s ON s.source_event_id = coalesce(x.source_event_id, x.id::text)
         WHERE e.id = x.id;
    END IF;

    -- 5. One result per message, in order; every message not processed now is a repeat.
    RETURN (SELECT jsonb_agg(CASE WHEN p.process THEN e.sync_result ELSE e.sync_result || '{"duplicate": true}' END
                             ORDER BY p.n)
              FROM oms_batch_plan(v_ids, v_done) p JOIN onu_events e ON e.id = p.id);
END;
$$;
COMMENT ON FUNCTION insert_onu_events_with_meter_sync(jsonb) IS
    'ONU messages (a jsonb array), set-based: stored, every meter on each ONU synced, outages linked; one result per message.';

-- KAIFA EndDeviceEvents, set-based, like the ONU batch.
CREATE FUNCTION insert_kaifa_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_ids      uuid[];
    v_done     boolean[];
    v_process  uuid[];
BEGIN
    PERFORM oms_require_array(p_events, 'KAIFA events');
    SELECT array_agg(s.kaifa_event_id ORDER BY e.n), array_agg(ev.sync_result IS NOT NULL ORDER BY e.n)
      INTO v_ids, v_done
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n)
     CROSS JOIN LATERAL oms_store_kaifa_event(e.value) s
      LEFT JOIN kaifa_events ev ON ev.id = s.kaifa_event_id;
    IF v_ids IS NULL THEN
        RETURN '[]'::jsonb;
    END IF;
    SELECT array_agg(p.id) INTO v_process FROM oms_batch_plan(v_ids, v_done) p WHERE p.process;

    IF v_process IS NOT NULL THEN
        -- The meter: asset mRID, else usage point (its newest active meter), else meter number.
        WITH matched AS (
            SELECT e.id, e.source_event_id, e.event_type_code, e.event_meaning, e.event_timestamp,
                   coalesce(a.id, u.id, n.id) AS meter_id,
                   coalesce(a.meter_number, u.meter_number, n.meter_number) AS meter_number,
                   CASE WHEN a.id IS NOT NULL THEN 'asset_mrid' WHEN u.id IS NOT NULL THEN 'usage_point_mrid'
                        WHEN n.id IS NOT NULL THEN 'meter_number' END AS matched_by,
                   CASE WHEN e.event_meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored')
                        THEN e.event_meaning ELSE 'none' END AS kind
              FROM kaifa_events e
              LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                                  WHERE e.asset_mrid IS NOT NULL AND m.asset_mrid = e.asset_mrid
                                    AND m.status = 'active') a ON true
              LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                                  WHERE a.id IS NULL AND e.usage_point_mrid IS NOT NULL
                                    AND m.usage_point_mrid = e.usage_point_mrid AND m.status = 'active'
                                  ORDER BY m.updated_at DESC LIMIT 1) u ON true
              LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                                  WHERE a.id IS NULL AND u.id IS NULL AND e.meter_number IS NOT NULL
                                    AND m.meter_number = e.meter_number AND m.status = 'active') n ON true
             WHERE e.id = ANY (v_process)
        ),
        synced AS (
            SELECT s.* FROM oms_sync_evidence('kaifa', 'kaifa_events', ARRAY(
                SELECT ROW(coalesce(x.source_event_id, x.id::text),
                           CASE WHEN x.meter_id IS NULL THEN ARRAY[]::uuid[] ELSE ARRAY[x.meter_id] END,
                           x.kind, x.event_timestamp, format('AMI %s (%s)', x.event_type_code, x.event_meaning),
                           jsonb_build_object('kaifa_event_id', x.id, 'event_type_code', x.event_type_code)
                          )::oms_feed_item
                  FROM matched x)) s
        )
        UPDATE kaifa_events e
           SET meter_id = x.meter_id, matched_by = x.matched_by,
               match_status = CASE WHEN x.meter_id IS NULL THEN 'unmatched' ELSE 'matched' END,
               meters_matched = CASE WHEN x.meter_id IS NULL THEN 0 ELSE 1 END,
               outage_event_id = s.outage_event_ids[1],
               sync_result = jsonb_build_object(
                   'kaifa_event_id', x.id, 'kind', x.kind, 'meaning', x.event_meaning,
                   'event_type_code', x.event_type_code,
                   'match_status', CASE WHEN x.meter_id IS NULL THEN 'unmatched' ELSE 'matched' END,
                   'matched_by', x.matched_by,
                   'meters_matched', CASE WHEN x.meter_id IS NULL THEN 0 ELSE 1 END,
                   'meter_numbers', CASE WHEN x.meter_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(x.meter_number) END,
                   'status_changes', s.status_changes, 'late_changes', s.late_changes,
                   'outage_event_ids', to_jsonb(s.outage_event_ids), 'outages_opened', s.outages_opened)
          FROM matched x JOIN synced s ON s.source_event_id = coalesce(x.source_event_id, x.id::text)
         WHERE e.id = x.id;
    END IF;

    RETURN (SELECT jsonb_agg(CASE WHEN p.process THEN e.sync_result ELSE e.sync_result || '{"duplicate": true}' END
                             ORDER BY p.n)
              FROM oms_batch_plan(v_ids, v_done) p JOIN kaifa_events e ON e.id = p.id);
END;
$$;
COMMENT ON FUNCTION insert_kaifa_events_with_meter_sync(jsonb) IS
    'KAIFA EndDeviceEvents (a jsonb array of the JSON form), set-based: stored, matched, synced, outages linked; one result each.';

CREATE FUNCTION insert_callcenter_tickets_with_meter_link(p_tickets jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_tickets, 'call-center tickets');
    RETURN (SELECT coalesce(jsonb_agg(insert_callcenter_ticket_from_json_with_meter_link(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_tickets) WITH ORDINALITY AS e(value, n));
END;
$$;

-- The single-message form: a batch of one.
CREATE FUNCTION insert_onu_event_from_json_with_meter_sync(p_event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT insert_onu_events_with_meter_sync(jsonb_build_array(p_event)) -> 0 $$;
COMMENT ON FUNCTION insert_onu_event_from_json_with_meter_sync(jsonb) IS
    'Stores an ONU message, syncs every meter on that ONU (dying gasp -> off, restore -> on, LOS -> communication) and links the outage.';

-- The single-message form: a batch of one.
CREATE FUNCTION insert_kaifa_event_from_json_with_meter_sync(p_event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT insert_kaifa_events_with_meter_sync(jsonb_build_array(p_event)) -> 0 $$;
COMMENT ON FUNCTION insert_kaifa_event_from_json_with_meter_sync(jsonb) IS
    'Stores one EndDeviceEvent, matches its meter (asset, usage point, number), applies its meaning and links the outage.';
