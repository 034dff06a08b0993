-- Meter status: how a meter counts in a check, and the one rule every feed
-- (and an operator) uses to change a meter's power or communication status.
--
-- oms_apply_status_changes() changes many meters in one statement and writes
-- one audit row each (oms_meter_status_events). A change older than the
-- meter's last applied change (last_status_change) is recorded with
-- applied = false and does not overwrite the newer state: feeds deliver out of
-- order. Confidence comes from <source>.confidence (02_settings.sql).
--
--   oms_classify_meter()          offline | online | unknown
--   oms_apply_status_changes()    many meters, many events (the feeds' batches)
--   oms_apply_meter_status()      many meters, one event (the SCADA check)
--   update_meter_status()         the seed's: one meter by number, power status
--   oms_set_meter_power_status()  a manual change (PUT /api/v1/meters/{meter_number}/status)

-- How a meter counts when checked: the one rule behind the views and the SCADA
-- check. offline: no power, or not communicating. online: power on,
-- communicating, and (when p_at is given) heard from no more than p_timeout
-- before p_at (a message after p_at counts too: the meter had power then).
-- unknown: everything else. Inlined by the planner (plain SQL CASE): STABLE,
-- not IMMUTABLE, because timestamptz - interval is STABLE (it depends on the
-- time zone), and PostgreSQL does not inline a function whose body is more
-- volatile than it is declared: declared IMMUTABLE, it ran as a function call
-- per meter (auto_explain of a SCADA check: one nested query per meter).
CREATE OR REPLACE FUNCTION oms_classify_meter(
    p_power_status          text,
    p_communication_status  text,
    p_last_communication    timestamptz DEFAULT NULL,
    p_at                    timestamptz DEFAULT NULL,
    p_timeout               interval    DEFAULT NULL
) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_power_status = 'off' OR p_communication_status = 'offline' THEN 'offline'
        WHEN p_power_status = 'on' AND p_communication_status = 'online'
             AND (p_at IS NULL
                  OR (p_last_communication IS NOT NULL
                      AND p_last_communication >= p_at - p_timeout)) THEN 'online'
        ELSE 'unknown'
    END
$$;
COMMENT ON FUNCTION oms_classify_meter(text, text, timestamptz, timestamptz, interval) IS
    'offline | online | unknown: how a meter counts in a check at time p_at (no freshness test when p_at is null).';

-- Applies many status changes, of many meters and events, in one statement,
-- with one audit row each, as if they had come one by one in event-time order:
-- a change older than the meter's last applied change is audited with
-- applied = false and changes nothing; p_only_changes skips a change that
-- finds the meter already in that state. Returns the audit rows written.
--
-- A change to communication_status online says the meter was heard from at its
-- time (a feed's power-up or communication restored): its last_communication
-- moves forward to that time, never back, whether the change itself is applied,
-- late or skipped. In the same UPDATE as its status, so that a meter's row is
-- written once: written again by a later statement of the same transaction (as
-- oms_sync_feed_items did, the status first, then the meters heard from), every
-- foreign key of oms_meters is checked again, the row version being the
-- transaction's own (four lookups per meter: 57,360 rows, 10.6 s of the mixed
-- storm's server time at 1M, 46,480 of them on oms_customers).
CREATE OR REPLACE FUNCTION oms_apply_status_changes(
    p_changes       oms_status_change[],
    p_source_type   text,
    p_confidence    numeric,
    p_only_changes  boolean
) RETURNS TABLE (status_event_id uuid, meter_id uuid, source_event_id text, status_field text,
                 previous_status text, applied boolean)
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_changes) c
                WHERE NOT (c.status_field = 'power_status' AND c.new_status IN ('on', 'off', 'unknown')
                           OR c.status_field = 'communication_status' AND c.new_status IN ('online', 'offline', 'unknown'))) THEN
        RAISE EXCEPTION 'invalid status change: use power_status on/off/unknown or communication_status online/offline/unknown'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    RETURN QUERY
    WITH changes AS (
        SELECT c.*, n AS seq FROM unnest(p_changes) WITH ORDINALITY AS c(meter_id, status_field, new_status, event_type,
                                                                          source_event_id, event_time, metadata, n)
    ),
    locked AS (
        SELECT m.id, m.meter_number, m.power_status, m.communication_status, m.last_status_change
          FROM oms_meters m
         WHERE m.id IN (SELECT DISTINCT c.meter_id FROM changes c)
         ORDER BY m.id
           FOR UPDATE
    ),
    marked AS (
        SELECT c.*,
               (l.last_status_change IS NULL OR c.event_time >= l.last_status_change) AS in_order,
               CASE c.status_field WHEN 'power_status' THEN l.power_status ELSE l.communication_status END AS current,
               l.meter_number
          FROM changes c JOIN locked l ON l.id = c.meter_id
    ),
    -- In order, each change finds the state the one before it left.
    sequenced AS (
        SELECT mk.*,
               CASE WHEN mk.in_order
                    THEN coalesce(lag(mk.new_status) OVER (PARTITION BY mk.meter_id, mk.status_field, mk.in_order
                                                           ORDER BY mk.event_time, mk.seq), mk.current)
                    ELSE mk.current END AS previous
          FROM marked mk
    ),
    kept AS (
        SELECT s.* FROM sequenced s WHERE NOT p_only_changes OR s.previous IS DISTINCT FROM s.new_status
    ),
    -- The state each meter ends in: its newest applied change per field.
    final AS (
        SELECT DISTINCT ON (k.meter_id, k.status_field) k.meter_id, k.status_field, k.new_status, k.event_time
          FROM kept k WHERE k.in_order
         ORDER BY k.meter_id, k.status_field, k.event_time DESC, k.seq DESC
    ),
    per_meter AS (
        SELECT f.meter_id,
               max(f.new_status) FILTER (WHERE f.status_field = 'power_status') AS power,
               max(f.event_time) FILTER (WHERE f.status_field = 'power_status') AS power_time,
               max(f.new_status) FILTER (WHERE f.status_field = 'communication_status') AS communication,
               max(f.event_time) AS last_time
          FROM final f GROUP BY f.meter_id
    ),
    -- When each meter was last heard from, by these changes (any of them, in order or late;
    -- an unknown meter finds no row to update).
    heard AS (
        SELECT c.meter_id, max(c.event_time) AS heard_at
          FROM changes c
         WHERE c.status_field = 'communication_status' AND c.new_status = 'online'
         GROUP BY c.meter_id
    ),
    updated AS (
        UPDATE oms_meters m
           SET power_status = coalesce(p.power, m.power_status),
               communication_status = coalesce(p.communication, m.communication_status),
               last_power_change = CASE WHEN p.power IS NOT NULL AND p.power IS DISTINCT FROM m.power_status
                                        THEN p.power_time ELSE m.last_power_change END,
               last_status_change = greatest(m.last_status_change, p.last_time),
               last_communication = greatest(m.last_communication, p.heard_at)
          FROM (SELECT coalesce(s.meter_id, h.meter_id) AS meter_id, s.meter_id IS NOT NULL AS changed, s.power,
                       s.power_time, s.communication, s.last_time, h.heard_at
                  FROM per_meter s FULL JOIN heard h ON h.meter_id = s.meter_id) p
         WHERE m.id = p.meter_id
           AND (p.changed OR m.last_communication IS NULL OR m.last_communication < p.heard_at)
     RETURNING m.id
    ),
    audited AS (
        INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id, status_field,
                                             previous_status, new_status, event_timestamp, confidence_score,
                                             applied, metadata)
        SELECT k.meter_id, k.event_type, p_source_type, k.source_event_id, k.status_field, k.previous, k.new_status,
               k.event_time, p_confidence, k.in_order, k.metadata
          FROM kept k
     RETURNING oms_meter_status_events.id, oms_meter_status_events.meter_id, oms_meter_status_events.source_event_id,
               oms_meter_status_events.status_field, oms_meter_status_events.previous_status,
               oms_meter_status_events.applied
    ),
    -- The changes applied (not the late ones), announced for the live streams on channel
    -- oms_events, 40 to a notification (16_live_events.sql), in the order they were given,
    -- with the meter numbers read above. (A statement trigger on the audit table did this
    -- until 0122, keeping every audit row in a transition table and reading each meter again
    -- by its key: a batch of 2,500 KAIFA last gasps at 1M spent 152-225 ms in this function
    -- with it, 112-138 ms without, rolled back, alternating; track_functions.)
    announced AS (
        SELECT count(pg_notify('oms_events', json_build_object('type', 'meter.status_changed', 'changes', g.changes)::text))
          FROM (SELECT json_agg(json_build_object('meter_number', k.meter_number, 'field', k.status_field,
                                                  'previous', k.previous, 'status', k.new_status, 'source', p_source_type,
                                                  'at', k.event_time) ORDER BY k.seq) AS changes
                  FROM (SELECT k.*, row_number() OVER (ORDER BY k.seq) AS place
                          FROM kept k WHERE k.in_order AND k.previous IS DISTINCT FROM k.new_status) k
                 GROUP BY (k.place - 1) / 40) g
    )
    SELECT a.id, a.meter_id, a.source_event_id, a.status_field, a.previous_status, a.applied
      FROM audited a CROSS JOIN announced;
