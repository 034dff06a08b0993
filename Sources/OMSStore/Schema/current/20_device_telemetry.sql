-- Device states from telemetry, and what they do to outages ("telemetry
-- wins"). Every stored SCADA message whose event type or alarm type
-- scada_state_words knows sets the state of its device: the feeder's breaker
-- when the message names a feeder, else the substation's supply. Called by the
-- SCADA path (07_scada_feed.sql) for every new message, critical or not.
-- Tables: scada_state_words, oms_device_states, oms_device_state_history
-- (versioned/0102_outage_engine.sql).
--
-- Rules:
--   * The state in force is the newest by event time; an older message is
--     recorded (applied = false), not applied, but a late trip still moves its
--     outage's start back.
--   * open, locked_out, de_energized: the device's outage is confirmed at once
--     (basis telemetry), found or opened, covering every active meter under it
--     (counted out until the feeds say otherwise); active outages below it first
--     detected within correlation.window_minutes join it (merged). A device that closed less than
--     telemetry.reclose_seconds before reopens the same outage: one reclosing
--     sequence, its interruptions counted (MAIFI; MAIFIe counts it once).
--   * closed (close, reclose, energized, voltage restored): the device's outage
--     is restored at the message's time (oms_restore_outage: meters with a loss
--     reported after it nest; momentary verdict).
--   * A device shown closed is never predicted out (oms_engine_evaluate).

