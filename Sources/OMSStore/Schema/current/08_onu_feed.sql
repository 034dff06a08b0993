-- The ONU feed: GPON alarms from the OLT side (dying gasp, loss of signal,
-- recovery) change every meter on that ONU and are outage evidence.
--
--   insert_onu_event_from_json(jsonb) -> uuid                      store only
--   insert_onu_event_from_json_with_meter_sync(jsonb) -> jsonb     store, match every meter on the ONU, sync, correlate
--   insert_onu_events_with_meter_sync(jsonb) -> jsonb              the same for a jsonb array, set-based
--
-- Following one event: insert_onu_event_from_json_with_meter_sync (a batch of
-- one) -> insert_onu_events_with_meter_sync (here: read, match, store) ->
-- oms_sync_feed_items and oms_link_feed_evidence (06_correlation.sql) ->
-- oms_apply_status_changes (05_status.sql).
--
-- ONU messages, as the OLT side sends them:
--   {"type": "ONU_LastGaspAlert" | "ONU_PowerRestored" | "ONU_Alarm", "eventId", "onuId", "onuSerial",
--    "timestamp", "alarmData": {"alarmName": "DGi" | "LOSi" | ..., "state": "raised" | "cleared"},
--    "location": {"lat", "lng"}}
-- A dying gasp (DGi, ONU_DYING_GASP_EVENT) is a power loss; loss of signal
-- (LOS, LOSi) without a dying gasp is a fiber fault: communication only.
-- Matching: every active meter whose onu_id or onu_serial_no is the ONU's (an
-- ONU may serve several meters), but not one whose other identity names another
-- ONU when some meter agrees without such a conflict (two ONUs registered with
-- one serial). An ONU no meter carries is stored, unmatched, and reported
-- (oms_unmatched_feed_events).

-- The meaning of an ONU message: by type, else by alarm name and state.
CREATE OR REPLACE FUNCTION oms_onu_event_kind(p_type text, p_alarm_name text, p_alarm_state text) RETURNS text
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
COMMENT ON FUNCTION oms_onu_event_kind(text, text, text) IS
    'What an ONU message means for the premise: power_off, power_on, comm_lost, comm_restored or none.';

