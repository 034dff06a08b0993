-- 0102 The outage engine's tables, columns and settings (issue 15). The rules
-- themselves are in current/19_device_telemetry.sql and current/20_outage_engine.sql.
--
-- * Devices have a state from telemetry (scada_state_words maps SCADA event and
--   alarm words to states; oms_device_states holds the state in force,
--   oms_device_state_history every message about it).
-- * Outages gain: how they are known (basis), the outage they were merged into
--   (status merged) or nest under, the momentary verdict and the number of
--   interruptions of a reclosing sequence, what is out now, and the operator's
--   marks (acknowledged, crew, cause code and remark; status closed).
-- * An outage's meters gain the time each got power back (restoration steps)
--   and how the meter came to be covered (its own evidence, or the device's).

-- ---------------------------------------------------------------------------
-- Outage statuses: merged (folded into another outage, merged_into_id) and
-- closed (the operator closed a restored outage with a cause code) are
-- terminal, like restored and cancelled. "Active" is every other status.

ALTER TABLE oms_outage_events DROP CONSTRAINT oms_outage_events_status_check;
ALTER TABLE oms_outage_events ADD CONSTRAINT oms_outage_events_status_check
    CHECK (status IN ('detected', 'predicted', 'confirmed', 'in_progress', 'restored', 'closed', 'cancelled',
                      'merged'));

-- Cause codes an operator closes an outage with (tunable, like kaifa_event_types).
CREATE TABLE oms_cause_codes (
    code         text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    description  text NOT NULL,
    active       boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE oms_cause_codes IS 'Causes an operator may close an outage with (oms outage close --cause).';
INSERT INTO oms_cause_codes (code, description) VALUES
    ('weather_wind', 'Wind: trees or debris on the line'),
    ('weather_lightning', 'Lightning'),
    ('weather_ice_snow', 'Ice or snow load'),
    ('vegetation', 'Vegetation contact (not storm-related)'),
    ('animal', 'Animal contact'),
    ('equipment_failure', 'Equipment failure: transformer, cable, switchgear, fuse'),
    ('vehicle', 'Vehicle or third-party damage'),
    ('overload', 'Overload'),
    ('planned', 'Planned interruption'),
    ('upstream_supply', 'Loss of supply from the transmission network'),
    ('unknown', 'Cause not found');

ALTER TABLE oms_outage_events
    ADD COLUMN basis text NOT NULL DEFAULT 'evidence'
        CHECK (basis IN ('evidence', 'prediction', 'rollup', 'telemetry', 'operator')),
    ADD COLUMN merged_into_id uuid REFERENCES oms_outage_events (id),
    ADD COLUMN parent_outage_id uuid REFERENCES oms_outage_events (id),
    ADD COLUMN momentary boolean NOT NULL DEFAULT false,
    ADD COLUMN interruptions integer NOT NULL DEFAULT 1 CHECK (interruptions >= 1),
    ADD COLUMN meters_out integer NOT NULL DEFAULT 0 CHECK (meters_out >= 0),
    ADD COLUMN customers_out integer NOT NULL DEFAULT 0 CHECK (customers_out >= 0),
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN crew text,
    ADD COLUMN crew_assigned_at timestamptz,
    ADD COLUMN cause_code text REFERENCES oms_cause_codes (code),
    ADD COLUMN remark text,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN operator_pinned boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT oms_outage_events_merged_check
        CHECK ((status = 'merged') = (merged_into_id IS NOT NULL) AND merged_into_id IS DISTINCT FROM id);
COMMENT ON COLUMN oms_outage_events.basis IS
    'How the outage is known: evidence (meters or calls, below the prediction threshold), prediction (the threshold passed), rollup (its children or customers), telemetry (SCADA), operator.';
COMMENT ON COLUMN oms_outage_events.merged_into_id IS 'The outage this one was merged into (status merged); it took the evidence, meters and customers.';
COMMENT ON COLUMN oms_outage_events.parent_outage_id IS 'A nested outage: the outage whose restoration left these meters without power (backdated to its start).';
COMMENT ON COLUMN oms_outage_events.momentary IS 'Restored within outage.momentary_minutes of its start (IEEE 1366: counted in MAIFI, not SAIFI).';
COMMENT ON COLUMN oms_outage_events.interruptions IS 'Interruptions of its reclosing sequence (trips that reopened it): MAIFI counts each, MAIFIe the sequence once.';
COMMENT ON COLUMN oms_outage_events.meters_out IS 'Meters still without power now (affected_meters_count keeps what it interrupted).';
COMMENT ON COLUMN oms_outage_events.customers_out IS 'Customers still without power now (affected_customers_count keeps what it interrupted).';
COMMENT ON COLUMN oms_outage_events.operator_pinned IS 'An operator confirmed, merged into or split this outage: the engine no longer merges it away.';

-- Active outages by device, restated with the new terminal statuses (the
-- evidence and the engine find their candidates through these).
DROP INDEX oms_outage_events_active_idx;
DROP INDEX oms_outage_events_active_dp_idx;
DROP INDEX oms_outage_events_active_feeder_idx;
DROP INDEX oms_outage_events_active_substation_idx;
CREATE INDEX oms_outage_events_active_idx ON oms_outage_events (status, first_detected_at DESC)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged');
CREATE INDEX oms_outage_events_active_dp_idx ON oms_outage_events (dp_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged');
CREATE INDEX oms_outage_events_active_feeder_idx ON oms_outage_events (feeder_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NULL;
CREATE INDEX oms_outage_events_active_substation_idx ON oms_outage_events (substation_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NULL AND feeder_id IS NULL;
-- Recently restored outages of a device: a trip within the reclosing window
-- reopens the same outage; late evidence finds the outage it belongs to.
CREATE INDEX oms_outage_events_restored_idx ON oms_outage_events (actual_restoration_time)
    WHERE status IN ('restored', 'closed');
CREATE INDEX oms_outage_events_merged_into_idx ON oms_outage_events (merged_into_id) WHERE merged_into_id IS NOT NULL;
CREATE INDEX oms_outage_events_parent_idx ON oms_outage_events (parent_outage_id) WHERE parent_outage_id IS NOT NULL;
CREATE INDEX oms_outage_events_cause_idx ON oms_outage_events (cause_code) WHERE cause_code IS NOT NULL;

-- The meters of an outage: covered by their own evidence or by the device's
-- (a predicted or telemetered device covers every active meter under it), and
-- when each got power back (the restoration steps).
ALTER TABLE oms_outage_meters DROP CONSTRAINT oms_outage_meters_source_type_check;
ALTER TABLE oms_outage_meters ADD CONSTRAINT oms_outage_meters_source_type_check
    CHECK (source_type IN ('scada', 'onu', 'kaifa', 'call_center', 'manual', 'system'));
ALTER TABLE oms_outage_meters
    ADD COLUMN reported boolean NOT NULL DEFAULT true,
    ADD COLUMN last_evidence_at timestamptz,
    ADD COLUMN restored_at timestamptz,
    ADD COLUMN restored_by text;
UPDATE oms_outage_meters SET last_evidence_at = first_evidence_at;
ALTER TABLE oms_outage_meters ALTER COLUMN last_evidence_at SET NOT NULL;
COMMENT ON COLUMN oms_outage_meters.reported IS 'The meter''s own evidence (a last gasp, a call, a SCADA check found it offline); false: covered because its device is out.';
COMMENT ON COLUMN oms_outage_meters.last_evidence_at IS 'Its latest outage evidence: a loss after a restoration is a sign of still being out.';
COMMENT ON COLUMN oms_outage_meters.restored_at IS 'When it got power back (its power-up, the device closing, or the outage''s restoration); NULL: still out.';
COMMENT ON COLUMN oms_outage_meters.restored_by IS 'What restored it: power_up, telemetry, share (the outage restored by its meters), operator.';
CREATE INDEX oms_outage_meters_out_idx ON oms_outage_meters (outage_event_id) WHERE restored_at IS NULL;

-- ---------------------------------------------------------------------------
-- Device states from telemetry.

-- Which SCADA words say what about a breaker or a substation. A message's event
-- type is looked up first, then its alarm type; compared without case,
-- spaces, dashes or underscores (word_key).
CREATE TABLE scada_state_words (
    word         text PRIMARY KEY CHECK (btrim(word) <> ''),
    word_key     text GENERATED ALWAYS AS (lower(regexp_replace(word, '[^A-Za-z0-9]+', '', 'g'))) STORED UNIQUE,
    state        text NOT NULL CHECK (state IN ('closed', 'open', 'locked_out', 'de_energized')),
    description  text
);
COMMENT ON TABLE scada_state_words IS
    'SCADA event and alarm words and the device state each means (event type first, then alarm type; case, spaces, dashes and underscores ignored).';
INSERT INTO scada_state_words (word, state, description) VALUES
    ('breaker_trip', 'open', 'Breaker tripped (a reclose may follow)'),
    ('breaker_open', 'open', 'Breaker opened'),
    ('breaker_close', 'closed', 'Breaker closed'),
    ('breaker_reclose', 'closed', 'Breaker reclosed'),
    ('MV_AlarmLossOfVoltage', 'de_energized', 'Loss of voltage on the busbar'),
    ('MV_AlarmVoltageRestored', 'closed', 'Voltage restored on the busbar'),
    ('trip', 'open', 'Trip'),
    ('fault', 'open', 'Protection operated on a fault'),
    ('open', 'open', 'Open'),
    ('lockout', 'locked_out', 'Recloser locked out: the last reclose failed'),
    ('reclose', 'closed', 'Reclosed'),
    ('close', 'closed', 'Closed'),
    ('De-energized', 'de_energized', 'De-energized'),
    ('loss_of_voltage', 'de_energized', 'Loss of voltage'),
    ('power_failure', 'de_energized', 'Power failure'),
    ('energized', 'closed', 'Energized'),
    ('voltage_restored', 'closed', 'Voltage restored'),
    -- Other spellings seen across SCADA vendors.
    ('breaker_opened', 'open', 'Breaker opened'),
    ('breaker_tripped', 'open', 'Breaker tripped'),
    ('tripped', 'open', 'Tripped'),
    ('opened', 'open', 'Opened'),
    ('breaker_closed', 'closed', 'Breaker closed'),
    ('closed', 'closed', 'Closed'),
    ('reclosed', 'closed', 'Reclosed'),
    ('locked_out', 'locked_out', 'Locked out'),
    ('recloser_lockout', 'locked_out', 'Recloser locked out'),
    ('de_energised', 'de_energized', 'De-energised'),
    ('loss_of_supply', 'de_energized', 'Loss of supply'),
    ('voltage_loss', 'de_energized', 'Voltage loss'),
    ('energised', 'closed', 'Energised'),
    ('supply_restored', 'closed', 'Supply restored'),
    ('power_restored', 'closed', 'Power restored');

-- The state in force of each telemetered device (a feeder's breaker, a
-- substation's supply): the newest message by event time.
CREATE TABLE oms_device_states (
    device_kind     text NOT NULL CHECK (device_kind IN ('substation', 'feeder')),
    device_id       uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('closed', 'open', 'locked_out', 'de_energized', 'unknown')),
    state_at        timestamptz NOT NULL,
    scada_event_id  uuid REFERENCES scada_events (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_kind, device_id)
);
COMMENT ON TABLE oms_device_states IS 'The state of each telemetered device (feeder breaker, substation) as its newest SCADA message says.';

-- Every SCADA message about a device's state, in the order received; applied
-- is false for one older than the state in force (recorded, not applied).
CREATE TABLE oms_device_state_history (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    device_kind     text NOT NULL CHECK (device_kind IN ('substation', 'feeder')),
    device_id       uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('closed', 'open', 'locked_out', 'de_energized', 'unknown')),
    previous_state  text,
    event_time      timestamptz NOT NULL,
    scada_event_id  uuid NOT NULL UNIQUE REFERENCES scada_events (id) ON DELETE CASCADE,
    applied         boolean NOT NULL,
    outage_event_id uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_device_state_history IS 'Every SCADA message about a device''s state; applied = false: older than the state in force.';
CREATE INDEX oms_device_state_history_device_idx ON oms_device_state_history (device_kind, device_id, event_time DESC);
CREATE INDEX oms_device_state_history_outage_idx ON oms_device_state_history (outage_event_id)
    WHERE outage_event_id IS NOT NULL;
CREATE INDEX oms_device_states_scada_event_idx ON oms_device_states (scada_event_id);

-- ---------------------------------------------------------------------------
-- The engine's settings (checked like every setting on each write).

INSERT INTO oms_settings (key, value, description, value_type, minimum, maximum) VALUES
    ('predict.dp_min_reports', '2',
     'A distribution point is predicted out when at least this many of its meters report a loss (last gasp, dying gasp, call) ...',
     'integer', 1, 1000),
    ('predict.dp_report_share', '0.5',
     '... or when this share of its meters able to report (with AMI or an ONU) do.',
     'number', 0.01, 1),
    ('rollup.min_children', '2',
     'A feeder or substation is predicted instead of its children when at least this many of its children are out ...',
     'integer', 1, 1000),
    ('rollup.children_share', '0.5',
     '... and they are at least this share of its children with meters ...',
     'number', 0.01, 1),
    ('rollup.customer_share', '0.3',
     '... or when this share of its customers able to report have reported a loss.',
     'number', 0.01, 1),
    ('rollup.window_minutes', '30',
     'Roll-up counts only outages below first detected within this many minutes of the evidence: further apart, they are separate outages.',
     'integer', 1, 1440),
    ('restoration.meter_share', '0.5',
     'An outage without telemetry is restored when this share of its meters able to report have reported power back (none a later loss).',
     'number', 0.01, 1),
    ('restoration.telemetry_meter_share', '0.8',
     'An outage held by telemetry whose device never reported closing is restored when this share of its meters able to report have power back.',
     'number', 0.01, 1),
    ('restoration.nested_minutes', '10',
     'A meter that reports a loss within this many minutes after its outage was restored, without a power-up in between, was never restored: a nested outage, backdated.',
     'integer', 0, 1440),
    ('outage.momentary_minutes', '5',
     'An interruption restored within this many minutes is momentary (IEEE 1366: MAIFI, not SAIFI).',
     'number', 0, 60),
    ('telemetry.reclose_seconds', '120',
     'A device that opens again within this many seconds after closing reopens the same outage: one reclosing sequence.',
     'integer', 0, 3600);

-- ---------------------------------------------------------------------------
-- oms_outages() lists the new columns (current/15_api_reads.sql): a change of
-- result columns, which CREATE OR REPLACE cannot make.
DROP FUNCTION IF EXISTS oms_outages(text[], boolean, timestamptz, timestamptz, text, integer, text);

-- ---------------------------------------------------------------------------
-- Operator actions (current/21_operator_actions.sql) need their own API scope.
ALTER TABLE oms_api_keys DROP CONSTRAINT oms_api_keys_scopes_check;
ALTER TABLE oms_api_keys ADD CONSTRAINT oms_api_keys_scopes_check CHECK (
    cardinality(scopes) > 0
    AND scopes <@ ARRAY['ingest:scada', 'ingest:onu', 'ingest:kaifa', 'ingest:callcenter', 'read', 'operate', 'admin']);
