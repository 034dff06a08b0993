-- 0026 A meter's status history, newest first, a page at a time.
--
-- GET /api/v1/meters/{meter_number}/history calls this, and psql users can too:
--   SELECT * FROM oms_meter_history('M10000311');                  -- the newest 100
--   SELECT * FROM oms_meter_history('M10000311', 100, '<cursor>'); -- the 100 after them
-- Keyset pagination: a row's cursor names its place in the order
-- (event_timestamp DESC, id DESC), and the next page starts strictly after it,
-- through oms_meter_status_events_meter_time_idx. Unlike OFFSET, a page costs
-- the same however deep it is, and rows added meanwhile (newer ones) neither
-- shift nor repeat the pages being read.
--
-- The cursor is opaque to callers: base64url of "<UTC time to the microsecond>|<id>"
-- (oms_page_cursor; the outage list pages the same way).
-- An unknown meter is an error (SQLSTATE P0002, no_data_found) so that the API
-- can tell "no such meter" (404) from "no history yet" (an empty page).

CREATE FUNCTION oms_page_cursor(p_time timestamptz, p_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT rtrim(translate(encode(convert_to(
               to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || p_id::text, 'UTF8'),
               'base64'), '+/' || chr(10), '-_'), '=')
$$;
COMMENT ON FUNCTION oms_page_cursor(timestamptz, uuid) IS
    'The opaque page cursor of a row ordered by (time DESC, id DESC): base64url of its UTC time and id.';

-- The position a cursor names; a cursor that this database did not make is
-- refused (SQLSTATE 22023, column p_cursor).
CREATE FUNCTION oms_page_cursor_position(p_cursor text, OUT position_time timestamptz, OUT position_id uuid)
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    v_text text;
BEGIN
    BEGIN
        v_text := convert_from(decode(
            rpad(translate(p_cursor, '-_', '+/'), ((length(p_cursor) + 3) / 4) * 4, '='), 'base64'), 'UTF8');
        position_time := split_part(v_text, '|', 1)::timestamptz;
        position_id := split_part(v_text, '|', 2)::uuid;
    EXCEPTION WHEN OTHERS THEN
        position_id := NULL;
    END;
    IF position_id IS NULL OR position_time IS NULL
       OR oms_page_cursor(position_time, position_id) IS DISTINCT FROM p_cursor THEN
        RAISE EXCEPTION 'invalid cursor %: pass the cursor of the last row of a page, unchanged', quote_literal(p_cursor)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_cursor';
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_page_cursor_position(text) IS
    'The (time, id) a page cursor of oms_page_cursor() names; SQLSTATE 22023 for anything else.';

-- A page size from 1 to 10,000, else SQLSTATE 22023 naming p_limit.
CREATE FUNCTION oms_page_limit_checked(p_limit integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'invalid limit %: p_limit must be from 1 to 10000', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_limit';
    END IF;
    RETURN p_limit;
END;
$$;

CREATE FUNCTION oms_meter_history(p_meter_number text, p_limit integer DEFAULT 100, p_cursor text DEFAULT NULL)
RETURNS TABLE (id uuid, event_type text, source_type text, source_event_id text, status_field text,
               previous_status text, new_status text, event_timestamp timestamptz, confidence_score numeric,
               applied boolean, metadata jsonb, created_at timestamptz, cursor text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_meter_id uuid;
    v_time     timestamptz;
    v_id       uuid;
BEGIN
    PERFORM oms_page_limit_checked(p_limit);
    SELECT m.id INTO v_meter_id FROM oms_meters m WHERE m.meter_number = p_meter_number;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no meter %', coalesce(quote_literal(p_meter_number), 'NULL')
            USING ERRCODE = 'no_data_found', COLUMN = 'p_meter_number';
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.position_time, c.position_id INTO v_time, v_id FROM oms_page_cursor_position(p_cursor) c;
    END IF;
    RETURN QUERY
        SELECT e.id, e.event_type, e.source_type, e.source_event_id, e.status_field, e.previous_status, e.new_status,
               e.event_timestamp, e.confidence_score, e.applied, e.metadata, e.created_at,
               oms_page_cursor(e.event_timestamp, e.id)
          FROM oms_meter_status_events e
         WHERE e.meter_id = v_meter_id
           AND (p_cursor IS NULL OR (e.event_timestamp, e.id) < (v_time, v_id))
         ORDER BY e.event_timestamp DESC, e.id DESC
         LIMIT p_limit;
END;
$$;
COMMENT ON FUNCTION oms_meter_history(text, integer, text) IS
    'A meter''s status changes (the audit trail), newest first, p_limit at a time; pass the last row''s cursor for the next page. Unknown meter: SQLSTATE P0002.';
