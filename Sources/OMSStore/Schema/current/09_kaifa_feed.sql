-- The KAIFA head-end (AMI) feed: IEC 61968-9 EndDeviceEvents change their
-- meter's status and are outage evidence.
--
--   insert_kaifa_event_from_json(jsonb) -> uuid                      store only
--   insert_kaifa_event_from_json_with_meter_sync(jsonb) -> jsonb     store, match, sync, correlate
--   insert_kaifa_events_with_meter_sync(jsonb) -> jsonb              the same for a jsonb array, set-based
--
-- Following one event: the Swift decoder turns the head-end's
-- CreatedEndDeviceEvents XML (or JSON) into the JSON form below ->
-- insert_kaifa_events_with_meter_sync (here: read, match, store) ->
-- oms_sync_feed_items and oms_link_feed_evidence (06_correlation.sql) ->
-- oms_apply_status_changes (05_status.sql).
--
-- One EndDeviceEvent as JSON (the CIM names are accepted too):
--   {"mRID", "createdDateTime", "eventTypeRef" | "EndDeviceEventType": {"ref"},
--    "assetMRID" | "Assets": {"mRID"}, "usagePointMRID" | "UsagePoint": {"mRID"}, "meterNumber",
--    "reason", "severity", "issuerID", "issuerTrackingID", "userID",
--    "details": [{"name", "value"}], "status": {"dateTime", "reason", "remark", "value"},
--    "header": {"verb", "noun", "timestamp", "source", "messageID"}, "source"}
--
-- The meaning comes from the event type code (type.domain.subdomain.eventOrAction)
-- through kaifa_event_types, configurable per head-end; never from severity. An
-- unknown code is stored and reported (meaning 'unknown'), and changes nothing.
-- Matching: asset mRID, else usage-point mRID (its newest active meter), else
-- meter number.

-- What an event type code means for a head-end (kaifa_event_types: that
-- head-end's row before the '*' rows, then the pattern with fewest wildcards);
-- 'unknown' when no row matches.
CREATE OR REPLACE FUNCTION oms_kaifa_meaning(p_code text, p_source text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT t.meaning FROM kaifa_event_types t
         WHERE (t.source = p_source OR t.source = '*')
           AND p_code ~ ('^' || replace(replace(t.pattern, '.', '\.'), '*', '\d+') || '$')
         ORDER BY (t.source = '*'), length(t.pattern) - length(replace(t.pattern, '*', ''))
         LIMIT 1), 'unknown')
$$;
COMMENT ON FUNCTION oms_kaifa_meaning(text, text) IS
    'What an EndDeviceEventType code means for a head-end (kaifa_event_types, most specific row), or unknown.';

