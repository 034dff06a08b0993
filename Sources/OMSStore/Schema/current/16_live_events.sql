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
-- Sent by oms_apply_status_changes (05_status.sql), the one rule every status
-- change goes through (the feeds, the SCADA check, an operator, the seed's
-- update_meter_status): a statement that changes many meters (a SCADA check, a
-- batch of last gasps) sends its changes in chunks of 40 (a NOTIFY payload must
-- stay under 8,000 bytes): a few announcements per statement, not one per meter.
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

