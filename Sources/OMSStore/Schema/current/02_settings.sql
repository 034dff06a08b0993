-- Settings: the typed readers every rule uses, the check of every write (a
-- type and a range per setting), the API's write, and the window of plausible
-- event times. The rows themselves (and their types and ranges) are seeded
-- by ../versioned/0100_baseline.sql.
--
-- A value out of type or range is refused with SQLSTATE 22023, COLUMN 'value',
-- and a message naming the key and the bound, whoever writes it: psql users'
-- UPDATE oms_settings SET value = ... is checked like PUT /api/v1/settings:
--     onu.confidence must be a number from 0 to 1, not 1.5
-- A whole number written as 15.0 or 1.5e1 is stored as 15 (the readers cast
-- minutes to integer).

-- ---------------------------------------------------------------------------
-- Typed readers, so rules never parse jsonb by hand. A missing key is an
-- error: a rule must never silently run with a guessed threshold.
CREATE OR REPLACE FUNCTION oms_setting(p_key text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_value jsonb;
BEGIN
    SELECT value INTO v_value FROM oms_settings WHERE key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown setting "%"', p_key
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT key FROM oms_settings lists the known settings.';
    END IF;
    RETURN v_value;
END;
$$;
COMMENT ON FUNCTION oms_setting(text) IS
    'The value of a setting (jsonb); an unknown key is an error (SQLSTATE 42704), never a guessed value.';

-- A number setting ('0.9').
CREATE OR REPLACE FUNCTION oms_setting_numeric(p_key text) RETURNS numeric
LANGUAGE sql STABLE AS $$ SELECT (oms_setting(p_key) #>> '{}')::numeric $$;
COMMENT ON FUNCTION oms_setting_numeric(text) IS
    'The value of a number setting.';

-- A setting of whole minutes as an interval.
CREATE OR REPLACE FUNCTION oms_setting_interval_minutes(p_key text) RETURNS interval
LANGUAGE sql STABLE AS $$ SELECT make_interval(mins => (oms_setting(p_key) #>> '{}')::int) $$;
COMMENT ON FUNCTION oms_setting_interval_minutes(text) IS
    'The value of a setting of whole minutes, as an interval.';

-- The confidence setting of a source ('scada' -> scada.confidence): the
-- confidence of the status changes it makes and the weight of its evidence.
CREATE OR REPLACE FUNCTION oms_source_confidence(p_source_type text) RETURNS numeric
LANGUAGE sql STABLE AS $$ SELECT oms_setting_numeric(p_source_type || '.confidence') $$;
COMMENT ON FUNCTION oms_source_confidence(text) IS
    'The <source>.confidence setting: the confidence of a source''s status changes and the weight of its outage evidence.';

-- ---------------------------------------------------------------------------
-- Every write checked: a type and a range per setting (value_type, minimum,
-- maximum; for a list, its number of items; NULL for boolean and time).

-- What a setting of this type and range must be, in words.
CREATE OR REPLACE FUNCTION oms_setting_rule(p_value_type text, p_minimum numeric, p_maximum numeric) RETURNS text
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
COMMENT ON FUNCTION oms_setting_rule(text, numeric, numeric) IS
    'What a setting of this type and range must be, in words (for messages).';

-- Whether a value fits its type and range.
CREATE OR REPLACE FUNCTION oms_setting_value_fits(p_value_type text, p_minimum numeric, p_maximum numeric, p_value jsonb)
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
CREATE OR REPLACE FUNCTION oms_settings_check() RETURNS trigger
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

CREATE OR REPLACE TRIGGER oms_settings_check BEFORE INSERT OR UPDATE ON oms_settings
    FOR EACH ROW EXECUTE FUNCTION oms_settings_check();

-- Changes a setting (PUT /api/v1/settings/{key}). The value is checked by
-- oms_settings_check (type and range); the row comes back with the value it
-- replaced (previous_value), for the service's audit log line.
CREATE OR REPLACE FUNCTION oms_setting_set(p_key text, p_value jsonb)
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
-- Plausible event times. Every feed's event time (oms_json_time and the ONU and
-- KAIFA batches' inline reads), update_meter_status() and the manual change
-- refuse a time more than feeds.max_future_minutes ahead of the database's
-- clock (now()) or before feeds.earliest_event_time, with SQLSTATE 22023 and
-- COLUMN = the field. The earliest time accepted is never before 1900.

-- The event times accepted now: from feeds.earliest_event_time to
-- feeds.max_future_minutes after the database's clock.
-- (PL/pgSQL: its statement planned once a session, not at each of the many calls a batch makes.)
CREATE OR REPLACE FUNCTION oms_event_time_window(OUT earliest timestamptz, OUT latest timestamptz)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    earliest := (oms_setting('feeds.earliest_event_time') #>> '{}')::timestamptz;
    latest := now() + make_interval(mins => (oms_setting('feeds.max_future_minutes') #>> '{}')::int);
END;
$$;
COMMENT ON FUNCTION oms_event_time_window() IS
    'The event times accepted now: from feeds.earliest_event_time to now() + feeds.max_future_minutes.';

-- Refuses an event time outside the window, naming the field (p_context, e.g.
-- 'ONU event', prefixes the message as the feeds' other errors do).
CREATE OR REPLACE FUNCTION oms_check_event_time(p_time timestamptz, p_field text, p_context text) RETURNS timestamptz
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
