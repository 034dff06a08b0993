-- The call-center feed: trouble tickets linked to meters and outages.
--
--   insert_callcenter_ticket_from_json(jsonb) -> uuid                  store only
--   insert_callcenter_ticket_from_json_with_meter_link(jsonb) -> jsonb store, match, link the outage
--   insert_callcenter_tickets_with_meter_link(jsonb) -> jsonb          a jsonb array of those, one transaction
--
-- Following tickets: insert_callcenter_tickets_with_meter_link (here: store each,
-- match each, a batch of one for the one-ticket function) -> oms_sync_evidence
-- and oms_link_feed_evidence for all of them together (06_correlation.sql); a
-- call changes no meter status.
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

-- A stored ticket's meters, by the matching rules above: the meter number as
-- typed (the indexes hold both normalised forms), else the customer by id, else
-- by a phone that is one customer's.
CREATE OR REPLACE FUNCTION oms_callcenter_match(p_ticket callcenter_tickets, p_strip boolean,
                                                OUT meter_ids uuid[], OUT meter_numbers text[], OUT matched_by text,
                                                OUT customer uuid)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    IF p_ticket.meter_number IS NOT NULL THEN
        IF p_strip THEN
            SELECT array_agg(m.id), array_agg(m.meter_number) INTO meter_ids, meter_numbers FROM oms_meters m
             WHERE oms_meter_number_key(m.meter_number, true) = oms_meter_number_key(p_ticket.meter_number, true)
               AND m.status = 'active';
        ELSE
            SELECT array_agg(m.id), array_agg(m.meter_number) INTO meter_ids, meter_numbers FROM oms_meters m
             WHERE oms_meter_number_key(m.meter_number, false) = oms_meter_number_key(p_ticket.meter_number, false)
               AND m.status = 'active';
        END IF;
        matched_by := CASE WHEN meter_ids IS NOT NULL THEN 'meter_number' END;
    END IF;
    -- Else the customer: by id, else by phone.
    IF meter_ids IS NULL AND p_ticket.customer_ref IS NOT NULL THEN
        SELECT array_agg(m.id ORDER BY m.meter_number), array_agg(m.meter_number ORDER BY m.meter_number), min(c.id::text)::uuid
          INTO meter_ids, meter_numbers, customer
          FROM oms_customers c JOIN oms_meters m ON m.customer_id = c.id AND m.status = 'active'
         WHERE c.customer_id = p_ticket.customer_ref;
        matched_by := CASE WHEN meter_ids IS NOT NULL THEN 'customer_id' END;
    END IF;
    IF meter_ids IS NULL AND oms_phone_key(p_ticket.customer_phone) IS NOT NULL THEN
        -- Only a phone that is one customer's: one several customers share (a landlord's, a
        -- registry typo) would put the call on premises the caller is not at, each a false
        -- outage; the ticket stays unmatched, reported for an operator.
        SELECT array_agg(m.id ORDER BY m.meter_number), array_agg(m.meter_number ORDER BY m.meter_number), min(c.id::text)::uuid
          INTO meter_ids, meter_numbers, customer
          FROM oms_customers c JOIN oms_meters m ON m.customer_id = c.id AND m.status = 'active'
         WHERE oms_phone_key(c.phone) = oms_phone_key(p_ticket.customer_phone)
        HAVING count(DISTINCT c.id) = 1;
        matched_by := CASE WHEN meter_ids IS NOT NULL THEN 'phone' END;
    END IF;
    IF customer IS NULL AND meter_ids IS NOT NULL THEN
        SELECT m.customer_id INTO customer FROM oms_meters m WHERE m.id = meter_ids[1];
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_callcenter_match(callcenter_tickets, boolean) IS
    'A stored ticket''s meters: by meter number as typed, else customer id, else a phone that is one customer''s; how, and the customer.';

