-- 0016 Batch forms of the feed functions: a jsonb array of messages in one
-- call and one transaction, one result per message, in order.
--
--   insert_scada_events_with_meter_check(jsonb)      -> jsonb array
--   insert_onu_events_with_meter_sync(jsonb)         -> jsonb array
--   insert_kaifa_events_with_meter_sync(jsonb)       -> jsonb array
--   insert_callcenter_tickets_with_meter_link(jsonb) -> jsonb array
--
-- The ONU and KAIFA batches are set-based: messages that pass cheap checks are
-- stored by one INSERT (the others one by one through the store function, which
-- names the bad field), then matching, status changes, evidence and outage
-- refreshes run once for the whole batch (oms_sync_evidence); the
-- single-message functions are batches of one. The
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

-- ONU messages, set-based: the batch is validated and stored, then its meters
-- are matched, synced and correlated in one pass.
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
    -- 1. Store. Messages that pass cheap checks (plain strings, a serial of the
    -- right shape, a well-formed time, no location or alarm object to check) are
    -- stored by one INSERT; any other goes through oms_store_onu_event, which
    -- stores it or refuses it naming the field. A repeat finds the first.
    IF to_regclass('pg_temp.oms_onu_batch') IS NULL THEN
        CREATE TEMP TABLE oms_onu_batch (n bigint, message jsonb, fast boolean, event_id text, type text,
                                         onu_id text, serial text, created timestamptz, id uuid);
    END IF;
    TRUNCATE oms_onu_batch;
    INSERT INTO oms_onu_batch (n, message, fast, event_id, type, onu_id, serial)
    SELECT e.n, e.value,
           jsonb_typeof(e.value) = 'object'
           AND NOT EXISTS (SELECT 1 FROM jsonb_each(e.value) f WHERE jsonb_typeof(f.value) NOT IN ('string', 'null'))
           AND nullif(btrim(e.value ->> 'type'), '') IS NOT NULL
           AND coalesce(nullif(btrim(e.value ->> 'onuId'), ''), nullif(btrim(e.value ->> 'onuSerial'), '')) IS NOT NULL
           AND coalesce(upper(btrim(e.value ->> 'onuSerial')) ~ '^[A-Z]{4}[0-9A-F]{8}$', true)
           AND e.value ->> 'timestamp' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$',
           nullif(btrim(e.value ->> 'eventId'), ''), btrim(e.value ->> 'type'),
           nullif(btrim(e.value ->> 'onuId'), ''), nullif(upper(btrim(e.value ->> 'onuSerial')), '')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n);
    UPDATE oms_onu_batch b SET created = (b.message ->> 'timestamp')::timestamptz WHERE b.fast;

    INSERT INTO onu_events (source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp,
                            event_kind, raw)
    SELECT b.event_id, b.type, NULL, b.onu_id, b.serial, b.created, oms_onu_event_kind(b.type, NULL, NULL), b.message
      FROM oms_onu_batch b WHERE b.fast
    ON CONFLICT DO NOTHING;
    UPDATE oms_onu_batch b SET id = e.id
      FROM onu_events e
     WHERE b.fast
       AND ((b.event_id IS NOT NULL AND e.source_event_id = b.event_id)
            OR (b.event_id IS NULL AND e.source_event_id IS NULL AND coalesce(e.onu_id, '') = coalesce(b.onu_id, '')
                AND coalesce(e.onu_serial, '') = coalesce(b.serial, '') AND e.event_type = b.type
                AND e.alarm_name IS NULL AND e.event_timestamp = b.created));
    UPDATE oms_onu_batch b SET id = (SELECT s.onu_event_id FROM oms_store_onu_event(b.message) s)
     WHERE NOT b.fast;

    SELECT array_agg(b.id ORDER BY b.n), array_agg(ev.sync_result IS NOT NULL ORDER BY b.n)
      INTO v_ids, v_done
      FROM oms_onu_batch b LEFT JOIN onu_events ev ON ev.id = b.id;
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
                   'meters_matched', cardinality(x.meter_ids), 'meter_numbers', to_jsonb(x.numbers))
                   || oms_sync_summary(s.status_changes, s.late_changes, s.outage_event_ids, s.outages_opened)
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
    -- 1. Store. Messages that pass cheap checks (plain strings, a well-formed code
    -- and time, a meter identity) are stored by one INSERT; any other goes through
    -- oms_store_kaifa_event, which stores it or refuses it naming the field.
    IF to_regclass('pg_temp.oms_kaifa_batch') IS NULL THEN
        CREATE TEMP TABLE oms_kaifa_batch (n bigint, message jsonb, fast boolean, mrid text, type_ref text,
                                           asset text, point text, number text, created timestamptz, id uuid);
    END IF;
    TRUNCATE oms_kaifa_batch;
    INSERT INTO oms_kaifa_batch (n, message, fast, mrid, type_ref, asset, point, number, created)
    SELECT e.n, e.value,
           jsonb_typeof(e.value) = 'object'
           AND NOT EXISTS (SELECT 1 FROM jsonb_each(e.value) f
                            WHERE f.key NOT IN ('header', 'details', 'status', 'EndDeviceEventType', 'Assets', 'UsagePoint')
                              AND jsonb_typeof(f.value) NOT IN ('string', 'null'))
           AND coalesce(e.value ->> 'eventTypeRef', e.value #>> '{EndDeviceEventType,ref}') ~ '^\d+\.\d+\.\d+\.\d+$'
           AND coalesce(e.value ->> 'assetMRID', e.value #>> '{Assets,mRID}', e.value ->> 'usagePointMRID',
                        e.value #>> '{UsagePoint,mRID}', e.value ->> 'meterNumber') ~ '\S'
           AND e.value ->> 'createdDateTime' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$',
           nullif(btrim(e.value ->> 'mRID'), ''),
           coalesce(e.value ->> 'eventTypeRef', e.value #>> '{EndDeviceEventType,ref}'),
           nullif(btrim(coalesce(e.value ->> 'assetMRID', e.value #>> '{Assets,mRID}')), ''),
           nullif(btrim(coalesce(e.value ->> 'usagePointMRID', e.value #>> '{UsagePoint,mRID}')), ''),
           nullif(btrim(e.value ->> 'meterNumber'), ''),
           NULL
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n);
    UPDATE oms_kaifa_batch b SET created = (b.message ->> 'createdDateTime')::timestamptz WHERE b.fast;

    INSERT INTO kaifa_events (source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                              reason, severity, event_timestamp, source, event_meaning, raw, raw_message)
    SELECT b.mrid, nullif(btrim(b.message #>> '{header,messageID}'), ''), b.type_ref, b.asset, b.point, b.number,
           nullif(btrim(b.message ->> 'reason'), ''), nullif(btrim(b.message ->> 'severity'), ''), b.created,
           nullif(btrim(coalesce(b.message ->> 'source', b.message #>> '{header,source}')), ''),
           oms_kaifa_meaning(b.type_ref, nullif(btrim(coalesce(b.message ->> 'source', b.message #>> '{header,source}')), '')),
           b.message - 'rawXML', b.message ->> 'rawXML'
      FROM oms_kaifa_batch b WHERE b.fast
    ON CONFLICT DO NOTHING;
    UPDATE oms_kaifa_batch b SET id = e.id
      FROM kaifa_events e
     WHERE b.fast
       AND ((b.mrid IS NOT NULL AND e.source_event_id = b.mrid)
            OR (b.mrid IS NULL AND e.source_event_id IS NULL AND coalesce(e.asset_mrid, '') = coalesce(b.asset, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(b.point, '')
                AND coalesce(e.meter_number, '') = coalesce(b.number, '')
                AND e.event_type_code = b.type_ref AND e.event_timestamp = b.created));
    UPDATE oms_kaifa_batch b SET id = (SELECT s.kaifa_event_id FROM oms_store_kaifa_event(b.message) s)
     WHERE NOT b.fast;

    SELECT array_agg(b.id ORDER BY b.n), array_agg(ev.sync_result IS NOT NULL ORDER BY b.n)
      INTO v_ids, v_done
      FROM oms_kaifa_batch b LEFT JOIN kaifa_events ev ON ev.id = b.id;
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
                   'meter_numbers', CASE WHEN x.meter_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(x.meter_number) END)
                   || oms_sync_summary(s.status_changes, s.late_changes, s.outage_event_ids, s.outages_opened)
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
