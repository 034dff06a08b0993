-- Live events: every outage change and meter status change is announced
-- on the PostgreSQL channel oms_events (NOTIFY), whoever wrote it — any
-- instance of the service, psql, a batch job. Each instance LISTENs and relays
-- the announcements to its GET /api/v1/stream clients (Server-Sent Events), so
-- every client sees every change. NOTIFY is transactional: an announcement is
-- delivered when (and only if) its transaction commits.
--
-- Payloads are JSON with a "type":
--   outage.opened | outage.updated | outage.confirmed | outage.restored | outage.merged
--       {"type", "event_id", "status", "confidence_score", "affected_meters_count",
--        "affected_customers_count", "substation_code", "feeder_code", "at",
--        "customers_out", "meters_out", "momentary", "crew", "etr", "acknowledged_at",
--        "acknowledged_by", "restored_at", "cause_code"}
--       sent when any of those changes (an operator's crew, ETR or acknowledgement
--       too): a console updates its row from the announcement alone.
--   meter.status_changed
--       {"type", "changes": [{"meter_number", "field", "previous", "status", "source", "at"}, ...]}
-- A statement that changes many meters (a SCADA check, a batch of last gasps)
-- sends its changes in chunks of 40 (a NOTIFY payload must stay under 8,000
-- bytes): a few announcements per statement, not one per meter.
-- (oms_api_key_revoke, 14_api_keys.sql, announces {"type": "api_key.revoked"}
-- on the same channel.)

-- An outage opened, or a change of what a work list shows of it: status, confidence, size,
-- customers and meters still out, momentary, crew, ETR, acknowledgement, restoration, cause.
CREATE OR REPLACE FUNCTION oms_notify_outage() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_type text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_type := 'outage.opened';
    ELSIF (NEW.status, NEW.confidence_score, NEW.affected_meters_count, NEW.affected_customers_count, NEW.customers_out,
           NEW.meters_out, NEW.momentary, NEW.crew, NEW.estimated_restoration_time, NEW.acknowledged_at,
           NEW.actual_restoration_time, NEW.cause_code)
          IS NOT DISTINCT FROM (OLD.status, OLD.confidence_score, OLD.affected_meters_count, OLD.affected_customers_count,
           OLD.customers_out, OLD.meters_out, OLD.momentary, OLD.crew, OLD.estimated_restoration_time, OLD.acknowledged_at,
           OLD.actual_restoration_time, OLD.cause_code) THEN
        RETURN NULL;
    ELSIF NEW.status = 'restored' AND OLD.status <> 'restored' THEN
        v_type := 'outage.restored';
    ELSIF NEW.status = 'merged' AND OLD.status <> 'merged' THEN
        v_type := 'outage.merged';
    ELSIF NEW.status = 'confirmed' AND OLD.status <> 'confirmed' THEN
        v_type := 'outage.confirmed';
    ELSE
        v_type := 'outage.updated';
    END IF;
    PERFORM pg_notify('oms_events', json_build_object(
        'type', v_type, 'event_id', NEW.event_id, 'status', NEW.status, 'confidence_score', NEW.confidence_score,
        'affected_meters_count', NEW.affected_meters_count, 'affected_customers_count', NEW.affected_customers_count,
        'substation_code', (SELECT s.substation_id FROM network_substations s WHERE s.id = NEW.substation_id),
        'feeder_code', (SELECT f.feeder_id FROM network_feeders f WHERE f.id = NEW.feeder_id),
        'at', NEW.last_updated_at, 'customers_out', NEW.customers_out, 'meters_out', NEW.meters_out,
        'momentary', NEW.momentary, 'crew', NEW.crew, 'etr', NEW.estimated_restoration_time,
        'acknowledged_at', NEW.acknowledged_at, 'acknowledged_by', NEW.acknowledged_by,
        'restored_at', NEW.actual_restoration_time, 'cause_code', NEW.cause_code)::text);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_notify_outage() IS
    'Trigger function: announces an outage opened, confirmed, restored or otherwise changed on channel oms_events.';

CREATE OR REPLACE TRIGGER oms_outage_events_notify
    AFTER INSERT OR UPDATE ON oms_outage_events
    FOR EACH ROW EXECUTE FUNCTION oms_notify_outage();

-- The status changes a statement applied (not the late ones), 40 to a notification.
--
-- Each change's meter number is read by its key, a sub-select per change, not a join: the
-- plan is kept for the session and made with the transition table as it was at the first
-- call, so a session whose first statement changed 2,500 meters of a 50,000-meter registry
-- hashed the whole registry (a scan of every meter) at every later call, one meter or many
-- (auto_explain, issue 18). At 50,000 meters, ten calls of 2,500 changes: 78-97 ms of this
-- trigger with the join, 49-53 ms by key (track_functions).
CREATE OR REPLACE FUNCTION oms_notify_meter_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_changes json;
BEGIN
    FOR v_changes IN
        SELECT json_agg(json_build_object(
                   'meter_number', c.meter_number, 'field', c.status_field, 'previous', c.previous_status,
                   'status', c.new_status, 'source', c.source_type, 'at', c.event_timestamp) ORDER BY c.n)
          FROM (SELECT (SELECT m.meter_number FROM oms_meters m WHERE m.id = a.meter_id) AS meter_number,
                       a.status_field, a.previous_status, a.new_status, a.source_type, a.event_timestamp,
                       row_number() OVER () AS n
                  FROM added_status_events a
                 WHERE a.applied AND a.previous_status IS DISTINCT FROM a.new_status) c
         GROUP BY (c.n - 1) / 40
    LOOP
        PERFORM pg_notify('oms_events', json_build_object('type', 'meter.status_changed', 'changes', v_changes)::text);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_notify_meter_status() IS
    'Trigger function: announces the meter status changes a statement applied, 40 to a notification, on channel oms_events.';

CREATE OR REPLACE TRIGGER oms_meter_status_events_notify
    AFTER INSERT ON oms_meter_status_events
    REFERENCING NEW TABLE AS added_status_events
    FOR EACH STATEMENT EXECUTE FUNCTION oms_notify_meter_status();
