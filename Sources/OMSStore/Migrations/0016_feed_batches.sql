-- 0016 Batch forms of the feed functions: a jsonb array of messages in one
-- call and one transaction, one result per message, in order.
--
--   insert_scada_events_with_meter_check(jsonb)      -> jsonb array
--   insert_onu_events_with_meter_sync(jsonb)         -> jsonb array
--   insert_kaifa_events_with_meter_sync(jsonb)       -> jsonb array
--   insert_callcenter_tickets_with_meter_link(jsonb) -> jsonb array
--
-- Each message goes through the single-message function, so the rules are the
-- same; a batch saves the round trip and the commit per message (the batch is
-- durable when the call returns). A message the database refuses fails the whole
-- batch: the service decodes messages first and, should a batch fail, falls back
-- to one call per message so that good messages still land. Not yet set-based
-- across messages: each message's own statements are.

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

CREATE FUNCTION insert_onu_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_events, 'ONU events');
    RETURN (SELECT coalesce(jsonb_agg(insert_onu_event_from_json_with_meter_sync(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n));
END;
$$;

CREATE FUNCTION insert_kaifa_events_with_meter_sync(p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_events, 'KAIFA events');
    RETURN (SELECT coalesce(jsonb_agg(insert_kaifa_event_from_json_with_meter_sync(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n));
END;
$$;

CREATE FUNCTION insert_callcenter_tickets_with_meter_link(p_tickets jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_tickets, 'call-center tickets');
    RETURN (SELECT coalesce(jsonb_agg(insert_callcenter_ticket_from_json_with_meter_link(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_tickets) WITH ORDINALITY AS e(value, n));
END;
$$;
