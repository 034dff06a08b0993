-- 0006 Outage events, the evidence linked to them, and their timeline.
--
-- Life cycle (status): predicted (inferred from meters/calls alone) or
-- detected (telemetry: SCADA) -> confirmed -> in_progress (crew working) ->
-- restored; cancelled when the evidence turns out false. "Active" means not
-- restored and not cancelled.

CREATE TABLE oms_outage_events (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id                    text NOT NULL UNIQUE CHECK (btrim(event_id) <> ''),
    event_type                  text NOT NULL DEFAULT 'outage',
    status                      text NOT NULL DEFAULT 'detected'
                                CHECK (status IN ('predicted', 'detected', 'confirmed', 'in_progress',
                                                  'restored', 'cancelled')),
    severity                    text NOT NULL DEFAULT 'medium'
                                CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    confidence_score            numeric(4, 3) NOT NULL DEFAULT 0.5 CHECK (confidence_score BETWEEN 0 AND 1),
    affected_customers_count    integer NOT NULL DEFAULT 0 CHECK (affected_customers_count >= 0),
    affected_meters_count       integer NOT NULL DEFAULT 0 CHECK (affected_meters_count >= 0),
    root_cause                  text,
    description                 text,
    substation_id               uuid REFERENCES network_substations (id),
    feeder_id                   uuid REFERENCES network_feeders (id),
    dp_id                       uuid REFERENCES network_distribution_points (id),
    event_latitude              double precision CHECK (event_latitude BETWEEN -90 AND 90),
    event_longitude             double precision CHECK (event_longitude BETWEEN -180 AND 180),
    first_detected_at           timestamptz NOT NULL DEFAULT now(),
    estimated_restoration_time  timestamptz,
    actual_restoration_time     timestamptz,
    last_updated_at             timestamptz NOT NULL DEFAULT now(),
    created_at                  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_outage_events IS
    'Outages: one row per interruption, whichever feeds reported it. event_id is the readable id (OMS_SCADA_<unix>_<hex>).';

CREATE INDEX oms_outage_events_substation_idx ON oms_outage_events (substation_id);
CREATE INDEX oms_outage_events_feeder_idx     ON oms_outage_events (feeder_id);
CREATE INDEX oms_outage_events_dp_idx         ON oms_outage_events (dp_id);
CREATE INDEX oms_outage_events_detected_idx   ON oms_outage_events (first_detected_at DESC);
CREATE INDEX oms_outage_events_location_idx   ON oms_outage_events (event_latitude, event_longitude);
CREATE INDEX oms_outage_events_active_idx     ON oms_outage_events (status, first_detected_at DESC)
    WHERE status NOT IN ('restored', 'cancelled');

CREATE FUNCTION oms_outage_events_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER oms_outage_events_touch BEFORE UPDATE ON oms_outage_events
    FOR EACH ROW EXECUTE FUNCTION oms_outage_events_touch();

-- The evidence: which feed event supports which outage. A feed event counts
-- once per outage, however often it is delivered.
CREATE TABLE oms_event_sources (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    outage_event_id     uuid NOT NULL REFERENCES oms_outage_events (id) ON DELETE CASCADE,
    source_type         text NOT NULL CHECK (source_type IN ('scada', 'onu', 'kaifa', 'call_center')),
    source_event_id     text NOT NULL,
    source_table        text,
    correlation_weight  numeric(4, 3) NOT NULL DEFAULT 1 CHECK (correlation_weight BETWEEN 0 AND 1),
    detected_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (outage_event_id, source_type, source_event_id)
);
COMMENT ON TABLE oms_event_sources IS 'Feed events linked to an outage as evidence (one row per event and outage).';
CREATE INDEX oms_event_sources_source_idx ON oms_event_sources (source_type, source_event_id);

CREATE TABLE oms_event_timeline (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    outage_event_id  uuid NOT NULL REFERENCES oms_outage_events (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    status           text,
    description      text,
    source           text,
    "timestamp"      timestamptz NOT NULL DEFAULT now(),
    metadata         jsonb
);
COMMENT ON TABLE oms_event_timeline IS 'What happened to each outage, in order: opened, evidence linked, status changes.';
CREATE INDEX oms_event_timeline_outage_idx ON oms_event_timeline (outage_event_id, "timestamp" DESC);
