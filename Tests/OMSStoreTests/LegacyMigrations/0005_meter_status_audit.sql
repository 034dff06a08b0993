-- 0005 The audit trail: one row per meter status change, from any source.
--
-- Rows are only ever inserted. An event that arrives late (older than the
-- meter's last change) is still recorded here, even when it does not
-- overwrite the newer state in oms_meters.

CREATE TABLE oms_meter_status_events (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    meter_id          uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    event_type        text NOT NULL CHECK (btrim(event_type) <> ''),
    source_type       text NOT NULL
                      CHECK (source_type IN ('scada', 'onu', 'kaifa', 'call_center', 'manual', 'system')),
    source_event_id   text,
    status_field      text NOT NULL DEFAULT 'power_status'
                      CHECK (status_field IN ('power_status', 'communication_status')),
    previous_status   text CHECK (previous_status IN ('on', 'off', 'unknown', 'online', 'offline')),
    new_status        text NOT NULL CHECK (new_status IN ('on', 'off', 'unknown', 'online', 'offline')),
    event_timestamp   timestamptz NOT NULL DEFAULT now(),
    confidence_score  numeric(4, 3) CHECK (confidence_score BETWEEN 0 AND 1),
    applied           boolean NOT NULL DEFAULT true,
    metadata          jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (status_field = 'power_status' AND new_status IN ('on', 'off', 'unknown')
        OR status_field = 'communication_status' AND new_status IN ('online', 'offline', 'unknown'))
);
COMMENT ON TABLE oms_meter_status_events IS
    'Audit trail of every meter status change from every source (insert-only).';
COMMENT ON COLUMN oms_meter_status_events.status_field IS
    'Which oms_meters column the change is about: power_status (on/off/unknown) or communication_status (online/offline/unknown).';
COMMENT ON COLUMN oms_meter_status_events.applied IS
    'false when the event was older than the meter''s last change and so did not overwrite it.';

CREATE INDEX oms_meter_status_events_meter_time_idx ON oms_meter_status_events (meter_id, event_timestamp DESC);
CREATE INDEX oms_meter_status_events_time_idx       ON oms_meter_status_events (event_timestamp DESC);
CREATE INDEX oms_meter_status_events_source_idx     ON oms_meter_status_events (source_type, source_event_id);
