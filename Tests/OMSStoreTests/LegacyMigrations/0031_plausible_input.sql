-- 0031 Plausible input: the state stays believable whatever a sender or an
-- operator writes.
--
-- 1. Every setting has a type and a range, checked by PostgreSQL when it is
--    written (oms_settings_check, BEFORE INSERT OR UPDATE): psql users'
--    UPDATE oms_settings SET value = ... is checked like PUT /api/v1/settings.
--    A value out of type or range is refused with SQLSTATE 22023, COLUMN
--    'value', and a message naming the key and the bound:
--        onu.confidence must be a number from 0 to 1, not 1.5
--    The ranges (what a utility would expect; widen one with
--    UPDATE oms_settings SET maximum = ... WHERE key = ... if it must):
--      <source>.confidence (scada, kaifa, onu, call_center, manual, system)
--                                           number 0..1 (a weight and a probability;
--                                           0 mutes a source's evidence)
--      correlation.confirm_confidence       number 0.001..1 (0 or less would confirm
--                                           every outage at once; outage confidence
--                                           is kept to 3 decimals)
--      correlation.window_minutes           whole number 1..10080 (a week)
--      meter.communication_timeout_minutes  whole number 1..1440 (a day)
--      proximity.*_radius_km                number 0..100 (0: never link at that level)
--      import.bulk_load_min_rows            whole number 0..100,000,000 (0: never)
--      scada.critical_alarms                a JSON array of 1..200 strings, each with a
--                                           letter or digit (an empty list, or a code that
--                                           normalises to nothing, would make every breaker
--                                           trip "not critical")
--      call_center.strip_leading_zeros      true or false
--      feeds.max_future_minutes             whole number 0..1440 (new, 5)
--      feeds.earliest_event_time            an ISO 8601 time with a zone, from
--                                           1900-01-01T00:00:00Z to the database's clock
--                                           when written (new, 2000-01-01T00:00:00Z: replays
--                                           of past storms keep working; a horizon in the
--                                           future would refuse every event)
--    A whole number written as 15.0 or 1.5e1 is stored as 15 (the readers cast
--    minutes to integer). Columns value_type, minimum, maximum say it for each
--    row (for a list: its number of items; NULL for boolean and time).
--    oms_setting_set() (PUT /api/v1/settings/{key}) also returns the value it
--    replaced (previous_value), for the service's audit log line.
--
-- 2. Event times are plausible. oms_check_event_time() refuses a time more
--    than feeds.max_future_minutes ahead of the database's clock (now()) or
--    before feeds.earliest_event_time, with SQLSTATE 22023 and COLUMN = the
--    field. oms_json_time() (every feed's event time, 0012) applies it, and so
--    do update_meter_status() (the seed's, 0010) and
--    oms_set_meter_power_status() (0028), COLUMN 'timestamp'. The ONU and
--    KAIFA batches (0017) read well-formed times inline, without
--    oms_json_time(): they now check the window once per batch and have the
--    parser refuse the first event outside it, naming its field; their inline
--    path also takes only times that cannot fail the cast (a day 29-31 of a
--    short month, a zone offset out of range, year 0000 go to the parser,
--    which names the field, instead of failing the batch without one). Year
--    0001 can no longer be stored (as 0001 BC or otherwise): the horizon is
--    1900 at the earliest.
--
-- 3. A manual status change says whether it was applied: it is audited with
--    applied = false and not applied when it is older than the meter's newer
--    state (last_status_change), and oms_set_meter_power_status() now returns
--    applied and newer_state_at.
--
-- 4. A request id names one change: the same request id with another meter,
--    power status, note or timestamp is refused (SQLSTATE 23505
--    unique_violation, COLUMN 'request_id'), an exact retry stays a repeat
--    (a retry without a timestamp matches whatever time the first one had).
--
-- 5. A SCADA event stored without a meter check (not critical by
--    scada.critical_alarms, unknown substation or feeder) is not locked in as a
--    duplicate: delivered again once the reason no longer holds (the setting
--    fixed, the network imported), it is checked then, by the same functions,
--    and answered with "rechecked": true and the earlier "previous_reason";
--    while the reason holds a repeat stays a duplicate. A refused message
--    leaves nothing (each feed function is one statement: an error rolls back
--    its row), so its repeat is processed normally.

-- ---------------------------------------------------------------------------
-- 1. Settings: a type and a range each, checked when written.

ALTER TABLE oms_settings
    ADD COLUMN value_type text,
    ADD COLUMN minimum    numeric,
    ADD COLUMN maximum    numeric;
COMMENT ON COLUMN oms_settings.value_type IS
    'number, integer (a whole number), boolean, string_list (a JSON array of strings) or time (ISO 8601 with a zone).';
COMMENT ON COLUMN oms_settings.minimum IS
    'Smallest value allowed (number, integer) or fewest items (string_list); NULL for boolean and time.';
COMMENT ON COLUMN oms_settings.maximum IS
    'Largest value allowed (number, integer) or most items (string_list); NULL for boolean and time.';

-- Filling the new columns changes no setting: updated_at stays.
ALTER TABLE oms_settings DISABLE TRIGGER oms_settings_touch;
UPDATE oms_settings s
   SET value_type = r.value_type, minimum = r.minimum, maximum = r.maximum
  FROM (VALUES
        ('meter.communication_timeout_minutes', 'integer', 1, 1440),
        ('scada.confidence', 'number', 0, 1),
        ('kaifa.confidence', 'number', 0, 1),
        ('onu.confidence', 'number', 0, 1),
        ('call_center.confidence', 'number', 0, 1),
        ('manual.confidence', 'number', 0, 1),
        ('system.confidence', 'number', 0, 1),
        ('correlation.window_minutes', 'integer', 1, 10080),
        ('correlation.confirm_confidence', 'number', 0.001, 1),
        ('scada.critical_alarms', 'string_list', 1, 200),
        ('call_center.strip_leading_zeros', 'boolean', NULL, NULL),
        ('proximity.dp_radius_km', 'number', 0, 100),
        ('proximity.feeder_radius_km', 'number', 0, 100),
        ('proximity.substation_radius_km', 'number', 0, 100),
        ('import.bulk_load_min_rows', 'integer', 0, 100000000)
       ) AS r(key, value_type, minimum, maximum)
 WHERE s.key = r.key;
ALTER TABLE oms_settings ENABLE TRIGGER oms_settings_touch;

-- A setting added by hand is not guessed at: the migration stops and says which.
DO $$
DECLARE
    v_keys text;
BEGIN
    SELECT string_agg(key, ', ' ORDER BY key) INTO v_keys FROM oms_settings WHERE value_type IS NULL;
    IF v_keys IS NOT NULL THEN
        RAISE EXCEPTION 'oms_settings holds settings this version does not know: %', v_keys
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Delete them (DELETE FROM oms_settings WHERE key = ...) and migrate again.';
    END IF;
END;
$$;

ALTER TABLE oms_settings
    ALTER COLUMN value_type SET NOT NULL,
    ADD CONSTRAINT oms_settings_value_type_check
        CHECK (value_type IN ('number', 'integer', 'boolean', 'string_list', 'time')),
    ADD CONSTRAINT oms_settings_bounds_check
        CHECK (CASE WHEN value_type IN ('number', 'integer', 'string_list')
                    THEN minimum IS NOT NULL AND maximum IS NOT NULL AND minimum <= maximum
                    ELSE minimum IS NULL AND maximum IS NULL END);

-- A JSON value short enough for a message: 1e308 reads 1e308, not 309 digits.
CREATE FUNCTION oms_json_brief(p_value jsonb) RETURNS text
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

-- What a setting of this type and range must be, in words.
CREATE FUNCTION oms_setting_rule(p_value_type text, p_minimum numeric, p_maximum numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_value_type
        WHEN 'number' THEN format('a number from %s to %s', trim_scale(p_minimum), trim_scale(p_maximum))
        WHEN 'integer' THEN format('a whole number from %s to %s', trim_scale(p_minimum), trim_scale(p_maximum))
        WHEN 'boolean' THEN 'true or false'
        WHEN 'string_list' THEN format('a JSON array of %s to %s strings, each with a letter or digit',
                                       trim_scale(p_minimum), trim_scale(p_maximum))
        WHEN 'time' THEN 'an ISO 8601 time with a zone (2000-01-01T00:00:00Z), from 1900-01-01T00:00:00Z to the service''s clock'
    END
$$;

-- Whether a value fits its type and range.
CREATE FUNCTION oms_setting_value_fits(p_value_type text, p_minimum numeric, p_maximum numeric, p_value jsonb)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_number numeric;
    v_time   timestamptz;
BEGIN
    CASE p_value_type
    WHEN 'number', 'integer' THEN
        IF jsonb_typeof(p_value) IS DISTINCT FROM 'number' THEN
            RETURN false;
        END IF;
        v_number := p_value::numeric;
        RETURN v_number BETWEEN p_minimum AND p_maximum AND (p_value_type = 'number' OR v_number = trunc(v_number));
    WHEN 'boolean' THEN
        RETURN jsonb_typeof(p_value) IS NOT DISTINCT FROM 'boolean';
    WHEN 'string_list' THEN
        RETURN jsonb_typeof(p_value) IS NOT DISTINCT FROM 'array'
           AND jsonb_array_length(p_value) BETWEEN p_minimum AND p_maximum
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_value) AS item(value)
                            WHERE jsonb_typeof(item.value) <> 'string' OR NOT (item.value #>> '{}') ~ '[[:alnum:]]');
    WHEN 'time' THEN
        IF jsonb_typeof(p_value) IS DISTINCT FROM 'string'
           OR (p_value #>> '{}') !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$' THEN
            RETURN false;
        END IF;
        BEGIN
            v_time := (p_value #>> '{}')::timestamptz;
        EXCEPTION WHEN data_exception THEN
            RETURN false;
        END;
        RETURN v_time BETWEEN timestamptz '1900-01-01 00:00:00+00' AND now();
    ELSE
        RETURN false;
    END CASE;
END;
$$;
COMMENT ON FUNCTION oms_setting_value_fits(text, numeric, numeric, jsonb) IS
    'Whether a setting value is of its type (number, integer, boolean, string_list, time) and within its range.';

-- Refuses a setting value out of type or range, naming the key and the bound;
-- stores a whole number in its plain form (15.0 -> 15).
CREATE FUNCTION oms_settings_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.value_type IS NULL THEN
        RETURN NEW;  -- the NOT NULL constraint says so
    END IF;
    IF NEW.value IS NULL OR NOT oms_setting_value_fits(NEW.value_type, NEW.minimum, NEW.maximum, NEW.value) THEN
        RAISE EXCEPTION '% must be %, not %', NEW.key, oms_setting_rule(NEW.value_type, NEW.minimum, NEW.maximum),
            oms_json_brief(NEW.value)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'value',
                  HINT = 'SELECT key, value, value_type, minimum, maximum FROM oms_settings lists each setting''s type and range.';
    END IF;
    IF NEW.value_type = 'integer' THEN
        NEW.value := to_jsonb(trunc(NEW.value::numeric));
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION oms_settings_check() IS
    'Trigger function: refuses a setting value out of its type or range (SQLSTATE 22023, COLUMN value), naming key and bound.';

-- Values set before this migration must already fit: the migration stops and lists the others.
DO $$
DECLARE
    v_bad text;
BEGIN
    SELECT string_agg(format('%s = %s (must be %s)', key, oms_json_brief(value),
                             oms_setting_rule(value_type, minimum, maximum)), '; ' ORDER BY key)
      INTO v_bad
      FROM oms_settings WHERE NOT oms_setting_value_fits(value_type, minimum, maximum, value);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'settings out of their type or range: %', v_bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Set them within range (UPDATE oms_settings SET value = ... WHERE key = ...) and migrate again.';
    END IF;
END;
$$;

CREATE TRIGGER oms_settings_check BEFORE INSERT OR UPDATE ON oms_settings
    FOR EACH ROW EXECUTE FUNCTION oms_settings_check();

INSERT INTO oms_settings (key, value, description, value_type, minimum, maximum) VALUES
    ('feeds.max_future_minutes', '5',
     'An event time more than this many minutes ahead of the database''s clock is refused (a sender''s clock or time zone is wrong).',
     'integer', 0, 1440),
    ('feeds.earliest_event_time', '"2000-01-01T00:00:00Z"',
     'An event time before this is refused (a sender''s default or garbage time); replays of past storms after it still work.',
     'time', NULL, NULL);

-- Changes a setting (PUT /api/v1/settings/{key}). The value is checked by
-- oms_settings_check (type and range); the row comes back with the value it
-- replaced, for the service's audit log.
DROP FUNCTION oms_setting_set(text, jsonb);
CREATE FUNCTION oms_setting_set(p_key text, p_value jsonb)
RETURNS TABLE (key text, value jsonb, description text, updated_at timestamptz, value_type text, minimum numeric,
               maximum numeric, previous_value jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_current jsonb;
BEGIN
    SELECT s.value INTO v_current FROM oms_settings s WHERE s.key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no setting %', coalesce(quote_literal(p_key), 'NULL') USING ERRCODE = 'no_data_found', COLUMN = 'key';
    END IF;
    IF p_value IS NULL THEN
        RAISE EXCEPTION 'setting %: a value is required', p_key USING ERRCODE = 'invalid_parameter_value', COLUMN = 'value';
    END IF;
    RETURN QUERY
        UPDATE oms_settings s SET value = p_value, updated_at = now() WHERE s.key = p_key
        RETURNING s.key, s.value, s.description, s.updated_at, s.value_type, s.minimum, s.maximum, v_current;
END;
$$;
COMMENT ON FUNCTION oms_setting_set(text, jsonb) IS
    'Sets a setting to a value of its type and range (22023 naming the bound otherwise; unknown key: P0002); returns it with the value it replaced.';

-- ---------------------------------------------------------------------------
-- 2. Event times within a plausible window.

-- A time as ISO 8601 in UTC, for messages ("2999-01-01T00:00:00Z"; BC said so).
CREATE FUNCTION oms_iso_time(p_time timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    || CASE WHEN p_time < timestamptz '0001-01-01 00:00:00+00' THEN ' BC' ELSE '' END,
                    p_time::text)
$$;

-- The event times accepted now: from feeds.earliest_event_time to
-- feeds.max_future_minutes after the database's clock.
CREATE FUNCTION oms_event_time_window(OUT earliest timestamptz, OUT latest timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT (oms_setting('feeds.earliest_event_time') #>> '{}')::timestamptz,
           now() + make_interval(mins => (oms_setting('feeds.max_future_minutes') #>> '{}')::int)
$$;
COMMENT ON FUNCTION oms_event_time_window() IS
    'The event times accepted now: from feeds.earliest_event_time to now() + feeds.max_future_minutes.';

-- Refuses an event time outside the window, naming the field (p_context, e.g.
-- 'ONU event', prefixes the message as the feeds' other errors do).
CREATE FUNCTION oms_check_event_time(p_time timestamptz, p_field text, p_context text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_window record;
    v_what   text := CASE WHEN p_context IS NULL THEN p_field ELSE format('%s: field "%s"', p_context, p_field) END;
BEGIN
    SELECT * INTO v_window FROM oms_event_time_window();
    IF p_time IS NULL OR p_time BETWEEN v_window.earliest AND v_window.latest THEN
        RETURN p_time;
    END IF;
    IF p_time > v_window.latest THEN
        RAISE EXCEPTION '% is %, more than % minutes ahead of the service''s clock (%)', v_what, oms_iso_time(p_time),
            oms_setting('feeds.max_future_minutes'), oms_iso_time(now())
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field,
                  HINT = 'The sender''s clock or time zone is wrong; feeds.max_future_minutes sets how far ahead an event may be.';
    END IF;
    RAISE EXCEPTION '% is %, before the earliest event time accepted (%, feeds.earliest_event_time)', v_what,
        oms_iso_time(p_time), oms_iso_time(v_window.earliest)
        USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field,
              HINT = 'feeds.earliest_event_time sets the earliest event time accepted.';
END;
$$;
COMMENT ON FUNCTION oms_check_event_time(timestamptz, text, text) IS
    'Returns an event time within oms_event_time_window(); else SQLSTATE 22023 naming the field (COLUMN) and the bound.';

-- An ISO 8601 time with a zone, within the plausible window; an error naming the field otherwise.
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

-- The seed's update_meter_status(), now refusing an implausible time (COLUMN 'timestamp').
CREATE OR REPLACE FUNCTION update_meter_status(
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
    PERFORM oms_check_event_time(coalesce(p_event_timestamp, now()), 'timestamp', NULL);
    SELECT a.status_event_id INTO v_event_id
      FROM oms_apply_meter_status(ARRAY[v_meter_id], 'power_status', p_new_status, p_event_type, p_source_type,
                                  p_source_event_id, coalesce(p_event_timestamp, now()),
                                  oms_source_confidence(p_source_type), p_metadata, false) a;
    RETURN v_event_id;
END;
$$;

-- ---------------------------------------------------------------------------
-- 3 and 4. A manual status change: whether it was applied; a request id names one change.

DROP FUNCTION oms_set_meter_power_status(text, text, text, timestamptz, text);
CREATE FUNCTION oms_set_meter_power_status(
    p_meter_number  text,
    p_power_status  text,
    p_request_id    text,
    p_timestamp     timestamptz DEFAULT NULL,
    p_note          text DEFAULT NULL
) RETURNS TABLE (status_event_id uuid, duplicate boolean, applied boolean, newer_state_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_meter_id  uuid;
    v_existing  oms_meter_status_events;
    v_event_id  uuid;
    v_applied   boolean;
BEGIN
    IF p_request_id IS NULL OR btrim(p_request_id) = '' THEN
        RAISE EXCEPTION 'a request id is required: the same id sent again is recognised as a repeat'
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'request_id';
    END IF;
    SELECT m.id INTO v_meter_id FROM oms_meters m WHERE m.meter_number = btrim(p_meter_number);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown meter "%"', p_meter_number USING ERRCODE = 'no_data_found', COLUMN = 'meter_number';
    END IF;
    IF p_power_status IS NULL OR p_power_status NOT IN ('on', 'off', 'unknown') THEN
        RAISE EXCEPTION 'invalid power status "%": use on, off or unknown', p_power_status
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'power_status';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('oms manual status ' || p_request_id));
    SELECT e.* INTO v_existing FROM oms_meter_status_events e
     WHERE e.source_type = 'manual' AND e.source_event_id = p_request_id
     ORDER BY e.created_at
     LIMIT 1;
    IF FOUND THEN
        IF v_existing.meter_id <> v_meter_id OR v_existing.status_field <> 'power_status'
           OR v_existing.new_status IS DISTINCT FROM p_power_status
           OR (p_timestamp IS NOT NULL AND v_existing.event_timestamp IS DISTINCT FROM p_timestamp)
           OR (v_existing.metadata ->> 'note') IS DISTINCT FROM p_note THEN
            RAISE EXCEPTION '%', format(
                'request id "%s" was already used for another change (meter %s, power %s at %s%s): a new change needs a new request id',
                p_request_id, (SELECT m.meter_number FROM oms_meters m WHERE m.id = v_existing.meter_id),
                v_existing.new_status, oms_iso_time(v_existing.event_timestamp),
                CASE WHEN v_existing.metadata ? 'note' THEN format(', note "%s"', v_existing.metadata ->> 'note') ELSE '' END)
                USING ERRCODE = 'unique_violation', COLUMN = 'request_id';
        END IF;
        RETURN QUERY
        SELECT v_existing.id, true, v_existing.applied,
               CASE WHEN NOT v_existing.applied THEN (SELECT m.last_status_change FROM oms_meters m WHERE m.id = v_meter_id) END;
        RETURN;
    END IF;
    v_event_id := update_meter_status(p_meter_number, p_power_status, 'manual_status_change', 'manual', p_request_id,
                                      coalesce(p_timestamp, now()),
                                      CASE WHEN p_note IS NULL THEN NULL ELSE jsonb_build_object('note', p_note) END);
    SELECT e.applied INTO v_applied FROM oms_meter_status_events e WHERE e.id = v_event_id;
    RETURN QUERY
    SELECT v_event_id, false, v_applied,
           CASE WHEN NOT v_applied THEN (SELECT m.last_status_change FROM oms_meters m WHERE m.id = v_meter_id) END;
END;
$$;
COMMENT ON FUNCTION oms_set_meter_power_status(text, text, text, timestamptz, text) IS
    'A manual power-status change named by a request id: whether it was applied (not when older than the meter''s newer state, newer_state_at); a repeat changes nothing; the id reused for another change: SQLSTATE 23505.';

-- ---------------------------------------------------------------------------
-- 5. A SCADA event stored without a check is checked when delivered again, once it can be.

-- Why a stored SCADA event cannot be checked now (NULL: it can).
CREATE FUNCTION oms_scada_unchecked_reason(p_event scada_events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT oms_scada_is_critical(p_event.alarm_type, p_event.event_type)
        THEN format('not critical: alarm type %s and event type %s are not in scada.critical_alarms',
                    coalesce('"' || p_event.alarm_type || '"', 'none'), '"' || p_event.event_type || '"')
        WHEN NOT EXISTS (SELECT 1 FROM network_substations s WHERE s.substation_id = p_event.substation_id)
        THEN format('unknown substation "%s"', p_event.substation_id)
        WHEN p_event.feeder_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM network_feeders f WHERE f.feeder_id = p_event.feeder_id)
        THEN format('unknown feeder "%s"', p_event.feeder_id)
    END
$$;
COMMENT ON FUNCTION oms_scada_unchecked_reason(scada_events) IS
    'Why a SCADA event is not checked (not critical, unknown substation or feeder), or NULL when it can be.';

CREATE OR REPLACE FUNCTION insert_scada_event_with_meter_check(p_event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_stored    record;
    v_event     scada_events;
    v_result    jsonb;
    v_check     record;
    v_reason    text;
    v_previous  jsonb;
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
            v_result := jsonb_build_object(
                'scada_event_id', v_event.id, 'meters_checked', false, 'reason', v_reason,
                'substation_id', v_event.substation_id, 'feeder_id', v_event.feeder_id,
                'total_meters', 0, 'offline_meters', 0, 'online_meters', 0, 'unknown_meters', 0,
                'outage_event_id', NULL);
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
        'outage_event_code', (SELECT o.event_id FROM oms_outage_events o WHERE o.id = v_check.outage_event_id));
    IF v_previous IS NOT NULL THEN
        v_result := v_result || jsonb_build_object('rechecked', true, 'previous_reason', v_previous ->> 'reason');
    END IF;
    UPDATE scada_events SET check_result = v_result WHERE id = v_event.id;
    RETURN v_result;
END;
$$;
COMMENT ON FUNCTION insert_scada_event_with_meter_check(jsonb) IS
    'Stores a SCADA event and, when critical, checks its meters and opens or joins an outage; a repeat of one stored unchecked is checked once it can be ("rechecked"); returns the summary as jsonb.';

-- ---------------------------------------------------------------------------
-- 2 (continued). The ONU and KAIFA batches (0017, unchanged but for two
-- things): the inline path takes only times that cannot fail the cast (a
-- year from 1000, a valid month, day, hour, minute and second, at most 9
-- decimals, a zone offset up to 15:59; the 29th of February goes to the
-- parser), and the times it read are checked against the window.

CREATE OR REPLACE FUNCTION insert_onu_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
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
           AND e.value ->> 'timestamp' ~ '^[1-9]\d{3}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-5]):[0-5]\d)$',
           nullif(btrim(e.value ->> 'eventId'), ''), btrim(e.value ->> 'type'),
           nullif(btrim(e.value ->> 'onuId'), ''), nullif(upper(btrim(e.value ->> 'onuSerial')), '')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n);
    UPDATE oms_onu_staged s
       SET event_timestamp = (s.message ->> 'timestamp')::timestamptz,
           event_kind = oms_onu_event_kind(s.event_type, NULL, NULL)
     WHERE s.fast;
    -- Times read inline are checked here, once for the batch (0031): the first
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

CREATE OR REPLACE FUNCTION insert_kaifa_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_new      integer;
    v_stored   integer;
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
           AND e.value ->> 'createdDateTime' ~ '^[1-9]\d{3}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-5]):[0-5]\d)$',
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
    -- Times read inline are checked here, once for the batch (0031): the first
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
