-- Helpers every area uses: updated_at kept by triggers, the readers of JSON
-- message fields (each refusal SQLSTATE 22023 naming the field in the error's
-- COLUMN, the same field the Swift decoders name), short texts for messages,
-- and the checks of the feed batches.
--
-- A current file: every function, trigger and view here is written with
-- CREATE OR REPLACE and applied again by `oms migrate` whenever this file
-- changes (../README.md). Tables, indexes and seed rows are in ../versioned/.

-- ---------------------------------------------------------------------------
-- updated_at / last_updated_at, kept honest on every UPDATE.

CREATE OR REPLACE FUNCTION oms_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION oms_touch_updated_at() IS
    'Trigger function: sets updated_at to now() on every row update.';

CREATE OR REPLACE TRIGGER oms_settings_touch BEFORE UPDATE ON oms_settings
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

CREATE OR REPLACE TRIGGER network_substations_touch BEFORE UPDATE ON network_substations
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

CREATE OR REPLACE TRIGGER network_feeders_touch BEFORE UPDATE ON network_feeders
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

CREATE OR REPLACE TRIGGER network_distribution_points_touch BEFORE UPDATE ON network_distribution_points
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

CREATE OR REPLACE TRIGGER oms_customers_touch BEFORE UPDATE ON oms_customers
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

CREATE OR REPLACE TRIGGER oms_meters_touch BEFORE UPDATE ON oms_meters
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

-- Outages keep theirs as last_updated_at.
CREATE OR REPLACE FUNCTION oms_outage_events_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION oms_outage_events_touch() IS
    'Trigger function: sets an outage''s last_updated_at to now() on every update.';

CREATE OR REPLACE TRIGGER oms_outage_events_touch BEFORE UPDATE ON oms_outage_events
    FOR EACH ROW EXECUTE FUNCTION oms_outage_events_touch();

-- ---------------------------------------------------------------------------
-- Fields of JSON messages. p_context names the message in errors
-- ('SCADA event', 'ONU event', ...).

-- A text field of a JSON object: trimmed, NULL when absent, null or blank; an
-- error naming the field when it is there but not a string or number.
CREATE OR REPLACE FUNCTION oms_json_text(p_object jsonb, p_field text, p_context text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT p_object ? p_field OR jsonb_typeof(p_object -> p_field) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_object -> p_field) NOT IN ('string', 'number') THEN
        RAISE EXCEPTION '%: field "%" must be a string, not %', p_context, p_field, jsonb_typeof(p_object -> p_field)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    RETURN nullif(btrim(p_object ->> p_field), '');
END;
$$;
COMMENT ON FUNCTION oms_json_text(jsonb, text, text) IS
    'A text field of a JSON message, trimmed (NULL when absent, null or blank); SQLSTATE 22023 naming the field when it is not a string or number.';

-- A text field that must be there; an error naming it otherwise.
CREATE OR REPLACE FUNCTION oms_json_required_text(p_object jsonb, p_field text, p_context text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_text text := oms_json_text(p_object, p_field, p_context);
BEGIN
    IF v_text IS NULL THEN
        RAISE EXCEPTION '%: field "%" is required', p_context, p_field
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    RETURN v_text;
END;
$$;
COMMENT ON FUNCTION oms_json_required_text(jsonb, text, text) IS
    'A text field of a JSON message that must be there; SQLSTATE 22023 naming the field otherwise.';

-- A number field (NULL when absent or null); an error naming the field
-- (p_label, e.g. 'coordinates.lat', else p_field) otherwise.
CREATE OR REPLACE FUNCTION oms_json_number(p_object jsonb, p_field text, p_context text, p_label text DEFAULT NULL)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_label text := coalesce(p_label, p_field);
BEGIN
    IF p_object IS NULL OR NOT p_object ? p_field OR jsonb_typeof(p_object -> p_field) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_object -> p_field) = 'number' THEN
        RETURN (p_object ->> p_field)::double precision;
    END IF;
    IF jsonb_typeof(p_object -> p_field) = 'string' AND btrim(p_object ->> p_field) ~ '^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$' THEN
        RETURN btrim(p_object ->> p_field)::double precision;
    END IF;
    RAISE EXCEPTION '%: field "%" must be a number, not %', p_context, v_label, p_object -> p_field
        USING ERRCODE = 'invalid_parameter_value', COLUMN = v_label;
END;
$$;
COMMENT ON FUNCTION oms_json_number(jsonb, text, text, text) IS
    'A number field of a JSON message (NULL when absent); SQLSTATE 22023 naming the field (p_label) otherwise.';

-- An optional point {"lat", "lng"} within range (both NULL when absent or
-- null); an error naming the field ("coordinates.lat") otherwise.
CREATE OR REPLACE FUNCTION oms_json_point(p_object jsonb, p_field text, p_context text,
                               OUT lat double precision, OUT lng double precision)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_point jsonb := p_object -> p_field;
