-- The call-center feed: trouble tickets linked to meters and outages.
--
--   insert_callcenter_ticket_from_json(jsonb) -> uuid                  store only
--   insert_callcenter_ticket_from_json_with_meter_link(jsonb) -> jsonb store, match, link the outage
--   insert_callcenter_tickets_with_meter_link(jsonb) -> jsonb          a jsonb array of those, one transaction
--
-- Following one ticket: insert_callcenter_ticket_from_json_with_meter_link
-- (here: store, match) -> oms_sync_meter_evidence, oms_sync_evidence and
-- oms_link_evidence (06_correlation.sql); a call changes no meter status.
--
-- A ticket: {"ticketId", "timestamp", "customer": {"phone", "meterNumber", "address", "customerId"?},
-- "troubleCode"?, "notes"}, or the prototype gateway's wrapping of it as a JSON
-- string in message.request.body.
--
-- Matching, first that finds a meter: the meter number as customers type it
-- (case, spaces and separators ignored; leading zeros too when
-- call_center.strip_leading_zeros: oms_meter_number_key and its two indexes),
-- the customer id, the phone (last 10 digits, oms_phone_key; only a phone that
-- is one customer's) -> customer -> meters. A call changes no meter status (a customer's word is not
-- telemetry); it is outage evidence (weight call_center.confidence) unless its
-- trouble code is known not to be an outage (callcenter_trouble_codes).

