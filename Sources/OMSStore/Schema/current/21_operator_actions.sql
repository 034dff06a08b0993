-- Operator actions on outages, the one implementation behind the HTTP API
-- (POST /api/v1/outages/{event_id}/actions, scope operate) and `oms outage`.
-- Each action is a timeline entry naming who did it (source 'operator', the
-- API key's name in metadata.actor) and when; an action the outage's status
-- does not allow is refused with SQLSTATE 55000 naming the status; a bad
-- argument with 22023 naming it; an unknown outage with P0002. Nothing is
-- written by a refused action.
--
-- The transitions (oms_outage_actions(): one table, also in ARCHITECTURE.md):
--   acknowledge  any status but cancelled and merged       marks it seen
--   confirm      detected, predicted                       -> confirmed (pinned)
--   assign       detected, predicted, confirmed, in_progress -> in_progress, crew
--   etr          detected, predicted, confirmed, in_progress   estimated restoration time
--   restore      detected, predicted, confirmed, in_progress -> restored (at the given time)
--   cancel       detected, predicted, confirmed, in_progress -> cancelled (false)
--   merge        detected, predicted, confirmed, in_progress -> merged into another active outage
--   split        detected, predicted, confirmed, in_progress   a device or meters move to a new outage
--   close        restored                                  -> closed with a cause code
-- "Pinned" (operator_pinned): the engine no longer merges the outage away.

-- The actions and the statuses each is allowed from.
CREATE OR REPLACE FUNCTION oms_outage_actions()
RETURNS TABLE (action text, allowed_from text[], result_status text, description text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('acknowledge', ARRAY['detected', 'predicted', 'confirmed', 'in_progress', 'restored', 'closed'], NULL,
            'Mark the outage seen by an operator'),
           ('confirm', ARRAY['detected', 'predicted'], 'confirmed', 'Confirm it (the engine no longer merges it away)'),
           ('assign', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], 'in_progress', 'Assign a crew'),
           ('etr', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], NULL, 'Set the estimated restoration time'),
           ('restore', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], 'restored', 'Power is back'),
           ('cancel', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], 'cancelled', 'The outage was false'),
           ('merge', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], 'merged', 'Fold it into another active outage'),
           ('split', ARRAY['detected', 'predicted', 'confirmed', 'in_progress'], NULL,
            'Move a device or meters out into a new outage'),
           ('close', ARRAY['restored'], 'closed', 'Close a restored outage with a cause code')
$$;
COMMENT ON FUNCTION oms_outage_actions() IS
    'Operator actions on outages: the statuses each is allowed from and the status it leads to.';