-- The columns of one EndDeviceEvent (JSON form), checked; refuses naming the field.
CREATE OR REPLACE FUNCTION oms_parse_kaifa_event(
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

-- Stores an EndDeviceEvent unless it is a repeat (same mRID, whatever its month; without one, the
-- same meter identity, type and time).
CREATE OR REPLACE FUNCTION oms_store_kaifa_event(p_event jsonb, OUT kaifa_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    SELECT * INTO p FROM oms_parse_kaifa_event(p_event);
    -- An id stored before, whatever the month of its event (oms_feed_event_ids).
    IF p.source_event_id IS NOT NULL THEN
        SELECT k.event_id INTO kaifa_event_id FROM oms_feed_event_ids k WHERE k.feed = 'kaifa' AND k.source_event_id = p.source_event_id;
        IF FOUND THEN
            inserted := false;
            RETURN;
        END IF;
    END IF;
    INSERT INTO kaifa_events (source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                              reason, severity, event_timestamp, source, event_meaning, raw, raw_message)
    VALUES (p.source_event_id, p.message_id, p.event_type_code, p.asset_mrid, p.usage_point_mrid, p.meter_number,
            p.reason, p.severity, p.event_timestamp, p.source, p.event_meaning, p.raw, p.raw_message)
    ON CONFLICT DO NOTHING
    RETURNING id INTO kaifa_event_id;
    inserted := kaifa_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO kaifa_event_id FROM kaifa_events e
         WHERE (p.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.asset_mrid, '') = coalesce(p.asset_mrid, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(p.usage_point_mrid, '')
                AND coalesce(e.meter_number, '') = coalesce(p.meter_number, '')
                AND e.event_type_code = p.event_type_code AND e.event_timestamp = p.event_timestamp);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_store_kaifa_event(jsonb) IS
    'Stores an EndDeviceEvent unless it is a repeat; returns its id and whether it was new.';

-- The seed's store-only function.
CREATE OR REPLACE FUNCTION insert_kaifa_event_from_json(p_event jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT kaifa_event_id FROM oms_store_kaifa_event(p_event) $$;
COMMENT ON FUNCTION insert_kaifa_event_from_json(jsonb) IS
    'Stores one EndDeviceEvent (JSON form) without touching meters; a repeat returns the first id.';

-- KAIFA EndDeviceEvents, set-based, each event written once, like the ONU batch
-- (08_onu_feed.sql): read and checked into a working table (cheap checks
-- inline, any other message through oms_parse_kaifa_event, which names the
-- field), repeats found, new events matched, synced and correlated, then
-- stored with their outcome by one INSERT. The meaning is looked up once per
-- (code, head-end), not per event: a storm is one code.
--
-- In two steps, as the ONU feed (08_onu_feed.sql): oms_kaifa_stage (read, check,
-- repeats, match: the feed items to correlate), oms_sync_feed_items_kept, then
-- oms_kaifa_store (store with the outcome, one result per message).
CREATE OR REPLACE FUNCTION insert_kaifa_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_sync_feed_items_kept(oms_kaifa_stage(p_events));
    RETURN oms_kaifa_store();
END;
$$;
COMMENT ON FUNCTION insert_kaifa_events_with_meter_sync(jsonb) IS
    'KAIFA EndDeviceEvents (a jsonb array of the JSON form), set-based: stored, matched, synced, outages linked; one result each.';

-- KAIFA messages read, checked, their repeats found and the new ones matched to their
-- meter, in this session's oms_kaifa_staged: the feed items to correlate.
CREATE OR REPLACE FUNCTION oms_kaifa_stage(p_events jsonb) RETURNS oms_feed_item[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_window   record;
    v_outside  jsonb;
BEGIN
    PERFORM oms_require_array(p_events, 'KAIFA events');
    IF to_regclass('pg_temp.oms_kaifa_staged') IS NULL THEN
        CREATE TEMP TABLE oms_kaifa_staged (
            n bigint, message jsonb, fast boolean, first_n bigint,
            id uuid, stored boolean NOT NULL DEFAULT false, process boolean NOT NULL DEFAULT false, result jsonb,
            source_event_id text, message_id text, event_type_code text, asset_mrid text, usage_point_mrid text,
            meter_number text, reason text, severity text, event_timestamp timestamptz, source text,
            event_meaning text, raw jsonb, raw_message text,
            kind text, meter_id uuid, matched_number text, matched_by text, outage_event_id uuid) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_kaifa_staged');

    -- 1. Read and check. Messages that pass cheap checks (plain strings, a
    -- well-formed code and time, a meter identity) are read inline, their time and
    -- meaning too; any other by oms_parse_kaifa_event, which refuses it naming the
    -- field. (One INSERT with every column a fast message gives: each UPDATE of the
    -- table writes every row again.)
    WITH e AS MATERIALIZED (
        SELECT e.n, e.value,
               jsonb_typeof(e.value) = 'object'
               AND NOT EXISTS (SELECT 1 FROM jsonb_each(e.value) f
                                WHERE f.key NOT IN ('header', 'details', 'status', 'EndDeviceEventType', 'Assets', 'UsagePoint')
                                  AND jsonb_typeof(f.value) NOT IN ('string', 'null'))
               AND coalesce(e.value ->> 'eventTypeRef', e.value #>> '{EndDeviceEventType,ref}') ~ '^\d+\.\d+\.\d+\.\d+$'
               AND coalesce(e.value ->> 'assetMRID', e.value #>> '{Assets,mRID}', e.value ->> 'usagePointMRID',
                            e.value #>> '{UsagePoint,mRID}', e.value ->> 'meterNumber') ~ '\S'
               AND e.value ->> 'createdDateTime' ~ '^[1-9]\d{3}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-5]):[0-5]\d)$'
                   AS fast,
               coalesce(e.value ->> 'eventTypeRef', e.value #>> '{EndDeviceEventType,ref}') AS code,
               nullif(btrim(coalesce(e.value ->> 'source', e.value #>> '{header,source}')), '') AS source
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n)
    ),
    -- The meaning is looked up once per (code, head-end), not per event: a storm is one code.
    meanings AS MATERIALIZED (
        SELECT x.code, x.source, oms_kaifa_meaning(x.code, x.source) AS meaning
          FROM (SELECT DISTINCT e.code, e.source FROM e WHERE e.fast) x
    )
    INSERT INTO oms_kaifa_staged (n, message, fast, source_event_id, message_id, event_type_code, asset_mrid,
                                  usage_point_mrid, meter_number, reason, severity, source, raw, raw_message,
                                  event_timestamp, event_meaning)
    SELECT e.n, e.value, e.fast,
           nullif(btrim(e.value ->> 'mRID'), ''),
           nullif(btrim(e.value #>> '{header,messageID}'), ''),
           e.code,
           nullif(btrim(coalesce(e.value ->> 'assetMRID', e.value #>> '{Assets,mRID}')), ''),
           nullif(btrim(coalesce(e.value ->> 'usagePointMRID', e.value #>> '{UsagePoint,mRID}')), ''),
           nullif(btrim(e.value ->> 'meterNumber'), ''),
           nullif(btrim(e.value ->> 'reason'), ''), nullif(btrim(e.value ->> 'severity'), ''),
           e.source,
           e.value - 'rawXML', e.value ->> 'rawXML',
           CASE WHEN e.fast THEN (e.value ->> 'createdDateTime')::timestamptz END,
           m.meaning
      FROM e LEFT JOIN meanings m ON e.fast AND m.code = e.code AND m.source IS NOT DISTINCT FROM e.source;
    -- Times read inline are checked here, once for the batch: the first
    -- event outside the plausible window goes through the parser, which refuses
    -- it naming its field, as on its own.
    SELECT * INTO v_window FROM oms_event_time_window();
    SELECT s.message INTO v_outside FROM oms_kaifa_staged s
     WHERE s.fast AND NOT s.event_timestamp BETWEEN v_window.earliest AND v_window.latest
     ORDER BY s.n LIMIT 1;
    IF FOUND THEN
        PERFORM oms_parse_kaifa_event(v_outside);
    END IF;
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
    -- Stored before: an id, whatever the month of its event (oms_feed_event_ids), else the natural key.
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_kaifa_staged s
          -- Looked up by its key for each staged row (a lateral subquery the planner cannot
          -- turn into a join of sets): joined as sets, a plan made while the table looked
          -- empty (after a TRUNCATE, on a new database) read every stored id of the feed once
          -- per staged row, ~0.4 s a batch once the table had grown (seen in the 1M storm).
          CROSS JOIN LATERAL (SELECT k.event_id, k.event_timestamp FROM oms_feed_event_ids k
                               WHERE k.feed = 'kaifa' AND k.source_event_id = s.source_event_id
                               LIMIT 1) k
          JOIN kaifa_events e ON e.id = k.event_id AND e.event_timestamp = k.event_timestamp
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_kaifa_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;
    WITH existing AS (
        SELECT s.n, e.id, e.sync_result
          FROM oms_kaifa_staged s
          JOIN kaifa_events e
            ON (s.source_event_id IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.asset_mrid, '') = coalesce(s.asset_mrid, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(s.usage_point_mrid, '')
                AND coalesce(e.meter_number, '') = coalesce(s.meter_number, '')
                AND e.event_type_code = s.event_type_code AND e.event_timestamp = s.event_timestamp)
         WHERE s.n = s.first_n
           FOR UPDATE OF e
    )
    UPDATE oms_kaifa_staged s SET id = x.id, stored = true, result = x.sync_result
      FROM existing x WHERE s.n = x.n;

    -- 3. What to process, the first occurrence of each event not synced before, and its
    -- meter: asset mRID, else usage point (its newest active meter), else meter number.
    UPDATE oms_kaifa_staged s
       SET process = true, id = coalesce(s.id, gen_random_uuid()),
           meter_id = coalesce(a.id, u.id, n.id),
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
     WHERE x.n = x.first_n AND x.result IS NULL AND s.n = x.n;

    RETURN ARRAY(SELECT ROW(coalesce(x.source_event_id, x.id::text),
                            CASE WHEN x.meter_id IS NULL THEN ARRAY[]::uuid[] ELSE ARRAY[x.meter_id] END,
                            x.kind, x.event_timestamp, format('AMI %s (%s)', x.event_type_code, x.event_meaning),
                            jsonb_build_object('kaifa_event_id', x.id, 'event_type_code', x.event_type_code),
                            'kaifa', 'kaifa_events')::oms_feed_item
                   FROM oms_kaifa_staged x WHERE x.process ORDER BY x.n);
END;
$$;
COMMENT ON FUNCTION oms_kaifa_stage(jsonb) IS
    'KAIFA messages read, checked, repeats found, new ones matched (session table oms_kaifa_staged): the feed items to correlate.';

-- The staged KAIFA messages (oms_kaifa_stage) stored with their outcome
-- (oms_sync_feed_items_kept): one result per message, in order; a repeat answers
-- with the first result.
CREATE OR REPLACE FUNCTION oms_kaifa_store() RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
    v_constraint text;
BEGIN
    -- 4. The outcome of each.
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
      FROM oms_feed_outcomes y
     WHERE s.process AND y.source_type = 'kaifa' AND y.source_event_id = coalesce(s.source_event_id, s.id::text);

    -- 5. Store: new events with their outcome, in one INSERT; events stored before get it.
    SELECT count(*) INTO v_new FROM oms_kaifa_staged s WHERE s.process AND NOT s.stored;
    -- An event id that a concurrent delivery stored first fails the INSERT (oms_feed_event_ids,
    -- 23505); the batch is refused as a conflict to retry (40001), like an event it stored first.
    BEGIN
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
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'oms_feed_event_ids_pkey' THEN
            RAISE;
        END IF;
        v_stored := 0;
    END;
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
COMMENT ON FUNCTION oms_kaifa_store() IS
    'The staged KAIFA messages stored with their correlation outcome (oms_feed_outcomes); one result per message.';

-- The single-message form: a batch of one.
CREATE OR REPLACE FUNCTION insert_kaifa_event_from_json_with_meter_sync(p_event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT insert_kaifa_events_with_meter_sync(jsonb_build_array(p_event)) -> 0 $$;
COMMENT ON FUNCTION insert_kaifa_event_from_json_with_meter_sync(jsonb) IS
    'Stores one EndDeviceEvent, matches its meter (asset, usage point, number), applies its meaning and links the outage.';
