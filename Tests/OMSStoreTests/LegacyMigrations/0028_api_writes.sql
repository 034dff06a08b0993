-- 0028 The write API's two functions: a manual meter status change that a
-- repeated request cannot apply twice, and a checked settings update.

-- A manual power-status change (PUT /api/v1/meters/{meter_number}/status), through
-- the seed's update_meter_status() with source 'manual'. p_request_id names the
-- change: the same request delivered again (a client's retry) finds the audit
-- row of the first and changes nothing (duplicate = true). Two deliveries at
-- once are serialised on the request id (a transaction-scoped advisory lock).
CREATE FUNCTION oms_set_meter_power_status(
    p_meter_number  text,
    p_power_status  text,
    p_request_id    text,
    p_timestamp     timestamptz DEFAULT now(),
    p_note          text DEFAULT NULL
) RETURNS TABLE (status_event_id uuid, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_meter_id uuid;
    v_existing uuid;
BEGIN
    IF p_request_id IS NULL OR btrim(p_request_id) = '' THEN
        RAISE EXCEPTION 'a request id is required: the same id sent again is recognised as a repeat'
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'request_id';
    END IF;
    SELECT m.id INTO v_meter_id FROM oms_meters m WHERE m.meter_number = btrim(p_meter_number);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown meter "%"', p_meter_number USING ERRCODE = 'no_data_found', COLUMN = 'meter_number';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('oms manual status ' || p_request_id));
    SELECT e.id INTO v_existing FROM oms_meter_status_events e
     WHERE e.source_type = 'manual' AND e.source_event_id = p_request_id AND e.meter_id = v_meter_id
     LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT v_existing, true;
        RETURN;
    END IF;
    RETURN QUERY SELECT update_meter_status(p_meter_number, p_power_status, 'manual_status_change', 'manual', p_request_id,
                                            coalesce(p_timestamp, now()),
                                            CASE WHEN p_note IS NULL THEN NULL ELSE jsonb_build_object('note', p_note) END),
                        false;
END;
$$;
COMMENT ON FUNCTION oms_set_meter_power_status(text, text, text, timestamptz, text) IS
    'A manual power-status change of one meter, named by a request id: a repeat of the same id changes nothing.';

-- Changes a setting. The new value must be of the JSON type the setting has
-- (a number stays a number, a list a list): a typo cannot turn a threshold
-- into text that every rule reading it would then fail on.
CREATE FUNCTION oms_setting_set(p_key text, p_value jsonb)
RETURNS TABLE (key text, value jsonb, description text, updated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_current jsonb;
BEGIN
    SELECT s.value INTO v_current FROM oms_settings s WHERE s.key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no setting %', coalesce(quote_literal(p_key), 'NULL') USING ERRCODE = 'no_data_found', COLUMN = 'key';
    END IF;
    IF p_value IS NULL OR jsonb_typeof(p_value) IS DISTINCT FROM jsonb_typeof(v_current) THEN
        RAISE EXCEPTION 'setting % holds a %, not a %', p_key, jsonb_typeof(v_current), coalesce(jsonb_typeof(p_value), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'value';
    END IF;
    RETURN QUERY
        UPDATE oms_settings s SET value = p_value, updated_at = now() WHERE s.key = p_key
        RETURNING s.key, s.value, s.description, s.updated_at;
END;
$$;
COMMENT ON FUNCTION oms_setting_set(text, jsonb) IS
    'Sets a setting to a value of the same JSON type as its current one; unknown key: SQLSTATE P0002.';