-- The columns of one ONU message, checked; refuses naming the field.
CREATE OR REPLACE FUNCTION oms_parse_onu_event(
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

-- Stores an ONU message unless it is a repeat (same eventId, whatever its month; without one, the
-- same ONU, type, alarm and time).
CREATE OR REPLACE FUNCTION oms_store_onu_event(p_message jsonb, OUT onu_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT * INTO p FROM oms_parse_onu_event(p_message);
    -- An id stored before, whatever the month of its event (oms_feed_event_ids).
    IF p.source_event_id IS NOT NULL THEN
        SELECT k.event_id INTO onu_event_id FROM oms_feed_event_ids k WHERE k.feed = 'onu' AND k.source_event_id = p.source_event_id;
        IF FOUND THEN
            inserted := false;
            RETURN;
        END IF;
    END IF;
    INSERT INTO onu_events (source_event_id, event_type, alarm_name, onu_id, onu_serial, event_timestamp,
                            latitude, longitude, event_kind, raw)
    VALUES (p.source_event_id, p.event_type, p.alarm_name, p.onu_id, p.onu_serial, p.event_timestamp,
            p.latitude, p.longitude, p.event_kind, p.raw)
    ON CONFLICT DO NOTHING
    RETURNING id INTO onu_event_id;
    inserted := onu_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO onu_event_id FROM onu_events e
         WHERE (p.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.onu_id, '') = coalesce(p.onu_id, '') AND coalesce(e.onu_serial, '') = coalesce(p.onu_serial, '')
                AND e.event_type = p.event_type AND coalesce(e.alarm_name, '') = coalesce(p.alarm_name, '')
                AND e.event_timestamp = p.event_timestamp);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_store_onu_event(jsonb) IS
    'Stores an ONU message unless it is a repeat; returns its id and whether it was new.';

-- The seed's store-only function.
CREATE OR REPLACE FUNCTION insert_onu_event_from_json(p_event jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT onu_event_id FROM oms_store_onu_event(p_event) $$;
COMMENT ON FUNCTION insert_onu_event_from_json(jsonb) IS
    'Stores an ONU message without touching meters; a repeat returns the first id.';

-- ONU messages, set-based, each event written once. A batch is read and
-- checked into a working table first, repeats are found (stored before, or
-- earlier in the batch), the new events are matched, synced and correlated,
-- and only then stored, with their outcome, by one INSERT: one version of each
-- row, not a row stored then updated with its outcome.
--
-- The inline read takes only messages that pass cheap checks (plain strings, a
-- serial of the right shape, a time that cannot fail the cast: a year from
-- 1000, a valid month, day, hour, minute and second, at most 9 decimals, a
-- zone offset up to 15:59; the 29th of February goes to the parser); any other
-- goes through oms_parse_onu_event, which refuses it naming the field. The
-- times read inline are checked against the plausible window once per batch.
-- Two sessions storing the same new event at once: see oms_require_all_stored.
--
-- In two steps, so that the feed intake can correlate KAIFA and ONU messages
-- in one call (oms_feed_intake_apply): oms_onu_stage (read, check, repeats,
-- match: the feed items to correlate), oms_sync_feed_items_kept (correlate,
-- 06_correlation.sql), oms_onu_store (store with the outcome, one result per
-- message). insert_onu_events_with_meter_sync is the three in a row.
CREATE OR REPLACE FUNCTION insert_onu_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_sync_feed_items_kept(oms_onu_stage(p_events));
    RETURN oms_onu_store();
END;
$$;
COMMENT ON FUNCTION insert_onu_events_with_meter_sync(jsonb) IS
    'ONU messages (a jsonb array), set-based: stored, every meter on each ONU synced, outages linked; one result per message.';

-- ONU messages read, checked, their repeats found and the new ones matched to every
-- meter on their ONU, in this session's oms_onu_staged: the feed items to correlate.
CREATE OR REPLACE FUNCTION oms_onu_stage(p_events jsonb) RETURNS oms_feed_item[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_window   record;
    v_outside  jsonb;
BEGIN
    PERFORM oms_require_array(p_events, 'ONU events');
    IF to_regclass('pg_temp.oms_onu_staged') IS NULL THEN
        CREATE TEMP TABLE oms_onu_staged (
            n bigint, message jsonb, fast boolean, first_n bigint,
            id uuid, stored boolean NOT NULL DEFAULT false, process boolean NOT NULL DEFAULT false, result jsonb,
            source_event_id text, event_type text, alarm_name text, onu_id text, onu_serial text,
            event_timestamp timestamptz, latitude double precision, longitude double precision, event_kind text,
            meter_ids uuid[], numbers text[], outage_event_id uuid) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_onu_staged');

    -- 1. Read and check. Messages that pass cheap checks (plain strings, a serial of
    -- the right shape, a well-formed time, an "alarmData" object of plain strings, a
    -- "location" of two numbers within range: the OLT's own shape) are read inline;
    -- any other by oms_parse_onu_event, which refuses it naming the field. (Read
    -- inline, a message gives the columns the parser would: the storm's dying gasps,
    -- all of that shape, took 0.12 ms each through the parser.) Its time and kind are
    -- read in the same INSERT: each UPDATE of the table writes every row again.
    INSERT INTO oms_onu_staged (n, message, fast, source_event_id, event_type, onu_id, onu_serial, alarm_name,
                                latitude, longitude, event_timestamp, event_kind)
    SELECT r.n, r.message, r.fast, r.source_event_id, r.event_type, r.onu_id, r.onu_serial, r.alarm_name,
           r.latitude, r.longitude,
           CASE WHEN r.fast THEN (r.message ->> 'timestamp')::timestamptz END,
           CASE WHEN r.fast
                THEN oms_onu_event_kind(r.event_type, r.alarm_name,
                                        coalesce(nullif(btrim(r.message -> 'alarmData' ->> 'state'), ''),
                                                 nullif(btrim(r.message -> 'alarmData' ->> 'status'), ''))) END
      FROM (-- Read once (OFFSET 0: not merged into the columns above, which would read "fast" twice).
            SELECT e.n, e.value AS message,
                   jsonb_typeof(e.value) = 'object'
                   AND NOT EXISTS (SELECT 1 FROM jsonb_each(e.value) f
                                    WHERE jsonb_typeof(f.value) NOT IN ('string', 'null')
                                      AND NOT (f.key = 'alarmData' AND jsonb_typeof(f.value) = 'object'
                                               AND NOT EXISTS (SELECT 1 FROM jsonb_each(f.value) a
                                                                WHERE jsonb_typeof(a.value) NOT IN ('string', 'null')))
                                      AND NOT (f.key = 'location'
                                               AND jsonb_typeof(f.value -> 'lat') = 'number'
                                               AND jsonb_typeof(f.value -> 'lng') = 'number'
                                               AND (f.value -> 'lat')::numeric BETWEEN -90 AND 90
                                               AND (f.value -> 'lng')::numeric BETWEEN -180 AND 180))
                   AND nullif(btrim(e.value ->> 'type'), '') IS NOT NULL
                   AND coalesce(nullif(btrim(e.value ->> 'onuId'), ''), nullif(btrim(e.value ->> 'onuSerial'), '')) IS NOT NULL
                   AND coalesce(upper(btrim(e.value ->> 'onuSerial')) ~ '^[A-Z]{4}[0-9A-F]{8}$', true)
                   AND e.value ->> 'timestamp' ~ '^[1-9]\d{3}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-5]):[0-5]\d)$'
                       AS fast,
                   nullif(btrim(e.value ->> 'eventId'), '') AS source_event_id, btrim(e.value ->> 'type') AS event_type,
                   nullif(btrim(e.value ->> 'onuId'), '') AS onu_id, nullif(upper(btrim(e.value ->> 'onuSerial')), '') AS onu_serial,
                   coalesce(nullif(btrim(e.value -> 'alarmData' ->> 'alarmName'), ''),
                            nullif(btrim(e.value -> 'alarmData' ->> 'alarm'), ''),
                            nullif(btrim(e.value -> 'alarmData' ->> 'name'), '')) AS alarm_name,
                   CASE WHEN jsonb_typeof(e.value -> 'location' -> 'lat') = 'number'
                             AND (e.value -> 'location' -> 'lat')::numeric BETWEEN -90 AND 90
                        THEN (e.value -> 'location' ->> 'lat')::float8 END AS latitude,
                   CASE WHEN jsonb_typeof(e.value -> 'location' -> 'lng') = 'number'
                             AND (e.value -> 'location' -> 'lng')::numeric BETWEEN -180 AND 180
                        THEN (e.value -> 'location' ->> 'lng')::float8 END AS longitude
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n)
              OFFSET 0) r;
    -- Times read inline are checked here, once for the batch: the first
    -- event outside the plausible window goes through the parser, which refuses
    -- it naming its field, as on its own.
    SELECT * INTO v_window FROM oms_event_time_window();
    SELECT s.message INTO v_outside FROM oms_onu_staged s
     WHERE s.fast AND NOT s.event_timestamp BETWEEN v_window.earliest AND v_window.latest
     ORDER BY s.n LIMIT 1;
    IF FOUND THEN
        PERFORM oms_parse_onu_event(v_outside);
    END IF;
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
    -- Stored before: an id, whatever the month of its event (oms_feed_event_ids), else the natural key.
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_onu_staged s
          -- Looked up by its key for each staged row (a lateral subquery the planner cannot
          -- turn into a join of sets): joined as sets, a plan made while the table looked
          -- empty (after a TRUNCATE, on a new database) read every stored id of the feed once
          -- per staged row, ~0.4 s a batch once the table had grown (seen in the 1M storm).
          CROSS JOIN LATERAL (SELECT k.event_id, k.event_timestamp FROM oms_feed_event_ids k
                               WHERE k.feed = 'onu' AND k.source_event_id = s.source_event_id
                               LIMIT 1) k
          JOIN onu_events e ON e.id = k.event_id AND e.event_timestamp = k.event_timestamp
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_onu_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_onu_staged s
          JOIN onu_events e
            ON (s.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.onu_id, '') = coalesce(s.onu_id, '') AND coalesce(e.onu_serial, '') = coalesce(s.onu_serial, '')
                AND e.event_type = s.event_type AND coalesce(e.alarm_name, '') = coalesce(s.alarm_name, '')
                AND e.event_timestamp = s.event_timestamp)
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_onu_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;
    -- 3. What to process, the first occurrence of each event not synced before, and every
    -- active meter on its ONU; 4. sync and correlate them all; the outcome of each.
    -- A meter is on the ONU when its ONU id or its serial is the message's. One whose other
    -- identity names a different ONU (the serial matches, the ONU id is another's, or the
    -- reverse) is left out when some meter agrees without such a conflict: two ONUs
    -- registered with one serial (a typo, a reused label) must not take each other's meters.
    -- Only conflicting matches are still taken (an ONU given a new id by its OLT keeps its
    -- serial).
    UPDATE oms_onu_staged s
       SET process = true, id = coalesce(s.id, gen_random_uuid()), meter_ids = x.meter_ids, numbers = x.numbers
      FROM (SELECT c.n,
                   coalesce(array_agg(c.id ORDER BY c.meter_number) FILTER (WHERE c.kept), ARRAY[]::uuid[]) AS meter_ids,
                   coalesce(array_agg(c.meter_number ORDER BY c.meter_number) FILTER (WHERE c.kept), ARRAY[]::text[]) AS numbers
              FROM (SELECT a.n, a.id, a.meter_number,
                           a.id IS NOT NULL
                           AND (NOT a.conflict OR NOT coalesce(bool_or(NOT a.conflict) OVER (PARTITION BY a.n), false)) AS kept
                      FROM (SELECT s2.n, m.id, m.meter_number,
                                   (m.onu_id <> s2.onu_id) IS TRUE OR (m.onu_serial_no <> s2.onu_serial) IS TRUE AS conflict
                              FROM oms_onu_staged s2
                              LEFT JOIN oms_meters m ON m.status = 'active'
                                                    AND ((s2.onu_id IS NOT NULL AND m.onu_id = s2.onu_id)
                                                         OR (s2.onu_serial IS NOT NULL AND m.onu_serial_no = s2.onu_serial))
                             WHERE s2.n = s2.first_n AND s2.result IS NULL) a) c
             GROUP BY c.n) x
     WHERE s.n = x.n;

    RETURN ARRAY(SELECT ROW(coalesce(x.source_event_id, x.id::text), x.meter_ids, x.event_kind, x.event_timestamp,
                            format('ONU %s (%s)', coalesce(x.alarm_name, x.event_type), coalesce(x.onu_serial, x.onu_id)),
                            jsonb_build_object('onu_event_id', x.id, 'onu_id', x.onu_id, 'onu_serial', x.onu_serial),
                            'onu', 'onu_events')::oms_feed_item
                   FROM oms_onu_staged x WHERE x.process ORDER BY x.n);
END;
$$;
COMMENT ON FUNCTION oms_onu_stage(jsonb) IS
    'ONU messages read, checked, repeats found, new ones matched (session table oms_onu_staged): the feed items to correlate.';

-- The staged ONU messages (oms_onu_stage) stored with their outcome (oms_sync_feed_items_kept):
-- one result per message, in order; a repeat answers with the first result.
CREATE OR REPLACE FUNCTION oms_onu_store() RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
    v_constraint text;
BEGIN
    UPDATE oms_onu_staged s
       SET outage_event_id = y.outage_event_ids[1],
           result = jsonb_build_object(
               'onu_event_id', s.id, 'kind', s.event_kind,
               'match_status', CASE WHEN cardinality(s.meter_ids) = 0 THEN 'unmatched' ELSE 'matched' END,
               'meters_matched', cardinality(s.meter_ids), 'meter_numbers', to_jsonb(s.numbers))
               || oms_sync_summary(y.status_changes, y.late_changes, y.outage_event_ids, y.outages_opened)
      FROM oms_feed_outcomes y
     WHERE s.process AND y.source_type = 'onu' AND y.source_event_id = coalesce(s.source_event_id, s.id::text);

    -- 5. Store: new events with their outcome, in one INSERT; events stored before get it.
    SELECT count(*) INTO v_new FROM oms_onu_staged s WHERE s.process AND NOT s.stored;
    -- An event id that a concurrent delivery stored first fails the INSERT (oms_feed_event_ids,
    -- 23505); the batch is refused as a conflict to retry (40001), like an event it stored first.
    BEGIN
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
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'oms_feed_event_ids_pkey' THEN
            RAISE;
        END IF;
        v_stored := 0;
    END;
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
COMMENT ON FUNCTION oms_onu_store() IS
    'The staged ONU messages stored with their correlation outcome (oms_feed_outcomes); one result per message.';

-- The single-message form: a batch of one.
CREATE OR REPLACE FUNCTION insert_onu_event_from_json_with_meter_sync(p_event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT insert_onu_events_with_meter_sync(jsonb_build_array(p_event)) -> 0 $$;
COMMENT ON FUNCTION insert_onu_event_from_json_with_meter_sync(jsonb) IS
    'Stores an ONU message, syncs every meter on that ONU (dying gasp -> off, restore -> on, LOS -> communication) and links the outage.';