-- Stores a ticket unless it is a repeat (same ticketId).
CREATE OR REPLACE FUNCTION oms_store_callcenter_ticket(p_message jsonb, OUT ticket_uuid uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c_context CONSTANT text := 'call-center ticket';
    v_ticket    jsonb := p_message;
    v_customer  jsonb;
    v_ticket_id text;
BEGIN
    -- The prototype's gateway: the ticket as a JSON string in message.request.body.
    IF jsonb_typeof(v_ticket #> '{message,request,body}') = 'string' THEN
        BEGIN
            v_ticket := (v_ticket #>> '{message,request,body}')::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
            RAISE EXCEPTION '%: field "message.request.body" is not valid JSON', c_context
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'message.request.body';
        END;
    END IF;
    IF v_ticket IS NULL OR jsonb_typeof(v_ticket) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(v_ticket), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_ticket_id := oms_json_required_text(v_ticket, 'ticketId', c_context);
    v_customer := v_ticket -> 'customer';
    IF v_customer IS NULL OR jsonb_typeof(v_customer) <> 'object' THEN
        RAISE EXCEPTION '%: field "customer" must be an object with "meterNumber", "phone" or "customerId"', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'customer';
    END IF;
    IF oms_json_text(v_customer, 'meterNumber', c_context) IS NULL
       AND oms_json_text(v_customer, 'phone', c_context) IS NULL
       AND oms_json_text(v_customer, 'customerId', c_context) IS NULL THEN
        RAISE EXCEPTION '%: field "customer" needs "meterNumber", "phone" or "customerId"', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'customer';
    END IF;

    INSERT INTO callcenter_tickets (ticket_id, event_timestamp, customer_phone, meter_number, customer_address,
                                    customer_ref, trouble_code, notes, raw)
    VALUES (v_ticket_id, oms_json_time(v_ticket, 'timestamp', c_context),
            oms_json_text(v_customer, 'phone', c_context), oms_json_text(v_customer, 'meterNumber', c_context),
            oms_json_text(v_customer, 'address', c_context), oms_json_text(v_customer, 'customerId', c_context),
            oms_json_text(v_ticket, 'troubleCode', c_context), oms_json_text(v_ticket, 'notes', c_context),
            p_message)
    ON CONFLICT (ticket_id) DO NOTHING
    RETURNING id INTO ticket_uuid;
    inserted := ticket_uuid IS NOT NULL;
    IF NOT inserted THEN
        SELECT t.id INTO ticket_uuid FROM callcenter_tickets t WHERE t.ticket_id = v_ticket_id;
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_store_callcenter_ticket(jsonb) IS
    'Stores a call-center ticket unless it is a repeat (same ticketId); returns its id and whether it was new.';

-- The seed's store-only function.
CREATE OR REPLACE FUNCTION insert_callcenter_ticket_from_json(p_ticket jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT ticket_uuid FROM oms_store_callcenter_ticket(p_ticket) $$;
COMMENT ON FUNCTION insert_callcenter_ticket_from_json(jsonb) IS
    'Stores a call-center ticket (or the gateway''s wrapping of it) without linking; a repeat returns the first id.';

-- Stores a ticket, matches its meters and links the covering outage as
-- evidence; the answer is kept (sync_result) for repeats.
CREATE OR REPLACE FUNCTION insert_callcenter_ticket_from_json_with_meter_link(p_ticket jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_stored    record;
    v_ticket    callcenter_tickets;
    v_strip     boolean := (oms_setting('call_center.strip_leading_zeros') #>> '{}')::boolean;
    v_meters    uuid[];
    v_numbers   text[];
    v_by        text;
    v_customer  uuid;
    v_kind      text;
    v_sync      jsonb;
    v_result    jsonb;
BEGIN
    SELECT * INTO v_stored FROM oms_store_callcenter_ticket(p_ticket);
    SELECT * INTO v_ticket FROM callcenter_tickets WHERE id = v_stored.ticket_uuid;
    IF v_ticket.sync_result IS NOT NULL THEN
        RETURN v_ticket.sync_result || '{"duplicate": true}';
    END IF;

    -- The meter number as typed (the indexes hold both normalised forms).
    IF v_ticket.meter_number IS NOT NULL THEN
        IF v_strip THEN
            SELECT array_agg(m.id), array_agg(m.meter_number) INTO v_meters, v_numbers FROM oms_meters m
             WHERE oms_meter_number_key(m.meter_number, true) = oms_meter_number_key(v_ticket.meter_number, true)
               AND m.status = 'active';
        ELSE
            SELECT array_agg(m.id), array_agg(m.meter_number) INTO v_meters, v_numbers FROM oms_meters m
             WHERE oms_meter_number_key(m.meter_number, false) = oms_meter_number_key(v_ticket.meter_number, false)
               AND m.status = 'active';
        END IF;
        v_by := CASE WHEN v_meters IS NOT NULL THEN 'meter_number' END;
    END IF;
    -- Else the customer: by id, else by phone.
    IF v_meters IS NULL AND v_ticket.customer_ref IS NOT NULL THEN
        SELECT array_agg(m.id ORDER BY m.meter_number), array_agg(m.meter_number ORDER BY m.meter_number), min(c.id::text)::uuid
          INTO v_meters, v_numbers, v_customer
          FROM oms_customers c JOIN oms_meters m ON m.customer_id = c.id AND m.status = 'active'
         WHERE c.customer_id = v_ticket.customer_ref;
        v_by := CASE WHEN v_meters IS NOT NULL THEN 'customer_id' END;
    END IF;
    IF v_meters IS NULL AND oms_phone_key(v_ticket.customer_phone) IS NOT NULL THEN
        -- Only a phone that is one customer's: one several customers share (a landlord's, a
        -- registry typo) would put the call on premises the caller is not at, each a false
        -- outage; the ticket stays unmatched, reported for an operator.
        SELECT array_agg(m.id ORDER BY m.meter_number), array_agg(m.meter_number ORDER BY m.meter_number), min(c.id::text)::uuid
          INTO v_meters, v_numbers, v_customer
          FROM oms_customers c JOIN oms_meters m ON m.customer_id = c.id AND m.status = 'active'
         WHERE oms_phone_key(c.phone) = oms_phone_key(v_ticket.customer_phone)
        HAVING count(DISTINCT c.id) = 1;
        v_by := CASE WHEN v_meters IS NOT NULL THEN 'phone' END;
    END IF;
    IF v_customer IS NULL AND v_meters IS NOT NULL THEN
        SELECT m.customer_id INTO v_customer FROM oms_meters m WHERE m.id = v_meters[1];
    END IF;

    v_kind := CASE WHEN (SELECT NOT t.is_outage FROM callcenter_trouble_codes t
                          WHERE t.code = oms_normalize_code(v_ticket.trouble_code)) THEN 'none' ELSE 'call' END;
    v_sync := oms_sync_meter_evidence(
        'call_center', v_ticket.ticket_id, 'callcenter_tickets', v_meters, v_kind, v_ticket.event_timestamp,
        format('Customer call %s (%s)', v_ticket.ticket_id, coalesce(v_ticket.trouble_code, 'no trouble code')),
        jsonb_build_object('ticket_id', v_ticket.ticket_id));

    v_result := jsonb_build_object(
        'callcenter_ticket_id', v_ticket.id,
        'ticket_id', v_ticket.ticket_id,
        'kind', v_kind,
        'match_status', CASE WHEN v_meters IS NULL THEN 'unmatched' ELSE 'matched' END,
        'matched_by', v_by,
        'meters_matched', coalesce(cardinality(v_meters), 0),
        'meter_numbers', coalesce(to_jsonb(v_numbers), '[]'::jsonb)) || v_sync;

    UPDATE callcenter_tickets
       SET meter_id = v_meters[1], customer_id = v_customer, matched_by = v_by,
           match_status = CASE WHEN v_meters IS NULL THEN 'unmatched' ELSE 'matched' END,
           meters_matched = coalesce(cardinality(v_meters), 0),
           outage_event_id = (v_sync -> 'outage_event_ids' ->> 0)::uuid,
           sync_result = v_result
     WHERE id = v_ticket.id;
    RETURN v_result;
END;
$$;
COMMENT ON FUNCTION insert_callcenter_ticket_from_json_with_meter_link(jsonb) IS
    'Stores a call-center ticket, matches its meter (number, customer id, phone) and links it to the covering outage as evidence.';

-- Tickets (a jsonb array) in one call and one transaction, one result each, in order.
CREATE OR REPLACE FUNCTION insert_callcenter_tickets_with_meter_link(p_tickets jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_require_array(p_tickets, 'call-center tickets');
    RETURN (SELECT coalesce(jsonb_agg(insert_callcenter_ticket_from_json_with_meter_link(e.value) ORDER BY e.n), '[]'::jsonb)
              FROM jsonb_array_elements(p_tickets) WITH ORDINALITY AS e(value, n));
END;
$$;
COMMENT ON FUNCTION insert_callcenter_tickets_with_meter_link(jsonb) IS
    'Call-center tickets (a jsonb array) in one transaction, each through insert_callcenter_ticket_from_json_with_meter_link; one result each, in order.';