BEGIN
    IF v_point IS NULL OR jsonb_typeof(v_point) = 'null' THEN
        RETURN;
    END IF;
    IF jsonb_typeof(v_point) <> 'object' THEN
        RAISE EXCEPTION '%: field "%" must be an object {"lat", "lng"}, not %', p_context, p_field, jsonb_typeof(v_point)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    lat := oms_json_number(v_point, 'lat', p_context, p_field || '.lat');
    lng := oms_json_number(v_point, 'lng', p_context, p_field || '.lng');
    IF lat IS NULL OR lat NOT BETWEEN -90 AND 90 THEN
        RAISE EXCEPTION '%: field "%.lat" %', p_context, p_field,
            coalesce('must be between -90 and 90, not ' || lat, 'is required')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field || '.lat';
    END IF;
    IF lng IS NULL OR lng NOT BETWEEN -180 AND 180 THEN
        RAISE EXCEPTION '%: field "%.lng" %', p_context, p_field,
            coalesce('must be between -180 and 180, not ' || lng, 'is required')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field || '.lng';
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_json_point(jsonb, text, text) IS
    'An optional {"lat", "lng"} field of a JSON message, within range; SQLSTATE 22023 naming the field (e.g. coordinates.lat) otherwise.';

-- An ISO 8601 time with a zone (a time without one is ambiguous), within the
-- plausible window (oms_check_event_time, 02_settings.sql: feeds.max_future_minutes,
-- feeds.earliest_event_time); an error naming the field otherwise.
CREATE OR REPLACE FUNCTION oms_json_time(p_object jsonb, p_field text, p_context text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_text text := oms_json_required_text(p_object, p_field, p_context);
    v_time timestamptz;
BEGIN
    IF v_text !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$' THEN
        RAISE EXCEPTION '%: field "%" must be an ISO 8601 time with a zone (2025-09-30T10:00:00Z), not "%"',
            p_context, p_field, v_text
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    BEGIN
        v_time := v_text::timestamptz;
    EXCEPTION WHEN data_exception THEN  -- a day or hour out of range, a zone offset out of range, year 0000
        RAISE EXCEPTION '%: field "%" is not a valid time: "%"', p_context, p_field, v_text
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END;
    RETURN oms_check_event_time(v_time, p_field, p_context);
END;
$$;
COMMENT ON FUNCTION oms_json_time(jsonb, text, text) IS
    'An ISO 8601 time with a zone, within the plausible window (oms_check_event_time); SQLSTATE 22023 naming the field otherwise.';

-- ---------------------------------------------------------------------------
-- Values in messages.

-- A JSON value short enough for a message: 1e308 reads 1e308, not 309 digits.
CREATE OR REPLACE FUNCTION oms_json_brief(p_value jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_text     text := p_value::text;
    v_number   numeric;
    v_exponent integer;
BEGIN
    IF v_text IS NULL OR length(v_text) <= 40 THEN
        RETURN coalesce(v_text, 'null');
    END IF;
    IF jsonb_typeof(p_value) = 'number' THEN
        v_number := p_value::numeric;
        IF v_number = 0 THEN
            RETURN '0';
        END IF;
        v_exponent := floor(log(abs(v_number)));
        RETURN trim_scale(round(v_number / power(10::numeric, v_exponent), 3))::text || 'e' || v_exponent;
    END IF;
    RETURN left(v_text, 37) || '...';
END;
$$;
COMMENT ON FUNCTION oms_json_brief(jsonb) IS
    'A JSON value as text of at most 40 characters (large numbers in scientific notation), for messages.';

-- A time as ISO 8601 in UTC, for messages ("2999-01-01T00:00:00Z"; BC said so).
CREATE OR REPLACE FUNCTION oms_iso_time(p_time timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    || CASE WHEN p_time < timestamptz '0001-01-01 00:00:00+00' THEN ' BC' ELSE '' END,
                    p_time::text)
$$;
COMMENT ON FUNCTION oms_iso_time(timestamptz) IS
    'A time as ISO 8601 in UTC, for messages.';

-- ---------------------------------------------------------------------------
-- Feed batches: a jsonb array of messages in one call and one transaction, one
-- result per message, in order (insert_scada_events_with_meter_check,
-- insert_onu_events_with_meter_sync, insert_kaifa_events_with_meter_sync,
-- insert_callcenter_tickets_with_meter_link, in each feed's file). A message the
-- database refuses fails the whole batch: the service decodes messages first
-- and, should a batch fail, falls back to one call per message so that good
-- messages still land.

-- The batch must be a JSON array.
CREATE OR REPLACE FUNCTION oms_require_array(p_messages jsonb, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_messages IS NULL OR jsonb_typeof(p_messages) <> 'array' THEN
        RAISE EXCEPTION '%: expected a JSON array of messages, not %', p_what, coalesce(jsonb_typeof(p_messages), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_require_array(jsonb, text) IS
    'Refuses a feed batch that is not a JSON array (SQLSTATE 22023).';

-- Refuses a batch whose new events another session stored meanwhile. The same
-- event delivered twice at the same moment by two sessions: the second one's
-- INSERT waits on the first one's unique key and, when that commits, finds the
-- event there; the whole batch is then refused with SQLSTATE 40001
-- (serialization_failure: nothing of it is written) and the caller retries it,
-- which answers the repeat as a duplicate. The service retries by itself; a
-- psql user sees "retry the batch".
CREATE OR REPLACE FUNCTION oms_require_all_stored(p_stored integer, p_expected integer, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_stored < p_expected THEN
        RAISE EXCEPTION '%: % of this batch were stored by a concurrent delivery; retry the batch', p_what, p_expected - p_stored
            USING ERRCODE = 'serialization_failure';
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_require_all_stored(integer, integer, text) IS
    'Refuses a feed batch (SQLSTATE 40001, retry it) when a concurrent delivery stored some of its new events first.';

-- ---------------------------------------------------------------------------
-- Session work tables (a feed call's staged messages, its evidence, the
-- engine's working sets): temp tables a session keeps, created ON COMMIT
-- DELETE ROWS, and emptied at each call.
--
-- Emptying one with TRUNCATE gives it a new file, and ANALYZE rewrites its
-- statistics: either invalidates every cached plan that reads it, so each
-- statement of the next call is planned again. With ten such tables in a
-- call, that was most of a one-message call (8 ms of it; 3 ms without). So:
--   * the commit empties them (ON COMMIT DELETE ROWS truncates a temp table's
--     file in place: no new file, no invalidation), so a call after a large
--     batch finds them empty instead of truncating them itself; in issue 15's
--     latency window a one-message KAIFA call after a 125-message ONU call
--     spent 0.9 ms truncating and 3.8 ms planning again (11.7 ms in all);
--     over the window's 46 requests, 1,103 -> 593 plans with the skips in
--     oms_work_table_clear and oms_work_table_analyze, 94-135 -> 56-76 ms planning;
--   * within one transaction (the intake applies several runs in one), a
--     table is emptied by DELETE while small, by TRUNCATE once grown past 16
--     pages (dead rows of earlier runs included; at 64 the 1M storm's DELETEs
--     of a thousand rows and scans over their dead pages halved its rate);
--   * a table is analyzed once when new (empty) and once the first time it
--     holds 200 rows or more (oms_work_table_analyze), not at every batch.

-- Empties a session work table for the next use in the same transaction (the
-- commit empties it otherwise): by DELETE while it is at most 16 pages (128 kB,
-- dead rows included), else by TRUNCATE.
-- Analyzes it once, empty, when new: the planner then estimates from its pages,
-- not from its 10-page guess for a table never analyzed.
CREATE OR REPLACE FUNCTION oms_work_table_clear(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_bytes bigint := pg_relation_size(p_table);
BEGIN
    IF v_bytes > 16 * current_setting('block_size')::bigint THEN
        EXECUTE format('TRUNCATE %s', p_table);
    ELSIF v_bytes > 0 THEN  -- (empty, as the commit leaves it: nothing to plan or run)
        EXECUTE format('DELETE FROM %s', p_table);
    END IF;
    IF (SELECT c.reltuples < 0 FROM pg_class c WHERE c.oid = p_table) THEN
        EXECUTE format('ANALYZE %s', p_table);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_work_table_clear(regclass) IS
    'Empties a session work table for its next use in the transaction (nothing when empty, as the commit leaves it; DELETE while small, TRUNCATE once grown), analyzed once when new.';

-- Gives the planner a session work table's real statistics the first time it
-- holds 200 rows or more (a join of a thousand rows estimated at one was a
-- nested loop over the whole batch); below that, its size in pages is estimate
-- enough. Once: the plans made then (for a batch) serve smaller calls as well,
-- and an ANALYZE at every large batch made every statement reading the table
-- be planned again at the next call.
CREATE OR REPLACE FUNCTION oms_work_table_analyze(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows integer;
BEGIN
    IF pg_relation_size(p_table) = 0 OR (SELECT c.reltuples >= 200 FROM pg_class c WHERE c.oid = p_table) THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT FROM %s LIMIT 200) x', p_table) INTO v_rows;
    IF v_rows >= 200 THEN
        EXECUTE format('ANALYZE %s', p_table);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_work_table_analyze(regclass) IS
    'ANALYZEs a session work table the first time it holds 200 rows or more (its plans are made again then, and kept after).';