-- Tickets (a jsonb array) in one call and one transaction, one result each, in
-- order: each stored (oms_store_callcenter_ticket, which refuses a bad one
-- naming its field) and matched (oms_callcenter_match), then all the new ones
-- correlated together by one oms_sync_evidence call, as a batch of last gasps
-- is (each ticket through the one-ticket path cost ~7 ms, its own correlation:
-- 2,197 calls of the mixed storm at 1M took 15.4 s). A repeat, in the batch or
-- of an earlier one, answers with the first result and "duplicate": true. The
-- answer is kept (sync_result) for repeats.
CREATE OR REPLACE FUNCTION insert_callcenter_tickets_with_meter_link(p_tickets jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_strip boolean := (oms_setting('call_center.strip_leading_zeros') #>> '{}')::boolean;
BEGIN
    PERFORM oms_require_array(p_tickets, 'call-center tickets');
    IF to_regclass('pg_temp.oms_callcenter_staged') IS NULL THEN
        -- (Plain columns, not the ticket's row type: a session table using it would stop
        -- any later ALTER TABLE callcenter_tickets while the session lives.)
        CREATE TEMP TABLE oms_callcenter_staged (
            n bigint, ticket_uuid uuid, first_n bigint, process boolean NOT NULL DEFAULT false,
            ticket_id text, event_timestamp timestamptz, trouble_code text, stored_result jsonb,
            meter_ids uuid[], meter_numbers text[], matched_by text, customer uuid, kind text, result jsonb)
            ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_callcenter_staged');

    -- 1. Stored, in order (a bad ticket refuses the call here, as on its own).
    INSERT INTO oms_callcenter_staged (n, ticket_uuid)
    SELECT e.n, s.ticket_uuid
      FROM jsonb_array_elements(p_tickets) WITH ORDINALITY AS e(value, n)
     CROSS JOIN LATERAL oms_store_callcenter_ticket(e.value) s
     ORDER BY e.n;
    -- Each ticket's row; the first time it comes in this call; whether it is new here (a
    -- ticket stored before without its link, by insert_callcenter_ticket_from_json, is).
    UPDATE oms_callcenter_staged s
       SET ticket_id = t.ticket_id, event_timestamp = t.event_timestamp, trouble_code = t.trouble_code,
           stored_result = t.sync_result, first_n = f.first_n, process = s.n = f.first_n AND t.sync_result IS NULL
      FROM callcenter_tickets t,
           (SELECT x.ticket_uuid, min(x.n) AS first_n FROM oms_callcenter_staged x GROUP BY x.ticket_uuid) f
     WHERE t.id = s.ticket_uuid AND f.ticket_uuid = s.ticket_uuid;

    -- 2. Matched, and what each is: outage evidence, unless its trouble code is known not to be.
    UPDATE oms_callcenter_staged s
       SET (meter_ids, meter_numbers, matched_by, customer) =
               (SELECT m.meter_ids, m.meter_numbers, m.matched_by, m.customer FROM oms_callcenter_match(t, v_strip) m),
           kind = CASE WHEN (SELECT NOT c.is_outage FROM callcenter_trouble_codes c
                              WHERE c.code = oms_normalize_code(s.trouble_code)) THEN 'none' ELSE 'call' END
      FROM callcenter_tickets t
     WHERE s.process AND t.id = s.ticket_uuid;

    -- 3. Correlated together; each one's result.
    WITH synced AS (
        SELECT y.source_event_id, oms_sync_summary(y.status_changes, y.late_changes, y.outage_event_ids, y.outages_opened) AS summary
          FROM oms_sync_evidence('call_center', 'callcenter_tickets', ARRAY(
                   SELECT ROW(s.ticket_id, coalesce(s.meter_ids, ARRAY[]::uuid[]), s.kind, s.event_timestamp,
                              format('Customer call %s (%s)', s.ticket_id, coalesce(s.trouble_code, 'no trouble code')),
                              jsonb_build_object('ticket_id', s.ticket_id), 'call_center', 'callcenter_tickets')::oms_feed_item
                     FROM oms_callcenter_staged s WHERE s.process ORDER BY s.n)) y
    )
    UPDATE oms_callcenter_staged s
       SET result = jsonb_build_object(
               'callcenter_ticket_id', s.ticket_uuid,
               'ticket_id', s.ticket_id,
               'kind', s.kind,
               'match_status', CASE WHEN s.meter_ids IS NULL THEN 'unmatched' ELSE 'matched' END,
               'matched_by', s.matched_by,
               'meters_matched', coalesce(cardinality(s.meter_ids), 0),
               'meter_numbers', coalesce(to_jsonb(s.meter_numbers), '[]'::jsonb)) || y.summary
      FROM synced y
     WHERE s.process AND y.source_event_id = s.ticket_id;

    -- 4. Kept for repeats.
    UPDATE callcenter_tickets t
       SET meter_id = s.meter_ids[1], customer_id = s.customer, matched_by = s.matched_by,
           match_status = CASE WHEN s.meter_ids IS NULL THEN 'unmatched' ELSE 'matched' END,
           meters_matched = coalesce(cardinality(s.meter_ids), 0),
           outage_event_id = (s.result -> 'outage_event_ids' ->> 0)::uuid,
           sync_result = s.result
      FROM oms_callcenter_staged s
     WHERE s.process AND t.id = s.ticket_uuid;

    -- 5. Repeats answer with the first result.
    UPDATE oms_callcenter_staged s
       SET result = coalesce(f.result, s.stored_result) || '{"duplicate": true}'
      FROM oms_callcenter_staged f
     WHERE NOT s.process AND f.n = s.first_n;

    RETURN (SELECT coalesce(jsonb_agg(s.result ORDER BY s.n), '[]'::jsonb) FROM oms_callcenter_staged s);
END;
$$;
COMMENT ON FUNCTION insert_callcenter_tickets_with_meter_link(jsonb) IS
    'Call-center tickets (a jsonb array) in one transaction: stored, matched, the new ones correlated together; one result each, in order (a repeat: the first result, duplicate).';

-- The seed's one-ticket function: stores a ticket, matches its meters and links
-- the covering outage as evidence (a batch of one); a repeat answers with the
-- first result and "duplicate": true.
CREATE OR REPLACE FUNCTION insert_callcenter_ticket_from_json_with_meter_link(p_ticket jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT insert_callcenter_tickets_with_meter_link(jsonb_build_array(p_ticket)) -> 0 $$;
COMMENT ON FUNCTION insert_callcenter_ticket_from_json_with_meter_link(jsonb) IS
    'Stores a call-center ticket, matches its meter (number, customer id, phone) and links it to the covering outage as evidence.';
