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
-- them): durable when the caller's transaction commits. With p_answer the request waits for
-- its messages' results: the correlators that apply it keep them in oms_feed_intake_answers
-- (oms_feed_intake_take_answer). Each row keeps the substations its messages are about.
--
-- A KAIFA or ONU request of at least intake.piece_min_events messages is kept as up to
-- intake.pieces rows (pieces), split by substation: a message goes to the piece its substation's
-- rank among all substations by code names, modulo the pieces (the same piece for that
-- substation in every request, so that a KAIFA piece and the ONU piece about the same
-- substations are applied together; a message nothing places goes to piece 0), in its
-- request's order. Correlators apply one piece of a request per call
-- (oms_feed_intake_apply), so that several apply a large request side by side. The id answered
-- names the request: the first piece's, kept as every piece's request_id.
CREATE OR REPLACE FUNCTION oms_feed_intake_append(p_feed text, p_messages jsonb, p_answer boolean DEFAULT false,
                                                  OUT intake_id bigint, OUT received_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_pieces integer := 1;
    v_id     bigint;
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
    IF p_feed IN ('kaifa', 'onu') AND jsonb_array_length(p_messages) >= oms_setting_numeric('intake.piece_min_events') THEN
        v_pieces := oms_setting_numeric('intake.pieces')::integer;
    END IF;
    IF v_pieces <= 1 THEN
        INSERT INTO oms_feed_intake AS i (feed, messages, events, answer, substations)
        VALUES (p_feed, p_messages, jsonb_array_length(p_messages), coalesce(p_answer, false),
                oms_feed_intake_substations(p_feed, p_messages))
        RETURNING i.id, i.received_at INTO intake_id, received_at;
        RETURN;
    END IF;

    -- Pieces: the request's id is the first piece's (taken from the table's identity first, so
    -- that every piece can name it).
    v_id := nextval(pg_get_serial_sequence('oms_feed_intake', 'id'));
    WITH placed AS MATERIALIZED (
        SELECT s.n, s.substation_id FROM oms_feed_intake_message_substations(p_feed, p_messages) s
    ),
    -- Each substation's piece: its rank among all substations by code, modulo the pieces (the
    -- same for every request; a storm's neighbouring substations alternate, so that the pieces
    -- of a request about an area are about the same size).
    piece_of_substation AS MATERIALIZED (
        SELECT u.substation_id,
               (SELECT count(*) FROM network_substations o WHERE o.substation_id < s.substation_id) % v_pieces AS piece
          FROM (SELECT DISTINCT p.substation_id FROM placed p) u
          JOIN network_substations s ON s.id = u.substation_id
    ),
    piece_of AS (
        SELECT p.n, min(ps.piece) AS piece
          FROM placed p JOIN piece_of_substation ps ON ps.substation_id = p.substation_id
         GROUP BY p.n
    ),
    messages AS (
        SELECT x.n::integer AS n, x.value, coalesce(o.piece, 0) AS piece
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY x(value, n)
          LEFT JOIN piece_of o ON o.n = x.n
    ),
    pieces AS (
        SELECT m.piece, jsonb_agg(m.value ORDER BY m.n) AS messages, count(*)::integer AS events,
               array_agg(m.n ORDER BY m.n) AS positions, min(m.n) AS first_position
          FROM messages m
         GROUP BY m.piece
    ),
    piece_substations AS (
        SELECT o.piece, array_agg(DISTINCT p.substation_id ORDER BY p.substation_id) AS substations
          FROM placed p JOIN piece_of o ON o.n = p.n
         GROUP BY o.piece
    )
    INSERT INTO oms_feed_intake AS i (id, feed, messages, events, answer, substations, request_id, positions)
    OVERRIDING SYSTEM VALUE
    SELECT CASE WHEN k.first_position = 1 THEN v_id ELSE nextval(pg_get_serial_sequence('oms_feed_intake', 'id')) END,
           p_feed, k.messages, k.events, coalesce(p_answer, false), coalesce(ps.substations, ARRAY[]::uuid[]), v_id,
           k.positions
      FROM pieces k
      LEFT JOIN piece_substations ps ON ps.piece = k.piece
     ORDER BY k.first_position;
    SELECT i.id, i.received_at INTO intake_id, received_at FROM oms_feed_intake i WHERE i.id = v_id;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_append(text, jsonb, boolean) IS
    'Keeps a request''s messages in the feed intake (applied later by oms_feed_intake_apply), a large KAIFA or ONU request as pieces split by substation; the request''s id and time. With answer, the results are kept for the request to take (oms_feed_intake_take_answer).';

