-- The feed intake (versioned/0109_feed_intake.sql): "acknowledge on a durable append,
-- correlate behind it". A request that asks for it (HTTP Prefer: respond-async) is answered
-- once its decoded messages are one row of oms_feed_intake, committed
-- (oms_feed_intake_append). The service's correlators then call oms_feed_intake_apply in a
-- loop: the oldest rows no other correlator holds, applied through the feed's own batch
-- function (the same one a synchronous request and psql use: one implementation of each
-- rule) and deleted in the same transaction. So a message is either waiting here or applied,
-- never both and never lost; a message delivered twice is a repeat when applied, as always.
--
-- A message the database refuses when applied (its request was answered already) is kept in
-- oms_feed_intake_refused with its field and reason, and the others of its request are
-- applied, as a synchronous batch does; so is a message that fails for any other lasting reason,
-- so that it never holds up the rows behind it.

-- The batch function of a feed (its name, fixed; never user input).
CREATE OR REPLACE FUNCTION oms_feed_batch_function(p_feed text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_feed
               WHEN 'kaifa' THEN 'insert_kaifa_events_with_meter_sync'
               WHEN 'onu' THEN 'insert_onu_events_with_meter_sync'
               WHEN 'callcenter' THEN 'insert_callcenter_tickets_with_meter_link'
               WHEN 'scada' THEN 'insert_scada_events_with_meter_check' END
$$;
COMMENT ON FUNCTION oms_feed_batch_function(text) IS
    'The batch function (jsonb array in, results out) of a feed of the intake: kaifa, onu, callcenter, scada.';

-- Appends a request's messages (a non-empty jsonb array, as the feed's batch function takes
-- them): durable when the caller's transaction commits.
CREATE OR REPLACE FUNCTION oms_feed_intake_append(p_feed text, p_messages jsonb, OUT intake_id bigint,
                                                  OUT received_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    IF oms_feed_batch_function(p_feed) IS NULL THEN
        RAISE EXCEPTION 'no feed %', coalesce(quote_literal(p_feed), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'feed';
    END IF;
    IF p_messages IS NULL OR jsonb_typeof(p_messages) <> 'array' OR jsonb_array_length(p_messages) = 0 THEN
        RAISE EXCEPTION 'intake messages: expected a JSON array of at least one message, not %',
            CASE WHEN jsonb_typeof(p_messages) = 'array' THEN 'an empty one' ELSE coalesce(jsonb_typeof(p_messages), 'nothing') END
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'messages';
    END IF;
    INSERT INTO oms_feed_intake AS i (feed, messages, events)
    VALUES (p_feed, p_messages, jsonb_array_length(p_messages))
    RETURNING i.id, i.received_at INTO intake_id, received_at;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_append(text, jsonb) IS
    'Keeps a request''s messages in the feed intake (applied later by oms_feed_intake_apply); its row id and time.';

-- Whether an error may pass if tried again (the whole application is then rolled back and its
-- rows wait): a conflict with a concurrent transaction (class 40: 40001, 40P01), resources
-- (53), the server's state (55, 57, 58), the connection (08). Any other error is the message's
-- own: it would fail every time, and kept waiting it would stop every row behind it.
CREATE OR REPLACE FUNCTION oms_feed_intake_transient(p_sqlstate text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(p_sqlstate, 2) IN ('40', '53', '55', '57', '58', '08')
$$;
COMMENT ON FUNCTION oms_feed_intake_transient(text) IS
    'Whether an error applying the feed intake may pass when tried again (conflicts, resources, server state), rather than being the message''s own.';

-- Applies the oldest intake rows no other transaction holds: up to p_max_events events
-- (default intake.batch_events; at least one row), the rows of each feed together in one call
-- of its batch function, feeds in order of their first row. When a call fails for good (a
-- message refused, SQLSTATE class 22, or any error that is not transient), its messages are tried
-- one by one and those that fail go to oms_feed_intake_refused: a poison message never stops the
-- rows behind it. The rows are deleted. A transient error (a conflict with a concurrent batch,
-- 40001, 40P01; oms_feed_intake_transient) fails the whole call: nothing applied, the rows wait
-- for the next. Returns each row applied, with how long it waited (from its append to the
-- end of its application, in this transaction).
CREATE OR REPLACE FUNCTION oms_feed_intake_apply(p_max_events integer DEFAULT NULL)
RETURNS TABLE (intake_id bigint, feed text, events integer, received_at timestamptz, refused integer,
               waited interval)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_max      integer := coalesce(p_max_events, oms_setting_numeric('intake.batch_events')::integer);
    v_taken    integer := 0;
    v_last     bigint := 0;
    v_row      record;
    v_feed     text;
    v_function text;
    v_messages jsonb;
    v_message  record;
    v_state    text;
    v_field    text;
    v_reason   text;
BEGIN
    IF to_regclass('pg_temp.oms_intake_claimed') IS NULL THEN
        CREATE TEMP TABLE oms_intake_claimed (id bigint, feed text, messages jsonb, events integer,
                                              received_at timestamptz, refused integer);
    END IF;
    TRUNCATE oms_intake_claimed;

    -- Claimed one row at a time, oldest first, skipping rows another correlator holds (locked
    -- only when taken: a row this call will not apply stays free for the others).
    LOOP
        SELECT i.id, i.feed, i.messages, i.events, i.received_at INTO v_row
          FROM oms_feed_intake i
         WHERE i.id > v_last
         ORDER BY i.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        INSERT INTO oms_intake_claimed VALUES (v_row.id, v_row.feed, v_row.messages, v_row.events, v_row.received_at, 0);
        v_last := v_row.id;
        v_taken := v_taken + v_row.events;
        EXIT WHEN v_taken >= v_max;
    END LOOP;
    IF v_taken = 0 THEN
        RETURN;
    END IF;

    FOR v_feed IN SELECT c.feed FROM oms_intake_claimed c GROUP BY c.feed ORDER BY min(c.id) LOOP
        v_function := oms_feed_batch_function(v_feed);
        SELECT jsonb_agg(m.value ORDER BY c.id, m.n) INTO v_messages
          FROM oms_intake_claimed c CROSS JOIN LATERAL jsonb_array_elements(c.messages) WITH ORDINALITY AS m(value, n)
         WHERE c.feed = v_feed;
        BEGIN
            EXECUTE format('SELECT %I($1)', v_function) USING v_messages;
        EXCEPTION WHEN OTHERS THEN
            IF oms_feed_intake_transient(SQLSTATE) THEN
                RAISE;
            END IF;
            -- A message refused (or failing for good): each on its own, so that the others land.
            FOR v_message IN
                SELECT c.id, c.received_at, m.value
                  FROM oms_intake_claimed c
                  CROSS JOIN LATERAL jsonb_array_elements(c.messages) WITH ORDINALITY AS m(value, n)
                 WHERE c.feed = v_feed
                 ORDER BY c.id, m.n
            LOOP
                BEGIN
                    EXECUTE format('SELECT %I($1)', v_function) USING jsonb_build_array(v_message.value);
                EXCEPTION WHEN OTHERS THEN
                    IF oms_feed_intake_transient(SQLSTATE) THEN
                        RAISE;
                    END IF;
                    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_field = COLUMN_NAME, v_reason = MESSAGE_TEXT;
                    INSERT INTO oms_feed_intake_refused (intake_id, feed, message, received_at, sqlstate, field, reason)
                    VALUES (v_message.id, v_feed, v_message.value, v_message.received_at, v_state, nullif(v_field, ''),
                            v_reason);
                    UPDATE oms_intake_claimed c SET refused = c.refused + 1 WHERE c.id = v_message.id;
                END;
            END LOOP;
        END;
    END LOOP;

    DELETE FROM oms_feed_intake i USING oms_intake_claimed c WHERE i.id = c.id;
    RETURN QUERY
    SELECT c.id, c.feed, c.events, c.received_at, c.refused, clock_timestamp() - c.received_at
      FROM oms_intake_claimed c ORDER BY c.id;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_apply(integer) IS
    'Applies the oldest feed intake rows no other correlator holds (up to intake.batch_events events) through the feeds'' batch functions, and deletes them; refused messages kept apart.';

-- What waits in the intake: rows, events, and when the oldest arrived.
CREATE OR REPLACE FUNCTION oms_feed_intake_backlog(OUT batches bigint, OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT count(*), coalesce(sum(i.events), 0), min(i.received_at) FROM oms_feed_intake i
$$;
COMMENT ON FUNCTION oms_feed_intake_backlog() IS
    'The feed intake''s backlog: rows and events waiting, and the arrival time of the oldest.';
