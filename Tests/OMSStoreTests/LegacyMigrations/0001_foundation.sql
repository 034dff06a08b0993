-- 0001 Foundation: shared helpers and the settings table.
--
-- Every threshold and weight that a correlation rule uses lives in
-- oms_settings, so that an operator can tune the rules with plain SQL
-- (UPDATE oms_settings SET value = '20' WHERE key = '...') and every caller,
-- psql or the Swift service, sees the same value. Later migrations add rows.
--
-- Needs nothing beyond stock PostgreSQL 15: gen_random_uuid() is built in.

-- Keeps updated_at / last_updated_at honest on every UPDATE.
CREATE FUNCTION oms_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION oms_touch_updated_at() IS
    'Trigger function: sets updated_at to now() on every row update.';

CREATE TABLE oms_settings (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    value       jsonb NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_settings IS
    'Thresholds and weights of the correlation rules, one row per setting (dotted lowercase keys).';

CREATE TRIGGER oms_settings_touch BEFORE UPDATE ON oms_settings
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

-- Typed readers, so rules never parse jsonb by hand. A missing key is an
-- error: a rule must never silently run with a guessed threshold.
CREATE FUNCTION oms_setting(p_key text) RETURNS jsonb
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

CREATE FUNCTION oms_setting_numeric(p_key text) RETURNS numeric
LANGUAGE sql STABLE AS $$ SELECT (oms_setting(p_key) #>> '{}')::numeric $$;

CREATE FUNCTION oms_setting_interval_minutes(p_key text) RETURNS interval
LANGUAGE sql STABLE AS $$ SELECT make_interval(mins => (oms_setting(p_key) #>> '{}')::int) $$;

-- The seed's own numbers: "timeout if > 15 min" and "Confidence: 0.9 (high - from SCADA)".
INSERT INTO oms_settings (key, value, description) VALUES
    ('meter.communication_timeout_minutes', '15',
     'A meter whose last communication is older than this (minutes) at the time of a check is not counted online.'),
    ('scada.confidence', '0.9',
     'Weight of SCADA evidence for an outage (an outage opened by SCADA alone has this confidence) and confidence of the status changes it makes.');