-- Performs one operator action. p_args by action: assign {"crew"}, etr {"at"},
-- restore {"at"} (default now), merge {"into": event_id}, split {"device":
-- DP/feeder id} or {"meters": [meter numbers]}, close {"cause", "remark"};
-- any action takes {"remark"}. Returns the outage's event id (for split: the
-- new outage's).
CREATE OR REPLACE FUNCTION oms_outage_act(p_event_id text, p_action text, p_actor text, p_args jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_outage   oms_outage_events;
    v_rule     record;
    v_args     jsonb := coalesce(p_args, '{}');
    v_remark   text := nullif(btrim(v_args ->> 'remark'), '');
    v_time     timestamptz;
    v_target   oms_outage_events;
    v_meters   uuid[];
    v_new      uuid;
    v_code     text;
    v_actor    text := coalesce(nullif(btrim(p_actor), ''), 'operator');
    v_text     text;
BEGIN
    IF jsonb_typeof(v_args) <> 'object' THEN
        RAISE EXCEPTION 'the action''s arguments must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            COLUMN = 'args';
    END IF;
    SELECT * INTO v_rule FROM oms_outage_actions() a WHERE a.action = p_action;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown action %: the actions are %', quote_literal(coalesce(p_action, 'NULL')),
            (SELECT string_agg(a.action, ', ') FROM oms_outage_actions() a)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'action';
    END IF;
    -- The substations' engine locks first, exclusive (the outage's, and a merge target's), in
    -- order: the top of the lock hierarchy (06_correlation.sql), so no batch under them runs
    -- meanwhile; then the outage's row. The other order could deadlock with a feed's batch.
    PERFORM pg_advisory_xact_lock(k)
       FROM (SELECT DISTINCT oms_substation_lock_key(coalesce(o.substation_id, o.id)) AS k
               FROM oms_outage_events o
              WHERE o.event_id = p_event_id OR (p_action = 'merge' AND o.event_id = v_args ->> 'into')
              ORDER BY 1) AS locks;
    SELECT * INTO v_outage FROM oms_outage_events WHERE event_id = p_event_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no outage %', quote_literal(coalesce(p_event_id, 'NULL')) USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT v_outage.status = ANY (v_rule.allowed_from) THEN
        RAISE EXCEPTION 'outage % is %: % is allowed only when it is %', v_outage.event_id, v_outage.status, p_action,
            array_to_string(v_rule.allowed_from, ', ')
            USING ERRCODE = 'object_not_in_prerequisite_state', COLUMN = 'status';
    END IF;
    IF length(v_remark) > 2000 THEN
        RAISE EXCEPTION 'remark: at most 2000 characters' USING ERRCODE = 'invalid_parameter_value', COLUMN = 'remark';
    END IF;
    v_code := v_outage.event_id;

    CASE p_action
    WHEN 'acknowledge' THEN
        UPDATE oms_outage_events SET acknowledged_at = now(), acknowledged_by = v_actor, last_updated_at = now()
         WHERE id = v_outage.id;
        v_text := 'Acknowledged';
    WHEN 'confirm' THEN
        UPDATE oms_outage_events SET status = 'confirmed', operator_pinned = true, last_updated_at = now()
         WHERE id = v_outage.id;
        v_text := 'Confirmed by an operator';
    WHEN 'assign' THEN
        IF nullif(btrim(v_args ->> 'crew'), '') IS NULL OR length(v_args ->> 'crew') > 200 THEN
            RAISE EXCEPTION 'crew: a crew name of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value',
                COLUMN = 'crew';
        END IF;
        UPDATE oms_outage_events
           SET status = 'in_progress', crew = btrim(v_args ->> 'crew'), crew_assigned_at = now(), operator_pinned = true,
               last_updated_at = now()
         WHERE id = v_outage.id;
        v_text := format('Crew %s assigned', btrim(v_args ->> 'crew'));
    WHEN 'etr' THEN
        v_time := oms_action_time(v_args, 'at', false, interval '30 days');
        IF v_time < v_outage.first_detected_at THEN
            RAISE EXCEPTION 'at: the estimated restoration time % is before the outage started (%)', v_time,
                v_outage.first_detected_at USING ERRCODE = 'invalid_parameter_value', COLUMN = 'at';
        END IF;
        UPDATE oms_outage_events SET estimated_restoration_time = v_time, last_updated_at = now() WHERE id = v_outage.id;
        v_text := format('Estimated restoration time set to %s', v_time);
    WHEN 'restore' THEN
        v_time := coalesce(oms_action_time(v_args, 'at', true, interval '1 minute'), now());
        IF v_time < v_outage.first_detected_at THEN
            RAISE EXCEPTION 'at: the restoration time % is before the outage started (%)', v_time,
                v_outage.first_detected_at USING ERRCODE = 'invalid_parameter_value', COLUMN = 'at';
        END IF;
        PERFORM oms_restore_outage(v_outage.id, v_time, 'operator', format('restored by %s', v_actor), 'operator');
        PERFORM oms_refresh_outages(ARRAY[v_outage.id], v_time, false);
        v_text := format('Restored by an operator at %s', v_time);
    WHEN 'cancel' THEN
        UPDATE oms_outage_meters SET restored_at = coalesce(restored_at, now()), restored_by = coalesce(restored_by, 'operator')
         WHERE outage_event_id = v_outage.id;
        UPDATE oms_outage_events SET status = 'cancelled', meters_out = 0, customers_out = 0, last_updated_at = now()
         WHERE id = v_outage.id;
        v_text := 'Cancelled as false';
    WHEN 'merge' THEN
        SELECT * INTO v_target FROM oms_outage_events WHERE event_id = v_args ->> 'into' FOR UPDATE;
        IF NOT FOUND OR v_target.id = v_outage.id
           OR v_target.status NOT IN ('detected', 'predicted', 'confirmed', 'in_progress') THEN
            RAISE EXCEPTION 'into: % is not another active outage', quote_literal(coalesce(v_args ->> 'into', 'NULL'))
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'into';
        END IF;
        -- Meter by meter (the two may cover devices apart from each other).
        PERFORM oms_outage_materialize(v_target.id);
        PERFORM oms_outage_materialize(v_outage.id);
        PERFORM oms_merge_outages(v_target.id, ARRAY[v_outage.id], 'operator', format('merged by %s', v_actor), now(),
                                  'operator');
        UPDATE oms_outage_events SET operator_pinned = true WHERE id = v_target.id;
        PERFORM oms_refresh_outages(ARRAY[v_target.id], now(), false);
        v_text := format('Merged into %s', v_target.event_id);
    WHEN 'split' THEN
        -- Meter by meter: the meters split off leave an outage that covered its device.
        PERFORM oms_outage_materialize(v_outage.id);
        IF v_args ? 'device' THEN
            SELECT array_agg(om.meter_id) INTO v_meters
              FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
              LEFT JOIN network_distribution_points d ON d.id = m.dp_id
              LEFT JOIN network_feeders f ON f.id = m.feeder_id
             WHERE om.outage_event_id = v_outage.id AND (d.dp_id = v_args ->> 'device' OR f.feeder_id = v_args ->> 'device');
        ELSIF jsonb_typeof(v_args -> 'meters') = 'array' THEN
            SELECT array_agg(om.meter_id) INTO v_meters
              FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
             WHERE om.outage_event_id = v_outage.id
               AND m.meter_number IN (SELECT jsonb_array_elements_text(v_args -> 'meters'));
            IF coalesce(cardinality(v_meters), 0) <> jsonb_array_length(v_args -> 'meters') THEN
                RAISE EXCEPTION 'meters: every meter must be one of the outage''s (% of % are)',
                    coalesce(cardinality(v_meters), 0), jsonb_array_length(v_args -> 'meters')
                    USING ERRCODE = 'invalid_parameter_value', COLUMN = 'meters';
            END IF;
        ELSE
            RAISE EXCEPTION 'split needs "device" (a distribution point or feeder id) or "meters" (meter numbers)'
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'device';
        END IF;
        IF v_meters IS NULL OR cardinality(v_meters) >= v_outage.affected_meters_count THEN
            RAISE EXCEPTION 'split must move some of the outage''s meters, not none or all (% of %)',
                coalesce(cardinality(v_meters), 0), v_outage.affected_meters_count
                USING ERRCODE = 'invalid_parameter_value', COLUMN = CASE WHEN v_args ? 'device' THEN 'device' ELSE 'meters' END;
        END IF;
        v_new := oms_nest_meters(v_outage.id, v_meters, now(), format('split by %s', v_actor));
        UPDATE oms_outage_events
           SET parent_outage_id = NULL, status = 'confirmed', basis = 'operator', operator_pinned = true,
               description = format('Split from %s by %s', v_outage.event_id, v_actor)
         WHERE id = v_new
        RETURNING event_id INTO v_code;
        UPDATE oms_outage_events SET operator_pinned = true WHERE id = v_outage.id;
        PERFORM oms_refresh_outages(ARRAY[v_new, v_outage.id], now(), false);
        v_text := format('%s meters split into %s', cardinality(v_meters), v_code);
    WHEN 'close' THEN
        IF NOT EXISTS (SELECT 1 FROM oms_cause_codes c WHERE c.code = v_args ->> 'cause' AND c.active) THEN
            RAISE EXCEPTION 'cause: % is not an active cause code; they are %', quote_literal(coalesce(v_args ->> 'cause', 'NULL')),
                (SELECT string_agg(c.code, ', ' ORDER BY c.code) FROM oms_cause_codes c WHERE c.active)
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'cause';
        END IF;
        UPDATE oms_outage_events
           SET status = 'closed', cause_code = v_args ->> 'cause', remark = coalesce(v_remark, remark), closed_at = now(),
               last_updated_at = now()
         WHERE id = v_outage.id;
        v_text := format('Closed: %s', v_args ->> 'cause');
    END CASE;

    IF v_remark IS NOT NULL AND p_action <> 'close' THEN
        UPDATE oms_outage_events SET remark = v_remark WHERE id = v_outage.id;
    END IF;
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT v_outage.id, 'operator_' || p_action, o.status,
           v_text || coalesce(' (' || v_remark || ')', '') || format(' — %s', v_actor), 'operator', now(),
           jsonb_build_object('actor', v_actor, 'action', p_action, 'args', v_args)
      FROM oms_outage_events o WHERE o.id = v_outage.id;
    RETURN v_code;
END;
$$;
COMMENT ON FUNCTION oms_outage_act(text, text, text, jsonb) IS
    'One operator action on an outage (oms_outage_actions): refused with 55000 naming the status when not allowed; in the timeline with the actor.';

-- A time argument of an action: ISO 8601 with a zone, after
-- feeds.earliest_event_time and at most p_ahead after now (an estimated
-- restoration time may be days ahead; a restoration time is not ahead at all).
CREATE OR REPLACE FUNCTION oms_action_time(p_args jsonb, p_field text, p_optional boolean, p_ahead interval)
RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_text text;
    v_time timestamptz;
BEGIN
    IF p_args -> p_field IS NULL OR p_args -> p_field = 'null'::jsonb THEN
        IF p_optional THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION '%: a time is required (ISO 8601 with a zone)', p_field
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    v_text := p_args ->> p_field;
    IF jsonb_typeof(p_args -> p_field) <> 'string'
       OR v_text !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$' THEN
        RAISE EXCEPTION '%: must be an ISO 8601 time with a zone (2026-01-15T14:00:00Z), not %', p_field,
            oms_json_brief(p_args -> p_field) USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    BEGIN
        v_time := v_text::timestamptz;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION '%: not a valid time: %', p_field, v_text USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END;
    IF v_time > now() + p_ahead OR v_time < (oms_setting('feeds.earliest_event_time') #>> '{}')::timestamptz THEN
        RAISE EXCEPTION '%: % is not plausible (from feeds.earliest_event_time to % ahead of now)', p_field, v_time, p_ahead
            USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
    END IF;
    RETURN v_time;
END;
$$;
COMMENT ON FUNCTION oms_action_time(jsonb, text, boolean, interval) IS
    'A time argument of an operator action: ISO 8601 with a zone, from feeds.earliest_event_time to p_ahead after now; 22023 naming it otherwise.';