-- Of the given requests (ids as oms_feed_intake_append answered them), those still waiting: a
-- row of theirs, the request kept whole or a piece of it, is not applied yet. Each id is looked
-- up (by key, or all at once by a hash): a scan of the intake testing every row against the
-- whole list cost rows x ids, 33 ms a call when a storm's backlog held thousands of requests
-- and the list named them (oms bench storm's poll, every 10 ms, a third of a core).
CREATE OR REPLACE FUNCTION oms_feed_intake_waiting(p_intake_ids bigint[]) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT u.id FROM unnest(p_intake_ids) AS u(id)
     WHERE EXISTS (SELECT 1 FROM oms_feed_intake i WHERE i.id = u.id)
        OR EXISTS (SELECT 1 FROM oms_feed_intake i WHERE i.request_id = u.id)
$$;
COMMENT ON FUNCTION oms_feed_intake_waiting(bigint[]) IS
    'Of the given intake requests, those with a row (whole, or a piece) not applied yet.';

-- The results of an applied request kept for it (one element per message, in order:
-- {"result": …} or {"refused": {sqlstate, field, reason}}), taken: deleted as they are read. A
-- request kept as pieces is answered once every piece is applied, its pieces' results put back
-- in the request's order. NULL results while a row of it waits to be applied (waiting), or when
-- they were taken before or forgotten (not waiting).
CREATE OR REPLACE FUNCTION oms_feed_intake_take_answer(p_intake_id bigint, OUT results jsonb, OUT waiting boolean)
LANGUAGE plpgsql AS $$
BEGIN
    -- The rows first, then the results, each statement with its own snapshot: once the rows are
    -- seen gone, the transactions that deleted them (and kept their results) are visible to the
    -- next one. (The other order could miss the results and then miss the rows, both applied in
    -- between.)
    waiting := EXISTS (SELECT 1 FROM oms_feed_intake_waiting(ARRAY[p_intake_id]));
    IF NOT waiting THEN
        WITH taken AS (
            DELETE FROM oms_feed_intake_answers a WHERE a.request_id = p_intake_id
            RETURNING a.results, a.positions
        )
        SELECT jsonb_agg(r.value ORDER BY coalesce(t.positions[r.n], r.n))
          INTO results
          FROM taken t CROSS JOIN LATERAL jsonb_array_elements(t.results) WITH ORDINALITY r(value, n);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_take_answer(bigint) IS
    'Takes the results kept for an applied request (intake id as its append answered it) that waits for them, in its messages'' order; NULL while a row of it waits to be applied (waiting = true).';

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

-- The substations each message of a request is about, as far as a quick look tells: the
-- meters their identities name exactly (KAIFA asset and usage-point mRIDs and meter numbers,
-- ONU ids and serials, call-center meter numbers) and a SCADA message's substation. One row per
-- (message position, substation); a message it cannot place has none. A scheduling hint for the
-- correlators (oms_feed_intake_apply) and for splitting a request (oms_feed_intake_append), not
-- a rule: the batch functions match messages fully, and the engine's own device locks keep
-- concurrent batches correct whatever this says.
--
-- PL/pgSQL rather than SQL so that its plan is kept for the session: a SQL function with settings
-- is never inlined, and was planned again at every call (0.9 ms of a one-message request). Kept
-- as a generic plan (plan_cache_mode = force_generic_plan, as the engine's: oms_sync_feed_items):
-- a plan for one feed, without the others' branches, always looked cheaper, so PostgreSQL planned
-- the statement again at every call (0.4 ms of each request); the generic plan skips the other
-- feeds' branches by their one-time filters.
CREATE OR REPLACE FUNCTION oms_feed_intake_message_substations(p_feed text, p_messages jsonb)
RETURNS TABLE (n integer, substation_id uuid)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH e AS MATERIALIZED (SELECT x.n::integer AS n, x.value AS m FROM jsonb_array_elements(p_messages) WITH ORDINALITY x(value, n))
    SELECT s.n, s.substation_id
      FROM (SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.asset_mrid = e.m ->> 'assetMRID'
             WHERE p_feed = 'kaifa'
            UNION ALL
            SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.usage_point_mrid = e.m ->> 'usagePointMRID'
             WHERE p_feed = 'kaifa' AND e.m ->> 'assetMRID' IS NULL
            UNION ALL
            SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.meter_number = e.m ->> 'meterNumber'
             WHERE p_feed = 'kaifa' AND e.m ->> 'assetMRID' IS NULL AND e.m ->> 'usagePointMRID' IS NULL
            UNION ALL
            SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.meter_number = e.m -> 'customer' ->> 'meterNumber'
             WHERE p_feed = 'callcenter'
            UNION ALL
            SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.onu_id = e.m ->> 'onuId'
             WHERE p_feed = 'onu'
            UNION ALL
            SELECT e.n, m.substation_id FROM e JOIN oms_meters m ON m.onu_serial_no = e.m ->> 'onuSerial'
             WHERE p_feed = 'onu' AND e.m ->> 'onuId' IS NULL
            UNION ALL
            SELECT e.n, s.id FROM e JOIN network_substations s ON s.substation_id = btrim(e.m ->> 'substationId')
             WHERE p_feed = 'scada') s
     WHERE s.substation_id IS NOT NULL;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_message_substations(text, jsonb) IS
    'The substations each message of a request is about (position, substation), by their exact identities: a scheduling hint, not a rule.';

-- The substations an intake row's messages are about, all together, in order (the same look).
-- PL/pgSQL for its kept plan: as a SQL function (never inlined: a scalar function whose body
-- reads a FROM) it was planned again at every append, on the answer's path of each of the
-- mixed storm's 17,525 small requests (a one-message request's substations: 0.17 ms over a
-- bare round trip as SQL, 0.11 ms as PL/pgSQL; pgbench at 1M).
CREATE OR REPLACE FUNCTION oms_feed_intake_substations(p_feed text, p_messages jsonb) RETURNS uuid[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(DISTINCT s.substation_id ORDER BY s.substation_id), ARRAY[]::uuid[])
              FROM oms_feed_intake_message_substations(p_feed, p_messages) s);
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_substations(text, jsonb) IS
    'The substations an intake row''s messages are about, by their exact identities: a scheduling hint for the correlators, not a rule.';