END;
$$;
COMMENT ON FUNCTION oms_apply_status_changes(oms_status_change[], text, numeric, boolean) IS
    'Applies many meters'' status changes (any events, any times) in one statement as if in event-time order, audited; late ones audited, not applied.';

-- One event's change of many meters to one status: a batch of changes.
CREATE OR REPLACE FUNCTION oms_apply_meter_status(
    p_meter_ids        uuid[],
    p_status_field     text,
    p_new_status       text,
    p_event_type       text,
    p_source_type      text,
    p_source_event_id  text,
    p_event_timestamp  timestamptz,
    p_confidence       numeric,
    p_metadata         jsonb,
    p_only_changes     boolean
) RETURNS TABLE (meter_id uuid, status_event_id uuid, previous_status text, applied boolean)
LANGUAGE sql AS $$
    SELECT a.meter_id, a.status_event_id, a.previous_status, a.applied
      FROM oms_apply_status_changes(
               ARRAY(SELECT ROW(m, p_status_field, p_new_status, p_event_type, p_source_event_id, p_event_timestamp,
                                p_metadata)::oms_status_change
                       FROM unnest(p_meter_ids) AS m),
               p_source_type, p_confidence, p_only_changes) a
$$;
COMMENT ON FUNCTION oms_apply_meter_status(uuid[], text, text, text, text, text, timestamptz, numeric, jsonb, boolean) IS
    'Sets a status field of many meters (one event) with one audit row each; late events are audited, not applied.';

-- The seed's update_meter_status(): one meter, by number, power status; an
-- implausible time is refused (COLUMN 'timestamp', oms_check_event_time).
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
COMMENT ON FUNCTION update_meter_status(text, text, text, text, text, timestamptz, jsonb) IS
    'Sets one meter''s power status with an audit row; returns the audit row''s id. Late events are audited, not applied.';

-- A manual power-status change (PUT /api/v1/meters/{meter_number}/status),
-- through update_meter_status() with source 'manual'. p_request_id names the
-- change: the same request delivered again (a client's retry) finds the audit
-- row of the first and changes nothing (duplicate = true; a retry without a
-- timestamp matches whatever time the first one had); the same request id with
-- another meter, power status, note or timestamp is refused (SQLSTATE 23505,
-- COLUMN 'request_id'). Two deliveries at once are serialised on the request
-- id (a transaction-scoped advisory lock). Says whether the change was applied:
-- not when older than the meter's newer state (newer_state_at).
CREATE OR REPLACE FUNCTION oms_set_meter_power_status(
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
