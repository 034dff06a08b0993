-- 0017 ONU and KAIFA batches write each event once.
--
-- 0016 stored a batch's events, then matched, synced and correlated them, then
-- wrote each event's outcome back: two versions of every row, each with all of
-- the table's index entries. Here a batch is read and checked into a working
-- table first, repeats are found (stored before, or earlier in the batch), the
-- new events are matched, synced and correlated, and only then stored, with
-- their outcome, by one INSERT.
--
-- The same event delivered twice at the same moment by two sessions: the
-- second one's INSERT waits on the first one's unique key and, when that
-- commits, finds the event there; it then refuses the whole batch with
-- SQLSTATE 40001 (serialization_failure: nothing of it is written) and the
-- caller retries it, which answers the repeat as a duplicate. The service
-- retries by itself; a psql user sees "retry the batch".
--
-- Validation is one function per feed, used by both the store-only and the
-- batch forms:
--   oms_parse_kaifa_event(jsonb)  the columns of a KAIFA event, or an error naming the field
--   oms_parse_onu_event(jsonb)    the columns of an ONU message, or an error naming the field

-- The columns of one EndDeviceEvent (JSON form), checked; refuses naming the field.
CREATE FUNCTION oms_parse_kaifa_event(
    p_event jsonb,
    OUT source_event_id text, OUT message_id text, OUT event_type_code text, OUT asset_mrid text,
    OUT usage_point_mrid text, OUT meter_number text, OUT reason text, OUT severity text,
    OUT event_timestamp timestamptz, OUT source text, OUT event_meaning text, OUT raw jsonb, OUT raw_message text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c_context CONSTANT text := 'KAIFA event';
BEGIN
    IF p_event IS NULL OR jsonb_typeof(p_event) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(p_event), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    event_type_code := coalesce(oms_json_text(p_event, 'eventTypeRef', c_context),
                                CASE WHEN jsonb_typeof(p_event -> 'EndDeviceEventType') = 'object'
                                     THEN oms_json_text(p_event -> 'EndDeviceEventType', 'ref', c_context) END);
    IF event_type_code IS NULL THEN
        RAISE EXCEPTION '%: field "EndDeviceEventType.ref" is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'EndDeviceEventType.ref';
    END IF;
    IF event_type_code !~ '^\d+\.\d+\.\d+\.\d+$' THEN
        RAISE EXCEPTION '%: field "EndDeviceEventType.ref" must be a code type.domain.subdomain.eventOrAction (3.26.0.47), not "%"',
            c_context, event_type_code
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'EndDeviceEventType.ref';
    END IF;
    asset_mrid := coalesce(oms_json_text(p_event, 'assetMRID', c_context),
                           CASE WHEN jsonb_typeof(p_event -> 'Assets') = 'object'
                                THEN oms_json_text(p_event -> 'Assets', 'mRID', c_context) END);
    usage_point_mrid := coalesce(oms_json_text(p_event, 'usagePointMRID', c_context),
                                 CASE WHEN jsonb_typeof(p_event -> 'UsagePoint') = 'object'
                                      THEN oms_json_text(p_event -> 'UsagePoint', 'mRID', c_context) END);
    meter_number := oms_json_text(p_event, 'meterNumber', c_context);
    IF asset_mrid IS NULL AND usage_point_mrid IS NULL AND meter_number IS NULL THEN
        RAISE EXCEPTION '%: field "Assets.mRID" (or "UsagePoint.mRID", "meterNumber") is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'Assets.mRID';
    END IF;
    event_timestamp := oms_json_time(p_event, 'createdDateTime', c_context);
    source_event_id := oms_json_text(p_event, 'mRID', c_context);
    source := coalesce(oms_json_text(p_event, 'source', c_context),
                       CASE WHEN jsonb_typeof(p_event -> 'header') = 'object'
                            THEN oms_json_text(p_event -> 'header', 'source', c_context) END);
    message_id := CASE WHEN jsonb_typeof(p_event -> 'header') = 'object'
                       THEN oms_json_text(p_event -> 'header', 'messageID', c_context) END;
    reason := oms_json_text(p_event, 'reason', c_context);
    severity := oms_json_text(p_event, 'severity', c_context);
    event_meaning := oms_kaifa_meaning(event_type_code, source);
    raw := p_event - 'rawXML';
    raw_message := oms_json_text(p_event, 'rawXML', c_context);
END;
$$;
COMMENT ON FUNCTION oms_parse_kaifa_event(jsonb) IS
    'The columns of one EndDeviceEvent (JSON form), checked; refuses naming the field (SQLSTATE 22023, COLUMN).';

-- Store-only, now on the one parser.
CREATE OR REPLACE FUNCTION oms_store_kaifa_event(p_event jsonb, OUT kaifa_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT * INTO p FROM oms_parse_kaifa_event(p_event);
    INSERT INTO kaifa_events (source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                              reason, severity, event_timestamp, source, event_meaning, raw, raw_message)
    VALUES (p.source_event_id, p.message_id, p.event_type_code, p.asset_mrid, p.usage_point_mrid, p.meter_number,
            p.reason, p.severity, p.event_timestamp, p.source, p.event_meaning, p.raw, p.raw_message)
    ON CONFLICT DO NOTHING
    RETURNING id INTO kaifa_event_id;
    inserted := kaifa_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO kaifa_event_id FROM kaifa_events e
         WHERE (p.source_event_id IS NOT NULL AND e.source_event_id = p.source_event_id)
            OR (p.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.asset_mrid, '') = coalesce(p.asset_mrid, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(p.usage_point_mrid, '')
                AND coalesce(e.meter_number, '') = coalesce(p.meter_number, '')
                AND e.event_type_code = p.event_type_code AND e.event_timestamp = p.event_timestamp);
    END IF;
END;
$$;

-- The columns of one ONU message, checked; refuses naming the field.
CREATE FUNCTION oms_parse_onu_event(
    p_message jsonb,
    OUT source_event_id text, OUT event_type text, OUT alarm_name text, OUT onu_id text, OUT onu_serial text,
    OUT event_timestamp timestamptz, OUT latitude double precision, OUT longitude double precision,
    OUT event_kind text, OUT raw jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c_context CONSTANT text := 'ONU event';
    v_alarm  jsonb;
    v_state  text;
BEGIN
    IF p_message IS NULL OR jsonb_typeof(p_message) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(p_message), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    event_type := oms_json_required_text(p_message, 'type', c_context);
    onu_id := oms_json_text(p_message, 'onuId', c_context);
    onu_serial := upper(oms_json_text(p_message, 'onuSerial', c_context));
    IF onu_id IS NULL AND onu_serial IS NULL THEN
        RAISE EXCEPTION '%: field "onuId" or "onuSerial" is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'onuId';
    END IF;
    IF onu_serial IS NOT NULL AND onu_serial !~ '^[A-Z]{4}[0-9A-F]{8}$' THEN
        RAISE EXCEPTION '%: field "onuSerial" must be 4 letters of vendor id and 8 hex digits (HWTC1A2B3C4D), not "%"',
            c_context, onu_serial
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'onuSerial';
    END IF;
    source_event_id := oms_json_text(p_message, 'eventId', c_context);
    event_timestamp := oms_json_time(p_message, 'timestamp', c_context);
    IF p_message ? 'alarmData' AND jsonb_typeof(p_message -> 'alarmData') <> 'null' THEN
        v_alarm := p_message -> 'alarmData';
        IF jsonb_typeof(v_alarm) <> 'object' THEN
            RAISE EXCEPTION '%: field "alarmData" must be an object, not %', c_context, jsonb_typeof(v_alarm)
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'alarmData';
        END IF;
        alarm_name := coalesce(oms_json_text(v_alarm, 'alarmName', c_context), oms_json_text(v_alarm, 'alarm', c_context),
                               oms_json_text(v_alarm, 'name', c_context));
        v_state := coalesce(oms_json_text(v_alarm, 'state', c_context), oms_json_text(v_alarm, 'status', c_context));
    END IF;
    SELECT pt.lat, pt.lng INTO latitude, longitude FROM oms_json_point(p_message, 'location', c_context) pt;
    event_kind := oms_onu_event_kind(event_type, alarm_name, v_state);
    raw := p_message;
END;
$$;
COMMENT ON FUNCTION oms_parse_onu_event(jsonb) IS
    'The columns of one ONU message, checked; refuses naming the field (SQLSTATE 22023, COLUMN).';

-- Store-only, now on the one parser.
CREATE OR REPLACE FUNCTION oms_store_onu_event(p_message jsonb, OUT onu_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT * INTO p FROM oms_parse_onu_event(p_message);
    INSERT INTO onu_events (source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp,
                            latitude, longitude, event_kind, raw)
    VALUES (p.source_event_id, p.event_type, p.alarm_name, p.onu_id, p.onu_serial, p.event_timestamp,
            p.latitude, p.longitude, p.event_kind, p.raw)
    ON CONFLICT DO NOTHING
    RETURNING id INTO onu_event_id;
    inserted := onu_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO onu_event_id FROM onu_events e
         WHERE (p.source_event_id IS NOT NULL AND e.source_event_id = p.source_event_id)
            OR (p.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.onu_id, '') = coalesce(p.onu_id, '') AND coalesce(e.onu_serial, '') = coalesce(p.onu_serial, '')
                AND e.event_type = p.event_type AND coalesce(e.alarm_name, '') = coalesce(p.alarm_name, '')
                AND e.event_timestamp = p.event_timestamp);
    END IF;
END;
$$;

-- Refuses a batch whose new events another session stored meanwhile (see the header).
CREATE FUNCTION oms_require_all_stored(p_stored integer, p_expected integer, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_stored < p_expected THEN
        RAISE EXCEPTION '%: % of this batch were stored by a concurrent delivery; retry the batch', p_what, p_expected - p_stored
            USING ERRCODE = 'serialization_failure';
    END IF;
END;
$$;

-- ONU messages, set-based, each event written once.
CREATE OR REPLACE FUNCTION insert_onu_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
BEGIN
    PERFORM oms_require_array(p_events, 'ONU events');
    IF to_regclass('pg_temp.oms_onu_staged') IS NULL THEN
        CREATE TEMP TABLE oms_onu_staged (
            n bigint, message jsonb, fast boolean, first_n bigint,
            id uuid, stored boolean NOT NULL DEFAULT false, process boolean NOT NULL DEFAULT false, result jsonb,
            source_event_id text, event_type text, alarm_name text, onu_id text, onu_serial text,
            event_timestamp timestamptz, latitude double precision, longitude double precision, event_kind text,
            meter_ids uuid[], numbers text[], outage_event_id uuid);
    END IF;
    TRUNCATE oms_onu_staged;

    -- 1. Read and check. Messages that pass cheap checks (plain strings, a serial of
    -- the right shape, a well-formed time) are read inline; any other by
    -- oms_parse_onu_event, which refuses it naming the field.
    INSERT INTO oms_onu_staged (n, message, fast, source_event_id, event_type, onu_id, onu_serial)
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
    UPDATE oms_onu_staged s
       SET event_timestamp = (s.message ->> 'timestamp')::timestamptz,
           event_kind = oms_onu_event_kind(s.event_type, NULL, NULL)
     WHERE s.fast;
    UPDATE oms_onu_staged s
       SET (source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp, latitude, longitude, event_kind)
         = (SELECT p.source_event_id, p.event_type, p.alarm_name, p.onu_id, p.onu_serial, p.event_timestamp,
                   p.latitude, p.longitude, p.event_kind
              FROM oms_parse_onu_event(s.message) p)
     WHERE NOT s.fast;

    -- 2. Repeats: the event id, else (ONU, type, alarm, time); stored before, or earlier in this batch.
    UPDATE oms_onu_staged s SET first_n = f.first_n
      FROM (SELECT x.n,
                   min(x.n) OVER (PARTITION BY coalesce('id:' || x.source_event_id,
                                                        concat_ws(E'\x1f', 'natural', coalesce(x.onu_id, ''),
                                                                  coalesce(x.onu_serial, ''), x.event_type,
                                                                  coalesce(x.alarm_name, ''), x.event_timestamp::text)))
                       AS first_n
              FROM oms_onu_staged x) f
     WHERE s.n = f.n;
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_onu_staged s
          JOIN onu_events e
            ON (s.source_event_id IS NOT NULL AND e.source_event_id = s.source_event_id)
            OR (s.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.onu_id, '') = coalesce(s.onu_id, '') AND coalesce(e.onu_serial, '') = coalesce(s.onu_serial, '')
                AND e.event_type = s.event_type AND coalesce(e.alarm_name, '') = coalesce(s.alarm_name, '')
                AND e.event_timestamp = s.event_timestamp)
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_onu_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;
    -- What to process: the first occurrence of each event not synced before.
    UPDATE oms_onu_staged s SET process = true, id = coalesce(s.id, gen_random_uuid())
     WHERE s.n = s.first_n AND s.result IS NULL;

    -- 3. Every active meter on each ONU; 4. sync and correlate them all; the outcome of each.
    UPDATE oms_onu_staged s SET meter_ids = x.meter_ids, numbers = x.numbers
      FROM (SELECT s2.n,
                   coalesce(array_agg(m.id ORDER BY m.meter_number) FILTER (WHERE m.id IS NOT NULL), ARRAY[]::uuid[]) AS meter_ids,
                   coalesce(array_agg(m.meter_number ORDER BY m.meter_number) FILTER (WHERE m.id IS NOT NULL), ARRAY[]::text[]) AS numbers
              FROM oms_onu_staged s2
              LEFT JOIN oms_meters m ON m.status = 'active'
                                    AND ((s2.onu_id IS NOT NULL AND m.onu_id = s2.onu_id)
                                         OR (s2.onu_serial IS NOT NULL AND m.onu_serial_no = s2.onu_serial))
             WHERE s2.process
             GROUP BY s2.n) x
     WHERE s.n = x.n;
    UPDATE oms_onu_staged s
       SET outage_event_id = y.outage_event_ids[1],
           result = jsonb_build_object(
               'onu_event_id', s.id, 'kind', s.event_kind,
               'match_status', CASE WHEN cardinality(s.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END,
               'meters_matched', cardinality(s.meter_ids), 'meter_numbers', to_jsonb(s.numbers))
               || oms_sync_summary(y.status_changes, y.late_changes, y.outage_event_ids, y.outages_opened)
      FROM oms_sync_evidence('onu', 'onu_events', ARRAY(
               SELECT ROW(coalesce(x.source_event_id, x.id::text), x.meter_ids, x.event_kind, x.event_timestamp,
                          format('ONU %s (%s)', coalesce(x.alarm_name, x.event_type), coalesce(x.onu_serial, x.onu_id)),
                          jsonb_build_object('onu_event_id', x.id, 'onu_id', x.onu_id, 'onu_serial', x.onu_serial)
                         )::oms_feed_item
                 FROM oms_onu_staged x WHERE x.process)) y
     WHERE s.process AND y.source_event_id = coalesce(s.source_event_id, s.id::text);

    -- 5. Store: new events with their outcome, in one INSERT; events stored before get it.
    SELECT count(*) INTO v_new FROM oms_onu_staged s WHERE s.process AND NOT s.stored;
    INSERT INTO onu_events (id, source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp,
                            latitude, longitude, event_kind, raw, meter_id, match_status, meters_matched,
                            outage_event_id, sync_result)
    SELECT s.id, s.source_event_id, s.event_type, s.alarm_name, s.onu_id, s.onu_serial, s.event_timestamp,
           s.latitude, s.longitude, s.event_kind, s.message, s.meter_ids[1],
           CASE WHEN cardinality(s.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END, cardinality(s.meter_ids),
           s.outage_event_id, s.result
      FROM oms_onu_staged s WHERE s.process AND NOT s.stored
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_stored = ROW_COUNT;
    PERFORM oms_require_all_stored(v_stored, v_new, 'ONU events');
    UPDATE onu_events e
       SET meter_id = s.meter_ids[1],
           match_status = CASE WHEN cardinality(s.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END,
           meters_matched = cardinality(s.meter_ids), outage_event_id = s.outage_event_id, sync_result = s.result
      FROM oms_onu_staged s
     WHERE s.process AND s.stored AND e.id = s.id;

    -- 6. One result per message, in order; a repeat answers with the first result.
    RETURN (SELECT coalesce(jsonb_agg(CASE WHEN s.process THEN s.result ELSE f.result || '{"duplicate": true}' END
                                      ORDER BY s.n), '[]'::jsonb)
              FROM oms_onu_staged s JOIN oms_onu_staged f ON f.n = s.first_n);
END;
$$;

-- KAIFA EndDeviceEvents, set-based, each event written once, like the ONU batch.
CREATE OR REPLACE FUNCTION insert_kaifa_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
BEGIN
    PERFORM oms_require_array(p_events, 'KAIFA events');
    IF to_regclass('pg_temp.oms_kaifa_staged') IS NULL THEN
        CREATE TEMP TABLE oms_kaifa_staged (
            n bigint, message jsonb, fast boolean, first_n bigint,
            id uuid, stored boolean NOT NULL DEFAULT false, process boolean NOT NULL DEFAULT false, result jsonb,
            source_event_id text, message_id text, event_type_code text, asset_mrid text, usage_point_mrid text,
            meter_number text, reason text, severity text, event_timestamp timestamptz, source text,
            event_meaning text, raw jsonb, raw_message text,
            kind text, meter_id uuid, matched_number text, matched_by text, outage_event_id uuid);
    END IF;
    TRUNCATE oms_kaifa_staged;

    -- 1. Read and check. Messages that pass cheap checks (plain strings, a
    -- well-formed code and time, a meter identity) are read inline; any other by
    -- oms_parse_kaifa_event, which refuses it naming the field.
    INSERT INTO oms_kaifa_staged (n, message, fast, source_event_id, message_id, event_type_code, asset_mrid,
                                  usage_point_mrid, meter_number, reason, severity, source, raw, raw_message)
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
           nullif(btrim(e.value #>> '{header,messageID}'), ''),
           coalesce(e.value ->> 'eventTypeRef', e.value #>> '{EndDeviceEventType,ref}'),
           nullif(btrim(coalesce(e.value ->> 'assetMRID', e.value #>> '{Assets,mRID}')), ''),
           nullif(btrim(coalesce(e.value ->> 'usagePointMRID', e.value #>> '{UsagePoint,mRID}')), ''),
           nullif(btrim(e.value ->> 'meterNumber'), ''),
           nullif(btrim(e.value ->> 'reason'), ''), nullif(btrim(e.value ->> 'severity'), ''),
           nullif(btrim(coalesce(e.value ->> 'source', e.value #>> '{header,source}')), ''),
           e.value - 'rawXML', e.value ->> 'rawXML'
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n);
    -- The meaning is looked up once per (code, head-end), not per event: a storm is one code.
    UPDATE oms_kaifa_staged s
       SET event_timestamp = (s.message ->> 'createdDateTime')::timestamptz, event_meaning = m.meaning
      FROM (SELECT x.event_type_code, x.source, oms_kaifa_meaning(x.event_type_code, x.source) AS meaning
              FROM oms_kaifa_staged x WHERE x.fast
             GROUP BY x.event_type_code, x.source) m
     WHERE s.fast AND s.event_type_code = m.event_type_code AND s.source IS NOT DISTINCT FROM m.source;
    UPDATE oms_kaifa_staged s
       SET (source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid, meter_number, reason, severity,
            event_timestamp, source, event_meaning, raw, raw_message)
         = (SELECT p.source_event_id, p.message_id, p.event_type_code, p.asset_mrid, p.usage_point_mrid,
                   p.meter_number, p.reason, p.severity, p.event_timestamp, p.source, p.event_meaning, p.raw,
                   p.raw_message
              FROM oms_parse_kaifa_event(s.message) p)
     WHERE NOT s.fast;

    -- 2. Repeats: the event mRID, else (meter identity, code, time); stored before, or earlier in this batch.
    UPDATE oms_kaifa_staged s
       SET first_n = f.first_n,
           kind = CASE WHEN s.event_meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored')
                       THEN s.event_meaning ELSE 'none' END
      FROM (SELECT x.n,
                   min(x.n) OVER (PARTITION BY coalesce('id:' || x.source_event_id,
                                                        concat_ws(E'\x1f', 'natural', coalesce(x.asset_mrid, ''),
                                                                  coalesce(x.usage_point_mrid, ''), coalesce(x.meter_number, ''),
                                                                  x.event_type_code, x.event_timestamp::text)))
                       AS first_n
              FROM oms_kaifa_staged x) f
     WHERE s.n = f.n;
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_kaifa_staged s
          JOIN kaifa_events e
            ON (s.source_event_id IS NOT NULL AND e.source_event_id = s.source_event_id)
            OR (s.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.asset_mrid, '') = coalesce(s.asset_mrid, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(s.usage_point_mrid, '')
                AND coalesce(e.meter_number, '') = coalesce(s.meter_number, '')
                AND e.event_type_code = s.event_type_code AND e.event_timestamp = s.event_timestamp)
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_kaifa_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;
    UPDATE oms_kaifa_staged s SET process = true, id = coalesce(s.id, gen_random_uuid())
     WHERE s.n = s.first_n AND s.result IS NULL;

    -- 3. The meter: asset mRID, else usage point (its newest active meter), else meter number.
    UPDATE oms_kaifa_staged s
       SET meter_id = coalesce(a.id, u.id, n.id),
           matched_number = coalesce(a.meter_number, u.meter_number, n.meter_number),
           matched_by = CASE WHEN a.id IS NOT NULL THEN 'asset_mrid' WHEN u.id IS NOT NULL THEN 'usage_point_mrid'
                             WHEN n.id IS NOT NULL THEN 'meter_number' END
      FROM oms_kaifa_staged x
      LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                          WHERE x.asset_mrid IS NOT NULL AND m.asset_mrid = x.asset_mrid
                            AND m.status = 'active') a ON true
      LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                          WHERE a.id IS NULL AND x.usage_point_mrid IS NOT NULL
                            AND m.usage_point_mrid = x.usage_point_mrid AND m.status = 'active'
                          ORDER BY m.updated_at DESC LIMIT 1) u ON true
      LEFT JOIN LATERAL (SELECT m.id, m.meter_number FROM oms_meters m
                          WHERE a.id IS NULL AND u.id IS NULL AND x.meter_number IS NOT NULL
                            AND m.meter_number = x.meter_number AND m.status = 'active') n ON true
     WHERE x.process AND s.n = x.n;

    -- 4. Sync and correlate them all; the outcome of each.
    UPDATE oms_kaifa_staged s
       SET outage_event_id = y.outage_event_ids[1],
           result = jsonb_build_object(
               'kaifa_event_id', s.id, 'kind', s.kind, 'meaning', s.event_meaning,
               'event_type_code', s.event_type_code,
               'match_status', CASE WHEN s.meter_id IS NULL THEN 'unmatched' ELSE 'matched' END,
               'matched_by', s.matched_by,
               'meters_matched', CASE WHEN s.meter_id IS NULL THEN 0 ELSE 1 END,
               'meter_numbers', CASE WHEN s.meter_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(s.matched_number) END)
               || oms_sync_summary(y.status_changes, y.late_changes, y.outage_event_ids, y.outages_opened)
      FROM oms_sync_evidence('kaifa', 'kaifa_events', ARRAY(
               SELECT ROW(coalesce(x.source_event_id, x.id::text),
                          CASE WHEN x.meter_id IS NULL THEN ARRAY[]::uuid[] ELSE ARRAY[x.meter_id] END,
                          x.kind, x.event_timestamp, format('AMI %s (%s)', x.event_type_code, x.event_meaning),
                          jsonb_build_object('kaifa_event_id', x.id, 'event_type_code', x.event_type_code)
                         )::oms_feed_item
                 FROM oms_kaifa_staged x WHERE x.process)) y
     WHERE s.process AND y.source_event_id = coalesce(s.source_event_id, s.id::text);

    -- 5. Store: new events with their outcome, in one INSERT; events stored before get it.
    SELECT count(*) INTO v_new FROM oms_kaifa_staged s WHERE s.process AND NOT s.stored;
    INSERT INTO kaifa_events (id, source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid,
                              meter_number, reason, severity, event_timestamp, source, event_meaning, raw, raw_message,
                              meter_id, matched_by, match_status, meters_matched, outage_event_id, sync_result)
    SELECT s.id, s.source_event_id, s.message_id, s.event_type_code, s.asset_mrid, s.usage_point_mrid,
           s.meter_number, s.reason, s.severity, s.event_timestamp, s.source, s.event_meaning, s.raw, s.raw_message,
           s.meter_id, s.matched_by, CASE WHEN s.meter_id IS NULL THEN 'unmatched' ELSE 'matched' END,
           CASE WHEN s.meter_id IS NULL THEN 0 ELSE 1 END, s.outage_event_id, s.result
      FROM oms_kaifa_staged s WHERE s.process AND NOT s.stored
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_stored = ROW_COUNT;
    PERFORM oms_require_all_stored(v_stored, v_new, 'KAIFA events');
    UPDATE kaifa_events e
       SET meter_id = s.meter_id, matched_by = s.matched_by,
           match_status = CASE WHEN s.meter_id IS NULL THEN 'unmatched' ELSE 'matched' END,
           meters_matched = CASE WHEN s.meter_id IS NULL THEN 0 ELSE 1 END,
           outage_event_id = s.outage_event_id, sync_result = s.result
      FROM oms_kaifa_staged s
     WHERE s.process AND s.stored AND e.id = s.id;

    -- 6. One result per message, in order; a repeat answers with the first result.
    RETURN (SELECT coalesce(jsonb_agg(CASE WHEN s.process THEN s.result ELSE f.result || '{"duplicate": true}' END
                                      ORDER BY s.n), '[]'::jsonb)
              FROM oms_kaifa_staged s JOIN oms_kaifa_staged f ON f.n = s.first_n);
END;
$$;