-- The state a SCADA message says: its event type looked up first, then its
-- alarm type, without case, spaces, dashes or underscores. NULL: neither is known.
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_scada_state(p_event_type text, p_alarm_type text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (coalesce(
        (SELECT w.state FROM scada_state_words w
          WHERE w.word_key = lower(regexp_replace(p_event_type, '[^A-Za-z0-9]+', '', 'g'))),
        (SELECT w.state FROM scada_state_words w
          WHERE w.word_key = lower(regexp_replace(p_alarm_type, '[^A-Za-z0-9]+', '', 'g')))));
END;
$$;
COMMENT ON FUNCTION oms_scada_state(text, text) IS
    'The device state a SCADA message says (scada_state_words: event type first, then alarm type), or NULL.';

-- Applies a stored SCADA message's device state and what it does to outages.
-- Idempotent: a message is applied once (oms_device_state_history), and a
-- second call returns the outage the first one touched. Returns that outage
-- (NULL when the message says no state, names an unknown device, or touches none).
CREATE OR REPLACE FUNCTION oms_apply_device_state(p_scada_event_id uuid) RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_event      scada_events;
    v_state      text;
    v_substation network_substations;
    v_feeder     network_feeders;
    v_outage     uuid;
BEGIN
    SELECT * INTO v_event FROM scada_events WHERE id = p_scada_event_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    v_state := oms_scada_state(v_event.event_type, v_event.alarm_type);
    IF v_state IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_substation FROM network_substations s WHERE s.substation_id = btrim(v_event.substation_id);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF nullif(btrim(v_event.feeder_id), '') IS NOT NULL THEN
        SELECT * INTO v_feeder FROM network_feeders f WHERE f.feeder_id = btrim(v_event.feeder_id);
        IF NOT FOUND OR v_feeder.substation_id <> v_substation.id THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM oms_lock_device(v_substation.id, v_feeder.id);
    v_outage := oms_device_state_apply(v_event, v_state, v_substation.id, v_feeder.id);
    IF v_outage IS NOT NULL THEN
        UPDATE scada_events SET outage_event_id = v_outage WHERE id = v_event.id AND outage_event_id IS NULL;
    END IF;
    RETURN v_outage;
END;
$$;
COMMENT ON FUNCTION oms_apply_device_state(uuid) IS
    'Applies a stored SCADA message''s device state (once): confirms or restores the device''s outage. Returns the outage touched.';

-- The rule itself, for a message whose state and device are known (the SCADA
-- check calls it with what it resolved; the caller holds the device's engine
-- locks and links the message to the outage returned): the state in force,
-- the device's outage confirmed, reopened or restored, the history row, the
-- evidence, the outage's numbers. Once per message: applied already, it
-- returns the outage it touched then.
CREATE OR REPLACE FUNCTION oms_device_state_apply(p_event scada_events, p_state text, p_substation_id uuid,
                                                  p_feeder_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_event      scada_events := p_event;
    v_state      text := p_state;
    v_kind       text := CASE WHEN p_feeder_id IS NOT NULL THEN 'feeder' ELSE 'substation' END;
    v_device     uuid := coalesce(p_feeder_id, p_substation_id);
    v_current    oms_device_states;
    v_applied    boolean;
    v_outage     uuid;
    v_reclose    interval := make_interval(secs => oms_setting_numeric('telemetry.reclose_seconds'));
    v_name       text := oms_device_name(p_substation_id, p_feeder_id, NULL);
BEGIN
    -- Applied already (a message stored unchecked, checked when sent again): the outage it touched.
    SELECT h.outage_event_id INTO v_outage FROM oms_device_state_history h WHERE h.scada_event_id = v_event.id;
    IF FOUND THEN
        RETURN (SELECT coalesce(o.merged_into_id, o.id) FROM oms_outage_events o WHERE o.id = v_outage);
    END IF;
    SELECT * INTO v_current FROM oms_device_states s
     WHERE s.device_kind = v_kind AND s.device_id = v_device FOR UPDATE;
    v_applied := v_current IS NULL OR v_current.state_at IS NULL OR v_event.event_timestamp >= v_current.state_at;
    IF v_applied THEN
        INSERT INTO oms_device_states AS s (device_kind, device_id, state, state_at, scada_event_id)
        VALUES (v_kind, v_device, v_state, v_event.event_timestamp, v_event.id)
        ON CONFLICT (device_kind, device_id) DO UPDATE
           SET state = excluded.state, state_at = excluded.state_at, scada_event_id = excluded.scada_event_id,
               updated_at = now();
    END IF;

    IF v_state IN ('open', 'locked_out', 'de_energized') THEN
        IF v_applied THEN
            v_outage := oms_device_out(p_substation_id, p_feeder_id, v_event, v_state);
        ELSE
            -- Older than the state in force: recorded; it may still move its outage's start back.
            SELECT o.id INTO v_outage FROM oms_outage_events o
             WHERE ((v_kind = 'feeder' AND o.feeder_id = v_device AND o.dp_id IS NULL)
                    OR (v_kind = 'substation' AND o.substation_id = v_device AND o.feeder_id IS NULL AND o.dp_id IS NULL))
               AND o.status NOT IN ('cancelled', 'merged')
               AND o.first_detected_at BETWEEN v_event.event_timestamp AND v_event.event_timestamp + v_reclose
             ORDER BY o.first_detected_at LIMIT 1;
            IF v_outage IS NOT NULL THEN
                UPDATE oms_outage_events SET first_detected_at = v_event.event_timestamp, last_updated_at = now()
                 WHERE id = v_outage;
                INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
                SELECT v_outage, 'start_moved', o.status,
                       format('SCADA %s on %s at %s, delivered late: the outage started then', v_event.event_type, v_name,
                              v_event.event_timestamp),
                       'scada', v_event.event_timestamp, jsonb_build_object('scada_event_id', v_event.id)
                  FROM oms_outage_events o WHERE o.id = v_outage;
            END IF;
        END IF;
    ELSIF v_applied THEN
        v_outage := oms_device_outage(p_substation_id, p_feeder_id);
        IF v_outage IS NOT NULL THEN
            PERFORM oms_restore_outage(v_outage, v_event.event_timestamp, 'telemetry',
                format('SCADA %s (%s) on %s: %s', v_event.event_type, coalesce(v_event.alarm_type, 'no alarm type'),
                       v_name, v_state));
        END IF;
    END IF;

    INSERT INTO oms_device_state_history (device_kind, device_id, state, previous_state, event_time, scada_event_id,
                                          applied, outage_event_id)
    VALUES (v_kind, v_device, v_state, v_current.state, v_event.event_timestamp, v_event.id, v_applied, v_outage);

    IF v_outage IS NOT NULL THEN
        INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table, correlation_weight,
                                       detected_at, evidence)
        VALUES (v_outage, 'scada', v_event.id::text, 'scada_events', oms_source_confidence('scada'),
                v_event.event_timestamp, CASE WHEN v_state = 'closed' THEN 'restoration' ELSE 'outage' END)
        ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING;
        -- Confidence, status and size with this message counted (06_correlation.sql).
        PERFORM oms_refresh_outages(ARRAY[v_outage], v_event.event_timestamp, false);
    END IF;
    RETURN v_outage;
END;
$$;
COMMENT ON FUNCTION oms_device_state_apply(scada_events, text, uuid, uuid) IS
    'The telemetry rule for a message whose state and device are known: state in force, the device''s outage, history, evidence.';

-- A device telemetry shows out (open, locked out, de-energized): its outage,
-- reopened (within the reclosing window), found or opened, confirmed; the
-- active outages below it join it; it covers every active meter under it (a
-- telemetry outage never rolls up: its breaker failed on its own). Returns the outage.
CREATE OR REPLACE FUNCTION oms_device_out(p_substation_id uuid, p_feeder_id uuid, p_event scada_events, p_state text)
RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_window   interval := oms_setting_interval_minutes('correlation.window_minutes');
    v_reclose  interval := make_interval(secs => oms_setting_numeric('telemetry.reclose_seconds'));
    v_time     timestamptz := p_event.event_timestamp;
    v_outage   oms_outage_events;
    v_name     text;
    v_cause    text;
    v_below    uuid[];
BEGIN
    v_name := oms_device_name(p_substation_id, p_feeder_id, NULL);
    -- The cause telemetry names ("Trip on SS001-FD02 at substation SS001: Overcurrent"): an outage's
    -- root_cause once telemetry shows its device out, whichever came first, a prediction or the
    -- SCADA message (the cause must not depend on the order the feeds arrived in).
    v_cause := CASE WHEN p_feeder_id IS NOT NULL
                    THEN format('%s on %s at substation %s', coalesce(p_event.alarm_type, p_event.event_type), v_name,
                                (SELECT s2.substation_id FROM network_substations s2 WHERE s2.id = p_substation_id))
                    ELSE format('%s at %s', coalesce(p_event.alarm_type, p_event.event_type), v_name) END
               || coalesce(': ' || p_event.reason, '');

    -- A feeder under a substation that is out already: part of that outage.
    IF p_feeder_id IS NOT NULL THEN
        SELECT o.* INTO v_outage FROM oms_outage_events o WHERE o.id = oms_device_outage(p_substation_id, NULL);
        IF FOUND THEN
            INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
            VALUES (v_outage.id, 'evidence_linked', v_outage.status,
                    format('SCADA %s (%s): %s %s, under the substation''s outage', p_event.event_type,
                           coalesce(p_event.alarm_type, 'no alarm type'), v_name, p_state),
                    'scada', v_time, jsonb_build_object('rule', 'telemetry', 'state', p_state, 'scada_event_id', p_event.id));
            RETURN v_outage.id;
        END IF;
    END IF;

    -- The same reclosing sequence: the device's outage restored moments ago opens again, whatever
    -- opened it (a trip, or last gasps rolled up before a delayed trip arrived): one sequence of
    -- one breaker is one outage, its trips counted as interruptions.
    SELECT o.* INTO v_outage FROM oms_outage_events o
     WHERE o.status = 'restored'
       AND o.actual_restoration_time BETWEEN v_time - v_reclose AND v_time
       AND ((p_feeder_id IS NOT NULL AND o.feeder_id = p_feeder_id AND o.dp_id IS NULL)
            OR (p_feeder_id IS NULL AND o.substation_id = p_substation_id AND o.feeder_id IS NULL AND o.dp_id IS NULL))
     ORDER BY o.actual_restoration_time DESC LIMIT 1
       FOR UPDATE;
    IF FOUND THEN
        UPDATE oms_outage_meters SET restored_at = NULL, restored_by = NULL
         WHERE outage_event_id = v_outage.id AND restored_by = 'telemetry'
           AND restored_at = v_outage.actual_restoration_time;
        UPDATE oms_outage_events
           SET status = 'confirmed', actual_restoration_time = NULL, momentary = false,
               interruptions = interruptions + 1, basis = 'telemetry',
               root_cause = CASE WHEN basis = 'telemetry' THEN root_cause ELSE v_cause END, last_updated_at = now()
         WHERE id = v_outage.id;
        INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
        VALUES (v_outage.id, 'reclose_sequence', 'confirmed',
                format('SCADA %s on %s %s after it closed: the same reclosing sequence (telemetry.reclose_seconds = %s), interruption %s',
                       p_event.event_type, v_name, v_time - v_outage.actual_restoration_time,
                       extract(epoch FROM v_reclose), v_outage.interruptions + 1),
                'scada', v_time,
                jsonb_build_object('rule', 'reclose_sequence', 'scada_event_id', p_event.id,
                                   'interruptions', v_outage.interruptions + 1));
    ELSE
        SELECT o.* INTO v_outage FROM oms_outage_events o WHERE o.id = oms_device_outage(p_substation_id, p_feeder_id)
           FOR UPDATE;
        IF FOUND THEN
            IF v_outage.status NOT IN ('detected', 'predicted') AND v_outage.basis = 'telemetry' THEN
                INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
                VALUES (v_outage.id, 'evidence_linked', v_outage.status,
                        format('SCADA %s (%s): %s %s', p_event.event_type, coalesce(p_event.alarm_type, 'no alarm type'),
                               v_name, p_state),
                        'scada', v_time, jsonb_build_object('rule', 'telemetry', 'state', p_state,
                                                            'scada_event_id', p_event.id));
            ELSE
                UPDATE oms_outage_events
                   SET status = CASE WHEN status IN ('detected', 'predicted') THEN 'confirmed' ELSE status END,
                       basis = 'telemetry', root_cause = v_cause, last_updated_at = now()
                 WHERE id = v_outage.id;
                INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
                VALUES (v_outage.id, 'confirmed', 'confirmed',
                        format('Telemetry: SCADA %s (%s) shows %s %s -> confirmed', p_event.event_type,
                               coalesce(p_event.alarm_type, 'no alarm type'), v_name, p_state),
                        'scada', v_time, jsonb_build_object('rule', 'telemetry', 'state', p_state,
                                                            'scada_event_id', p_event.id));
            END IF;
        ELSE
            INSERT INTO oms_outage_events (event_id, event_type, status, basis, severity, confidence_score, root_cause,
                                           description, substation_id, feeder_id, event_latitude, event_longitude,
                                           first_detected_at, covers_device)
            SELECT format('OMS_SCADA_%s_%s', floor(extract(epoch FROM v_time))::bigint, left(md5(p_event.id::text), 8)),
                   'outage', 'confirmed', 'telemetry',
                   CASE oms_normalize_code(p_event.severity)
                       WHEN 'critical' THEN 'critical' WHEN 'high' THEN 'high' WHEN 'major' THEN 'high'
                       WHEN 'medium' THEN 'medium' WHEN 'minor' THEN 'medium' WHEN 'low' THEN 'low'
                       WHEN 'warning' THEN 'low' ELSE 'high' END,
                   oms_source_confidence('scada'), v_cause,
                   format('Telemetry: SCADA %s (%s) shows %s %s', p_event.event_type,
                          coalesce(p_event.alarm_type, 'no alarm type'), v_name, p_state),
                   p_substation_id, p_feeder_id,
                   coalesce(p_event.latitude, f.location_lat, s.location_lat),
                   coalesce(p_event.longitude, f.location_lng, s.location_lng), v_time, true
              FROM network_substations s LEFT JOIN network_feeders f ON f.id = p_feeder_id
             WHERE s.id = p_substation_id
            RETURNING * INTO v_outage;
            INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
            VALUES (v_outage.id, 'outage_opened', 'confirmed',
                    format('Telemetry: SCADA %s (%s) shows %s %s -> confirmed outage of every meter under it',
                           p_event.event_type, coalesce(p_event.alarm_type, 'no alarm type'), v_name, p_state),
                    'scada', v_time, jsonb_build_object('rule', 'telemetry', 'state', p_state,
                                                        'scada_event_id', p_event.id));
        END IF;
    END IF;

    -- Outages below (and others naming the device) first detected within the window join it
    -- (oms_active_outages_under, 19_outage_engine.sql: each level by its own index).
    SELECT array_agg(b.id) INTO v_below
      FROM oms_active_outages_under(p_substation_id, p_feeder_id, v_time - v_window) b
     WHERE b.id <> v_outage.id AND NOT b.operator_pinned;
    IF v_below IS NOT NULL THEN
        PERFORM oms_merge_outages(v_outage.id, v_below, 'telemetry',
            format('%s is %s (SCADA %s): the outages below it are one', v_name, p_state, p_event.event_type), v_time,
            'scada');
    END IF;
    UPDATE oms_outage_events SET first_detected_at = v_time WHERE id = v_outage.id AND first_detected_at > v_time;
    PERFORM oms_outage_cover(ARRAY[v_outage.id]);
    RETURN (SELECT coalesce(o.merged_into_id, o.id) FROM oms_outage_events o WHERE o.id = v_outage.id);
END;
$$;
COMMENT ON FUNCTION oms_device_out(uuid, uuid, scada_events, text) IS
    'Telemetry shows a device out: its outage reopened, found or opened, confirmed; outages below join it; every meter under it covered.';