-- Takes the correlators' claim on substations (transaction-level advisory locks of their own
-- kind, "intake.substation", apart from the engine's), without waiting: true when all are
-- this transaction's now (it may hold some already), false at the first another holds.
CREATE OR REPLACE FUNCTION oms_feed_intake_claim_substations(p_substations uuid[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    FOREACH v_id IN ARRAY coalesce(p_substations, ARRAY[]::uuid[]) LOOP
        IF NOT pg_try_advisory_xact_lock(oms_device_lock_key('intake.substation', v_id)) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_claim_substations(uuid[]) IS
    'A correlator''s claim on substations for this transaction, without waiting: false when another correlator holds one.';

-- The messages of one feed in one run of the rows oms_feed_intake_apply took (its session
-- table oms_intake_rows_taken), as one jsonb array in order of arrival: read from the intake rows
-- themselves, which that call holds locked.
CREATE OR REPLACE FUNCTION oms_feed_intake_run_messages(p_run integer, p_feed text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_agg(m.value ORDER BY c.id, m.n)
              FROM oms_intake_rows_taken c
              JOIN oms_feed_intake i ON i.id = c.id
             CROSS JOIN LATERAL jsonb_array_elements(i.messages) WITH ORDINALITY AS m(value, n)
             WHERE c.run = p_run AND c.feed = p_feed);
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_run_messages(integer, text) IS
    'The messages of one feed in one run of the intake rows being applied (oms_feed_intake_apply''s session table), in order of arrival.';

-- The results of one feed's messages in one run (a batch function's array, one per message in
-- the order of oms_feed_intake_run_messages), kept for the rows whose requests wait for them
-- (answer = true) in oms_feed_intake_apply's session table oms_intake_answer_items: each row's
-- slice of the array, found by counting the events of the rows before it.
CREATE OR REPLACE FUNCTION oms_feed_intake_keep_results(p_run integer, p_feed text, p_results jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oms_intake_answer_items (id, n, item)
    SELECT o.id, g.n, jsonb_build_object('result', p_results -> (o.before + g.n - 1))
      FROM (SELECT c.id, c.events, c.answer,
                   coalesce(sum(c.events) OVER (ORDER BY c.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::integer
                       AS before
              FROM oms_intake_rows_taken c
             WHERE c.run = p_run AND c.feed = p_feed) o
     CROSS JOIN LATERAL generate_series(1, o.events) AS g(n)
     WHERE o.answer;
END;
$$;
COMMENT ON FUNCTION oms_feed_intake_keep_results(integer, text, jsonb) IS
    'Keeps a run''s results (one per message) for the intake rows being applied whose requests wait for them.';

-- Applies the oldest intake rows no other transaction holds: up to p_max_events events
-- (default intake.batch_events; at least one row), partitioned by substation: a row is taken
-- only when this call can claim its substations (oms_feed_intake_substations,
-- oms_feed_intake_claim_substations), so that correlators running side by side work on
-- different substations and never wait on each other's devices; a row whose substations
-- another holds is left for it, and so is every later row touching them (each substation's
-- rows are applied in order of arrival). The rows are applied in order of arrival, by runs:
-- consecutive rows of the meter feeds (KAIFA and ONU, correlated together in one call: their
-- batch functions' steps, below), or of one other feed (one call of its batch function). When
-- a call fails for good (a message refused, SQLSTATE class 22, or any error that is not
-- transient), its messages are tried one by one and those that fail go to
-- oms_feed_intake_refused: a poison message never stops the rows behind it. The rows are
-- deleted. A transient error (a conflict with a concurrent batch,
-- 40001, 40P01; oms_feed_intake_transient) fails the whole call: nothing applied, the rows wait
-- for the next. The results of the rows whose requests wait for them (answer = true: a
-- synchronous request, grouped with the others here) are kept in oms_feed_intake_answers, one
-- per message ({"result": …}, or {"refused": …} for a message refused, which then is not kept in
-- oms_feed_intake_refused: its request hears of it); results nobody took for 10 minutes are
-- deleted. Returns each row applied, with how long it waited (from its append to the end of its
-- application, in this transaction) and its request (the id its append answered: its own, or
-- its first piece's).
CREATE OR REPLACE FUNCTION oms_feed_intake_apply(p_max_events integer DEFAULT NULL)
RETURNS TABLE (intake_id bigint, feed text, events integer, received_at timestamptz, refused integer,
               waited interval, request_id bigint)
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
    v_keys     uuid[];
    v_passed   uuid[] := ARRAY[]::uuid[];
    v_skipped  integer := 0;
    v_items    oms_feed_item[];
    v_results  jsonb;
    v_run      integer;
    v_together boolean;
    v_held     uuid[] := ARRAY[]::uuid[];
    v_looked   integer := 0;
    v_requests bigint[] := ARRAY[]::bigint[];
BEGIN
    -- The rows taken (their messages are read from the intake itself, locked by this call:
    -- a copy here compressed each request's messages a second time), and the results kept for
    -- those whose requests wait for them.
    IF to_regclass('pg_temp.oms_intake_rows_taken') IS NULL THEN
        CREATE TEMP TABLE oms_intake_rows_taken (id bigint, feed text, events integer, received_at timestamptz,
                                                 refused integer, run integer, answer boolean, request_id bigint,
                                                 positions integer[]) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE oms_intake_answer_items (id bigint, n bigint, item jsonb) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_intake_rows_taken');
    PERFORM oms_work_table_clear('pg_temp.oms_intake_answer_items');

    -- Claimed one row at a time, oldest first: looked at, its substations claimed, then the row
    -- locked, skipping one another correlator holds (locked only when taken: a row this call
    -- will not apply stays free for the others). A row whose substations another correlator
    -- holds is passed over, and its substations with it for the rest of the scan (a later row
    -- about them would overtake it); the scan ends after passing over a few. Once the batch is
    -- full, the next few rows are still taken, up to twice the batch, when they are about
    -- substations it holds already (no other correlator could apply them before this one
    -- ends): a storm's KAIFA and ONU requests about one area, arriving in any order, are then
    -- correlated in one call. Of a request kept as pieces (oms_feed_intake_append), one piece is
    -- taken per call, the others passed over: another correlator takes them meanwhile, and the
    -- pieces of the sibling request about the same substations come along with this one's.
    LOOP
        SELECT i.id, i.feed, i.events, i.received_at, i.answer, i.request_id, i.positions, i.substations INTO v_row
          FROM oms_feed_intake i
         WHERE i.id > v_last
         ORDER BY i.id
         LIMIT 1;
        EXIT WHEN NOT FOUND;
        v_last := v_row.id;
        v_keys := coalesce(v_row.substations,
                           oms_feed_intake_substations(v_row.feed, (SELECT i.messages FROM oms_feed_intake i WHERE i.id = v_row.id)));
        IF v_row.request_id = ANY (v_requests) THEN
            -- Another piece of a request this call applies a piece of: left for another correlator
            -- (they apply a large request side by side), as a row passed over.
            v_passed := v_passed || v_keys;
            CONTINUE;
        ELSIF v_taken >= v_max THEN
            v_looked := v_looked + 1;
            IF v_keys && v_passed OR NOT v_keys <@ v_held OR cardinality(v_keys) = 0 THEN
                EXIT WHEN v_looked >= 4;
                v_passed := v_passed || v_keys;
                CONTINUE;
            END IF;
        ELSIF v_keys && v_passed OR NOT oms_feed_intake_claim_substations(v_keys) THEN
            v_passed := v_passed || v_keys;
            v_skipped := v_skipped + 1;
            EXIT WHEN v_skipped >= 8;
            CONTINUE;
        END IF;
        PERFORM 1 FROM oms_feed_intake i WHERE i.id = v_row.id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;  -- another correlator has it (or it is gone)
        INSERT INTO oms_intake_rows_taken
        VALUES (v_row.id, v_row.feed, v_row.events, v_row.received_at, 0, NULL, v_row.answer,
                coalesce(v_row.request_id, v_row.id), v_row.positions);
        IF v_row.request_id IS NOT NULL THEN
            v_requests := v_requests || v_row.request_id;
        END IF;
        v_taken := v_taken + v_row.events;
        v_held := v_held || v_keys;
        EXIT WHEN v_taken >= 2 * v_max OR v_looked >= 4;
    END LOOP;
    IF v_taken = 0 THEN
        RETURN;
    END IF;

    -- Applied in order of arrival, by runs: consecutive rows of the meter feeds (KAIFA and
    -- ONU), or of one other feed, are one run; no row is applied before one that came earlier
    -- from another kind of feed (a SCADA trip before the last gasps it explains, power-ups
    -- before the losses of a later failure). In a run of both meter feeds each feed's messages
    -- are staged by its own first step (oms_kaifa_stage, oms_onu_stage), all of them
    -- correlated in one call (oms_sync_feed_items_kept), then stored by each feed's last step,
    -- so that the engine judges a distribution point on both feeds' last gasps at once; when
    -- that fails for good, each of the two goes on its own, as any other feed.
    UPDATE oms_intake_rows_taken c SET run = r.run
      FROM (SELECT x.id, count(*) FILTER (WHERE x.kind IS DISTINCT FROM x.before) OVER (ORDER BY x.id) AS run
              FROM (SELECT k.id, k.kind, lag(k.kind) OVER (ORDER BY k.id) AS before
                      FROM (SELECT y.id, CASE WHEN y.feed IN ('kaifa', 'onu') THEN 'meters' ELSE y.feed END AS kind
                              FROM oms_intake_rows_taken y) k) x) r
     WHERE c.id = r.id;
    FOR v_run IN SELECT DISTINCT c.run FROM oms_intake_rows_taken c ORDER BY 1 LOOP
        v_together := false;
        IF (SELECT count(DISTINCT c.feed) FROM oms_intake_rows_taken c WHERE c.run = v_run AND c.feed IN ('kaifa', 'onu')) = 2 THEN
            BEGIN
                v_items := ARRAY[]::oms_feed_item[];
                FOR v_feed IN SELECT c.feed FROM oms_intake_rows_taken c WHERE c.run = v_run
                               GROUP BY c.feed ORDER BY min(c.id) LOOP
                    v_messages := oms_feed_intake_run_messages(v_run, v_feed);
                    v_items := v_items || CASE v_feed WHEN 'kaifa' THEN oms_kaifa_stage(v_messages)
                                                      ELSE oms_onu_stage(v_messages) END;
                END LOOP;
                PERFORM oms_sync_feed_items_kept(v_items);
                PERFORM oms_feed_intake_keep_results(v_run, 'kaifa', oms_kaifa_store());
                PERFORM oms_feed_intake_keep_results(v_run, 'onu', oms_onu_store());
                v_together := true;
            EXCEPTION WHEN OTHERS THEN
                IF oms_feed_intake_transient(SQLSTATE) THEN
                    RAISE;
                END IF;
            END;
        END IF;
        CONTINUE WHEN v_together;

        FOR v_feed IN SELECT c.feed FROM oms_intake_rows_taken c WHERE c.run = v_run GROUP BY c.feed ORDER BY min(c.id) LOOP
            v_function := oms_feed_batch_function(v_feed);
            BEGIN
                EXECUTE format('SELECT %I($1)', v_function) INTO v_results USING oms_feed_intake_run_messages(v_run, v_feed);
                PERFORM oms_feed_intake_keep_results(v_run, v_feed, v_results);
            EXCEPTION WHEN OTHERS THEN
                IF oms_feed_intake_transient(SQLSTATE) THEN
                    RAISE;
                END IF;
                -- A message refused (or failing for good): each on its own, so that the others land.
                FOR v_message IN
                    SELECT c.id, c.request_id, c.received_at, c.answer, m.value, m.n
                      FROM oms_intake_rows_taken c
                      JOIN oms_feed_intake i ON i.id = c.id
                      CROSS JOIN LATERAL jsonb_array_elements(i.messages) WITH ORDINALITY AS m(value, n)
                     WHERE c.run = v_run AND c.feed = v_feed
                     ORDER BY c.id, m.n
                LOOP
                    BEGIN
                        EXECUTE format('SELECT %I($1)', v_function) INTO v_results USING jsonb_build_array(v_message.value);
                        IF v_message.answer THEN
                            INSERT INTO oms_intake_answer_items
                            VALUES (v_message.id, v_message.n, jsonb_build_object('result', v_results -> 0));
                        END IF;
                    EXCEPTION WHEN OTHERS THEN
                        IF oms_feed_intake_transient(SQLSTATE) THEN
                            RAISE;
                        END IF;
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_field = COLUMN_NAME, v_reason = MESSAGE_TEXT;
                        IF v_message.answer THEN
                            INSERT INTO oms_intake_answer_items
                            VALUES (v_message.id, v_message.n,
                                    jsonb_build_object('refused', jsonb_build_object(
                                        'sqlstate', v_state, 'field', nullif(v_field, ''), 'reason', v_reason)));
                        ELSE
                            -- (Named by its request, the id the append answered, also for a piece.)
                            INSERT INTO oms_feed_intake_refused (intake_id, feed, message, received_at, sqlstate, field, reason)
                            VALUES (v_message.request_id, v_feed, v_message.value, v_message.received_at, v_state,
                                    nullif(v_field, ''), v_reason);
                        END IF;
                        UPDATE oms_intake_rows_taken c SET refused = c.refused + 1 WHERE c.id = v_message.id;
                    END;
                END LOOP;
            END;
        END LOOP;
    END LOOP;

    DELETE FROM oms_feed_intake i USING oms_intake_rows_taken c WHERE i.id = c.id;
    IF EXISTS (SELECT 1 FROM oms_intake_answer_items) THEN
        INSERT INTO oms_feed_intake_answers (intake_id, results, request_id, positions)
        SELECT a.id, jsonb_agg(a.item ORDER BY a.n), min(c.request_id), min(c.positions)
          FROM oms_intake_answer_items a JOIN oms_intake_rows_taken c ON c.id = a.id
         GROUP BY a.id;
        DELETE FROM oms_feed_intake_answers a WHERE a.applied_at < clock_timestamp() - interval '10 minutes';
    END IF;
    RETURN QUERY
    SELECT c.id, c.feed, c.events, c.received_at, c.refused, clock_timestamp() - c.received_at, c.request_id
      FROM oms_intake_rows_taken c ORDER BY c.id;
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
