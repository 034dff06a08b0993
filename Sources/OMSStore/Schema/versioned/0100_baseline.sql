-- 0100 Baseline: every table, column, index, constraint, type and seed row of the
-- schema, as the numbered migrations 0001-0031 left them (issue 14 collapsed
-- them into this one file; the history is in git).
--
-- A versioned file: applied once, in order, checksummed, never edited once
-- released (a change is a new numbered file). It holds state: tables,
-- columns, indexes, constraints, types, seed rows. Every function, trigger and
-- view is in ../current/, re-applied whenever it changes; see ../README.md.
--
-- A database migrated by the old chain (versions 1-31 in oms_schema_migrations)
-- already has all of this: `oms migrate` records this file as applied without
-- running it, then applies the current files (MigrationRunner, LegacySchema).
--
-- Versioned files never call current functions, so three functions are
-- defined here instead: those an index or a constraint is built on
-- (oms_normalize_code, oms_meter_number_key, oms_phone_key). They are part of
-- the data's definition: changing one means rebuilding what uses it, in a new
-- versioned file that replaces it (CREATE OR REPLACE) and then REINDEXes.
--
-- Keys: every table has a uuid id (gen_random_uuid(), built into PostgreSQL
-- 13+: no extension); the utility's identifiers (SS001, FD002, meter numbers,
-- customer ids) are unique text business keys; references use the uuid. The
-- feed tables keep ids as received, so an event naming an unknown
-- substation is still stored and reported.
--
-- Needs nothing but stock PostgreSQL 15.


-- ===========================================================================
-- Functions that indexes and constraints are built on.

-- 'De-energized', 'de energized' and 'DE_ENERGIZED' all read 'de_energized':
-- lower case, runs of other characters as one '_'. Codes of the SCADA alarm
-- list, ONU alarms and call-center trouble codes compare this way
-- (callcenter_trouble_codes.code is stored in this form).
CREATE FUNCTION oms_normalize_code(p_code text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(regexp_replace(lower(btrim(p_code)), '[^a-z0-9]+', '_', 'g'), '_'), '')
$$;

-- A meter number as customers type it, made comparable: upper case, letters and
-- digits only, and (p_strip_zeros) no leading zeros in its digits. Indexed both
-- ways on oms_meters (oms_meters_number_key_idx, ..._stripped_idx); the
-- call-center feed and the registry migration match typed numbers with it.
-- Parallel safe: the registry migration keys every record with it (measured:
-- 950,000 keys in 2.0 s instead of 4.0 s).
CREATE FUNCTION oms_meter_number_key(p_number text, p_strip_zeros boolean) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN p_strip_zeros
                THEN regexp_replace(regexp_replace(upper(p_number), '[^A-Z0-9]', '', 'g'), '^([A-Z]*)0+(?=[0-9])', '\1')
                ELSE regexp_replace(upper(p_number), '[^A-Z0-9]', '', 'g') END
$$;

-- A phone number made comparable: its last 10 digits (oms_customers_phone_key_idx).
CREATE FUNCTION oms_phone_key(p_phone text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT nullif(right(regexp_replace(p_phone, '[^0-9]', '', 'g'), 10), '') $$;


-- ===========================================================================
-- Settings: every threshold and weight of the rules, one row each, so that an
-- operator tunes the rules with plain SQL and every caller (psql or the
-- service) sees the same value. Each has a type and a range, checked on every
-- write by the trigger oms_settings_check (current/02_settings.sql).

CREATE TABLE oms_settings (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    value       jsonb NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    value_type  text NOT NULL,
    minimum     numeric,
    maximum     numeric,
    CONSTRAINT oms_settings_value_type_check
        CHECK (value_type IN ('number', 'integer', 'boolean', 'string_list', 'time')),
    CONSTRAINT oms_settings_bounds_check
        CHECK (CASE WHEN value_type IN ('number', 'integer', 'string_list')
                    THEN minimum IS NOT NULL AND maximum IS NOT NULL AND minimum <= maximum
                    ELSE minimum IS NULL AND maximum IS NULL END)
);
COMMENT ON TABLE oms_settings IS
    'Thresholds and weights of the correlation rules, one row per setting (dotted lowercase keys).';
COMMENT ON COLUMN oms_settings.value_type IS
    'number, integer (a whole number), boolean, string_list (a JSON array of strings) or time (ISO 8601 with a zone).';
COMMENT ON COLUMN oms_settings.minimum IS
    'Smallest value allowed (number, integer) or fewest items (string_list); NULL for boolean and time.';
COMMENT ON COLUMN oms_settings.maximum IS
    'Largest value allowed (number, integer) or most items (string_list); NULL for boolean and time.';

-- The ranges are what a utility would expect; widen one with
-- UPDATE oms_settings SET maximum = ... WHERE key = ... if it must.
INSERT INTO oms_settings (key, value, description, value_type, minimum, maximum) VALUES
    -- The seed's "timeout if > 15 min".
    ('meter.communication_timeout_minutes', '15',
     'A meter whose last communication is older than this (minutes) at the time of a check is not counted online.',
     'integer', 1, 1440),
    -- How much each source is believed: the confidence of the status changes
    -- it makes and the weight of its evidence for an outage (evidence combines
    -- as 1 - product(1 - weight) over distinct source events); 0 mutes a source.
    ('scada.confidence', '0.9',
     'Weight of SCADA evidence for an outage (an outage opened by SCADA alone has this confidence) and confidence of the status changes it makes.',
     'number', 0, 1),
    ('kaifa.confidence', '0.8',
     'Weight of AMI head-end evidence (power down, power up) and confidence of the status changes it makes.',
     'number', 0, 1),
    ('onu.confidence', '0.7',
     'Weight of ONU evidence (dying gasp, recovery) and confidence of the status changes it makes.',
     'number', 0, 1),
    ('call_center.confidence', '0.5',
     'Weight of a customer call as outage evidence and confidence of the status changes it makes.',
     'number', 0, 1),
    ('manual.confidence', '1.0',
     'Confidence of a status change made by an operator.',
     'number', 0, 1),
    ('system.confidence', '1.0',
     'Confidence of a status change made by the service itself.',
     'number', 0, 1),
    -- Correlation (current/06_correlation.sql). Outage confidence is kept to 3
    -- decimals: a threshold of 0 or less would confirm every outage at once.
    ('correlation.window_minutes', '60',
     'Meter evidence joins an active outage covering its meter only if that outage was first detected within this many minutes.',
     'integer', 1, 10080),
    ('correlation.confirm_confidence', '0.95',
     'An outage whose combined confidence reaches this is confirmed (so is one with evidence from two different feeds).',
     'number', 0.001, 1),
    -- An empty list, or a code that normalises to nothing, would make every
    -- breaker trip "not critical".
    ('scada.critical_alarms',
     '["fault", "breaker_trip", "trip", "lockout", "power_failure", "outage", "de-energized", "loss_of_voltage", "MV_AlarmLossOfVoltage"]',
     'SCADA alarm types or event types that trigger a meter check (case, spaces and dashes do not matter).',
     'string_list', 1, 200),
    ('call_center.strip_leading_zeros', 'true',
     'Match typed meter numbers without their leading zeros (M0012345 = M12345).',
     'boolean', NULL, NULL),
    -- Proximity radii. A distribution transformer's low-voltage service reaches
    -- a few hundred metres (up to ~1 km in the country): 0.5 km links a meter
    -- to the transformer that can plausibly supply it and not to the next
    -- village's. A feeder's location is one point (its breaker or a centroid)
    -- of a line several km long: 2 km. A distribution substation serves an area
    -- of a few km up to ~10 km in radius: 10 km. 0 turns a level off.
    ('proximity.dp_radius_km', '0.5',
     'oms_link_meters_by_proximity(): a meter without topology is linked to the nearest distribution point within this many km (0: never).',
     'number', 0, 100),
    ('proximity.feeder_radius_km', '2',
     'oms_link_meters_by_proximity(): with no distribution point in range, to the nearest feeder (its location) within this many km (0: never).',
     'number', 0, 100),
    ('proximity.substation_radius_km', '10',
     'oms_link_meters_by_proximity(): with no feeder in range either, to the nearest substation within this many km (0: never).',
     'number', 0, 100),
    ('import.bulk_load_min_rows', '10000',
     'oms_import_apply(): a file of at least this many rows imported into an empty table builds the table''s indexes and foreign keys once, after the rows (0: never).',
     'integer', 0, 100000000),
    -- Plausible event times. The earliest time lets replays of past storms
    -- work; a horizon in the future would refuse every event.
    ('feeds.max_future_minutes', '5',
     'An event time more than this many minutes ahead of the database''s clock is refused (a sender''s clock or time zone is wrong).',
     'integer', 0, 1440),
    ('feeds.earliest_event_time', '"2000-01-01T00:00:00Z"',
     'An event time before this is refused (a sender''s default or garbage time); replays of past storms after it still work.',
     'time', NULL, NULL);


-- ===========================================================================
-- Network topology: substation -> feeder -> distribution point, and customers.
-- The GiST indexes on point(longitude, latitude) serve the proximity searches
-- (current/11_proximity.sql).

CREATE TABLE network_substations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    substation_id  text NOT NULL UNIQUE CHECK (btrim(substation_id) <> ''),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    region_code    text,
    voltage_level  text,
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_substations IS 'Substations; substation_id is the utility''s identifier (e.g. SS001).';
CREATE INDEX network_substations_point_idx ON network_substations
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;

CREATE TABLE network_feeders (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    feeder_id      text NOT NULL UNIQUE CHECK (btrim(feeder_id) <> ''),
    substation_id  uuid NOT NULL REFERENCES network_substations (id),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_feeders IS 'Feeders (one breaker each) and the substation that supplies them.';
CREATE INDEX network_feeders_substation_idx ON network_feeders (substation_id);
CREATE INDEX network_feeders_point_idx ON network_feeders
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;

CREATE TABLE network_distribution_points (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dp_id          text NOT NULL UNIQUE CHECK (btrim(dp_id) <> ''),
    feeder_id      uuid NOT NULL REFERENCES network_feeders (id),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_distribution_points IS
    'Distribution points (distribution transformers) along a feeder; meters hang off them.';
CREATE INDEX network_distribution_points_feeder_idx ON network_distribution_points (feeder_id);
CREATE INDEX network_distribution_points_location_idx ON network_distribution_points (location_lat, location_lng);
CREATE INDEX network_distribution_points_point_idx ON network_distribution_points
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;

CREATE TABLE oms_customers (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id    text NOT NULL UNIQUE CHECK (btrim(customer_id) <> ''),
    name           text,
    phone          text,
    address        text,
    dp_id          uuid REFERENCES network_distribution_points (id),
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_customers IS 'Customers (premises); the call center finds them by phone or meter number.';
CREATE INDEX oms_customers_dp_idx ON oms_customers (dp_id);
CREATE INDEX oms_customers_phone_idx ON oms_customers (phone);
CREATE INDEX oms_customers_location_idx ON oms_customers (location_lat, location_lng);
CREATE INDEX oms_customers_phone_key_idx ON oms_customers (oms_phone_key(phone));


-- ===========================================================================
-- The meter registry: oms_meters, the single source of truth that links every
-- meter to its four feed identities and to the network.
--
--   SCADA        via topology            substation_id, feeder_id (uuid references)
--   ONU          direct                  onu_id, onu_serial_no (an ONU may serve several meters)
--   KAIFA (AMI)  IEC 61968-9 mRIDs       asset_mrid, usage_point_mrid
--   Call center  the meter number typed  meter_number
--
-- Topology is kept consistent by triggers (current/03_registry.sql): a
-- distribution point implies its feeder, a feeder its substation.
--
-- Deliberately not indexed: the status columns (power_status,
-- communication_status, last_communication, last_*_change). Every feed updates
-- them all day; leaving them out of every index lets PostgreSQL update a meter
-- in place (a HOT update, one heap write instead of one per index), and the
-- free space kept on each page (fillfactor 85) makes room for it. Measured: the
-- SCADA check's status step went from 20 ms to 9 ms for 300 meters.
-- No b-tree on (location_lat, location_lng) either: it narrows only by the
-- first column, and every search by place uses the GiST index.

CREATE TABLE oms_meters (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    meter_number          text NOT NULL UNIQUE CHECK (btrim(meter_number) <> ''),
    meter_type            text,
    customer_id           uuid REFERENCES oms_customers (id),
    substation_id         uuid REFERENCES network_substations (id),
    feeder_id             uuid REFERENCES network_feeders (id),
    dp_id                 uuid REFERENCES network_distribution_points (id),
    location_lat          double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng          double precision CHECK (location_lng BETWEEN -180 AND 180),
    power_status          text NOT NULL DEFAULT 'unknown'
                          CHECK (power_status IN ('on', 'off', 'unknown')),
    communication_status  text NOT NULL DEFAULT 'unknown'
                          CHECK (communication_status IN ('online', 'offline', 'unknown')),
    last_communication    timestamptz,
    last_power_change     timestamptz,
    last_status_change    timestamptz,
    asset_mrid            text,
    usage_point_mrid      text,
    onu_id                text,
    onu_serial_no         text,
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- How the topology was set: explicit (a user or an import; the default, so
    -- an import with topology needs no trigger call per row), inferred
    -- (oms_link_meters_by_proximity, with the distance), NULL (no topology).
    topology_source       text DEFAULT 'explicit',
    topology_distance_km  double precision,
    CONSTRAINT oms_meters_topology_source_check
        CHECK (topology_source IN ('explicit', 'inferred')),
    CONSTRAINT oms_meters_topology_source_present
        CHECK ((topology_source IS NULL) = (dp_id IS NULL AND feeder_id IS NULL AND substation_id IS NULL)),
    CONSTRAINT oms_meters_topology_distance_check
        CHECK (CASE WHEN topology_source = 'inferred' THEN topology_distance_km >= 0
                    ELSE topology_distance_km IS NULL END)
) WITH (fillfactor = 85);
COMMENT ON TABLE oms_meters IS
    'Central registry of all meters from all sources, with their network position and current status.';
COMMENT ON COLUMN oms_meters.power_status IS 'on | off | unknown: whether the premise has power, as last known.';
COMMENT ON COLUMN oms_meters.communication_status IS 'online | offline | unknown: whether the meter answers, as last known.';
COMMENT ON COLUMN oms_meters.last_status_change IS 'Event time of the newest status change applied; older events do not overwrite newer state.';
COMMENT ON COLUMN oms_meters.topology_source IS
    'explicit: dp/feeder/substation written by a user or an import; inferred: set by oms_link_meters_by_proximity(); NULL: no topology.';
COMMENT ON COLUMN oms_meters.topology_distance_km IS
    'For an inferred link: the distance (km, great circle) from the meter to the element it was linked to.';

-- Foreign keys.
CREATE INDEX oms_meters_customer_idx   ON oms_meters (customer_id);
CREATE INDEX oms_meters_substation_idx ON oms_meters (substation_id);
CREATE INDEX oms_meters_feeder_idx     ON oms_meters (feeder_id);
CREATE INDEX oms_meters_dp_idx         ON oms_meters (dp_id);
-- Identifiers the feeds match on. An asset mRID names one physical meter.
CREATE UNIQUE INDEX oms_meters_asset_mrid_key ON oms_meters (asset_mrid) WHERE asset_mrid IS NOT NULL;
CREATE INDEX oms_meters_usage_point_mrid_idx  ON oms_meters (usage_point_mrid) WHERE usage_point_mrid IS NOT NULL;
CREATE INDEX oms_meters_onu_id_idx            ON oms_meters (onu_id) WHERE onu_id IS NOT NULL;
CREATE INDEX oms_meters_onu_serial_no_idx     ON oms_meters (onu_serial_no) WHERE onu_serial_no IS NOT NULL;
-- Meter numbers as customers type them (both forms of oms_meter_number_key).
CREATE INDEX oms_meters_number_key_idx ON oms_meters (oms_meter_number_key(meter_number, false));
CREATE INDEX oms_meters_number_key_stripped_idx ON oms_meters (oms_meter_number_key(meter_number, true));
-- Geography: only the location columns, so status updates stay HOT.
CREATE INDEX oms_meters_point_idx ON oms_meters USING gist (point(location_lng, location_lat))
    WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;


-- ===========================================================================
-- Which meters each substation and feeder supplies: what a SCADA event reads
-- to find "the meters under exactly that feeder or substation". link_source:
--   'registry'  derived from oms_meters.substation_id / feeder_id and kept in
--               step by triggers (current/04_mappings.sql);
--   'manual'    added by hand, e.g. a meter that a second feeder can supply;
--               left alone by re-parenting, removed with the meter's deactivation.

CREATE TABLE network_substation_meters (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    substation_id  uuid NOT NULL REFERENCES network_substations (id) ON DELETE CASCADE,
    meter_id       uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    feeder_id      uuid REFERENCES network_feeders (id) ON DELETE SET NULL,
    priority       integer NOT NULL DEFAULT 100,
    link_source    text NOT NULL DEFAULT 'manual' CHECK (link_source IN ('registry', 'manual')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (substation_id, meter_id)
);
COMMENT ON TABLE network_substation_meters IS
    'Meters each substation supplies (the feeder it goes through, if known). Lower priority = more important.';
CREATE INDEX network_substation_meters_meter_idx  ON network_substation_meters (meter_id);
CREATE INDEX network_substation_meters_feeder_idx ON network_substation_meters (feeder_id);

CREATE TABLE network_feeder_meters (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    feeder_id     uuid NOT NULL REFERENCES network_feeders (id) ON DELETE CASCADE,
    meter_id      uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    circuit_path  text,
    priority      integer NOT NULL DEFAULT 100,
    link_source   text NOT NULL DEFAULT 'manual' CHECK (link_source IN ('registry', 'manual')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (feeder_id, meter_id)
);
COMMENT ON TABLE network_feeder_meters IS
    'Meters each feeder supplies; circuit_path optionally describes the path (e.g. FD002/DP017). Lower priority = more important.';
CREATE INDEX network_feeder_meters_meter_idx ON network_feeder_meters (meter_id);


-- ===========================================================================
-- The audit trail: one row per meter status change, from any source. Rows are
-- only ever inserted. A late event (older than the meter's last change) is
-- still recorded, with applied = false.

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


-- ===========================================================================
-- Outages, the evidence linked to them, their timeline and their meters.
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
-- The active outages covering a piece of evidence, found by index: by
-- distribution point, else a feeder-wide one, else a substation-wide one, with
-- the correlation window's condition on first_detected_at in the index
-- (oms_link_evidence): a call costs what its own evidence costs, however many
-- outages a storm has open.
CREATE INDEX oms_outage_events_active_dp_idx ON oms_outage_events (dp_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled');
CREATE INDEX oms_outage_events_active_feeder_idx ON oms_outage_events (feeder_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled') AND dp_id IS NULL;
CREATE INDEX oms_outage_events_active_substation_idx ON oms_outage_events (substation_id, first_detected_at)
    WHERE status NOT IN ('restored', 'cancelled') AND dp_id IS NULL AND feeder_id IS NULL;

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
    evidence            text NOT NULL DEFAULT 'outage' CHECK (evidence IN ('outage', 'restoration')),
    UNIQUE (outage_event_id, source_type, source_event_id)
);
COMMENT ON TABLE oms_event_sources IS 'Feed events linked to an outage as evidence (one row per event and outage).';
COMMENT ON COLUMN oms_event_sources.evidence IS
    'outage: the event shows the outage (counts for confidence); restoration: it shows power back.';
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

CREATE TABLE oms_outage_meters (
    outage_event_id    uuid NOT NULL REFERENCES oms_outage_events (id) ON DELETE CASCADE,
    meter_id           uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    source_type        text NOT NULL CHECK (source_type IN ('scada', 'onu', 'kaifa', 'call_center')),
    first_evidence_at  timestamptz NOT NULL,
    PRIMARY KEY (outage_event_id, meter_id)
);
COMMENT ON TABLE oms_outage_meters IS
    'The meters an outage covers: those its evidence found without power (SCADA offline meters, last gasps, calls).';
CREATE INDEX oms_outage_meters_meter_idx ON oms_outage_meters (meter_id);


-- ===========================================================================
-- What each feed delivered, as received.
--
-- Every feed table keeps the message itself (raw), the feed's own
-- identifiers, the event time, the registry meter it matched (meter_id) and
-- the outage it was linked to (outage_event_id). A feed's own event id is
-- unique (partial index), and without one the message's natural key is
-- (another partial index): the same message delivered twice is stored once.
-- match_status: pending (not yet matched), matched, unmatched (the meter is
-- not in the registry: kept and reported, never dropped). The first answer is
-- kept (check_result, sync_result) so that a repeat gets it again.

-- SCADA breaker and alarm events. substation_id / feeder_id are the business
-- ids as received ('SS001'), not references: an unknown id is still stored.
CREATE TABLE scada_events (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id       text,
    event_type            text NOT NULL,
    substation_id         text,
    feeder_id             text,
    main_station_id       text,
    alarm_type            text,
    severity              text,
    voltage               double precision,
    reason                text,
    event_timestamp       timestamptz NOT NULL,
    latitude              double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude             double precision CHECK (longitude BETWEEN -180 AND 180),
    raw                   jsonb NOT NULL,
    outage_event_id       uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    affected_meter_count  integer NOT NULL DEFAULT 0 CHECK (affected_meter_count >= 0),
    meters_checked_at     timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    check_result          jsonb
);
COMMENT ON TABLE scada_events IS 'SCADA breaker/alarm events as received; substation_id and feeder_id are the ids in the message.';
COMMENT ON COLUMN scada_events.check_result IS
    'What insert_scada_event_with_meter_check() returned the first time: a repeated delivery returns it again.';
CREATE UNIQUE INDEX scada_events_source_event_key ON scada_events (source_event_id) WHERE source_event_id IS NOT NULL;
-- Without the feed's own id, a message is identified by what it says.
CREATE UNIQUE INDEX scada_events_natural_key ON scada_events
    (substation_id, coalesce(feeder_id, ''), coalesce(lower(alarm_type), ''), event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX scada_events_time_idx       ON scada_events (event_timestamp DESC);
CREATE INDEX scada_events_substation_idx ON scada_events (substation_id, feeder_id, event_timestamp DESC);
CREATE INDEX scada_events_outage_idx     ON scada_events (outage_event_id);

-- Which meters a SCADA event checked, and what it found.
CREATE TABLE scada_event_affected_meters (
    scada_event_id       uuid NOT NULL REFERENCES scada_events (id) ON DELETE CASCADE,
    meter_id             uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    meter_status_before  text,
    meter_status_after   text,
    checked_at           timestamptz NOT NULL DEFAULT now(),
    check_result         text CHECK (check_result IN ('online', 'offline', 'unknown')),
    PRIMARY KEY (scada_event_id, meter_id)
);
COMMENT ON TABLE scada_event_affected_meters IS 'Meters checked by a SCADA event, with their power status before and after.';
COMMENT ON COLUMN scada_event_affected_meters.check_result IS
    'How the meter counted in the check: offline, online or unknown (oms_classify_meter at the event''s time).';
CREATE INDEX scada_event_affected_meters_meter_idx ON scada_event_affected_meters (meter_id);

-- ONU (GPON) alarms from the OLT: dying gasp, loss of signal, recovery.
CREATE TABLE onu_events (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id  text,
    event_type       text NOT NULL,
    alarm_name       text,
    onu_id           text,
    onu_serial       text,
    event_timestamp  timestamptz NOT NULL,
    latitude         double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude        double precision CHECK (longitude BETWEEN -180 AND 180),
    meter_id         uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    outage_event_id  uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status     text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw              jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    event_kind       text NOT NULL DEFAULT 'none'
                     CHECK (event_kind IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'none')),
    meters_matched   integer NOT NULL DEFAULT 0,
    sync_result      jsonb,
    CHECK (onu_id IS NOT NULL OR onu_serial IS NOT NULL)
);
COMMENT ON TABLE onu_events IS 'ONU alarms as received from the OLT; meter_id is the first registry meter on that ONU.';
COMMENT ON COLUMN onu_events.event_kind IS 'What the alarm means for the premise (oms_onu_event_kind).';
COMMENT ON COLUMN onu_events.sync_result IS
    'What insert_onu_event_from_json_with_meter_sync() returned the first time: a repeat returns it again.';
CREATE UNIQUE INDEX onu_events_source_event_key ON onu_events (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE UNIQUE INDEX onu_events_natural_key ON onu_events
    (coalesce(onu_id, ''), coalesce(onu_serial, ''), event_type, coalesce(alarm_name, ''), event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX onu_events_onu_id_idx ON onu_events (onu_id);
CREATE INDEX onu_events_onu_serial_idx ON onu_events (onu_serial);
CREATE INDEX onu_events_time_idx   ON onu_events (event_timestamp DESC);
CREATE INDEX onu_events_meter_idx  ON onu_events (meter_id);
CREATE INDEX onu_events_outage_idx ON onu_events (outage_event_id);
CREATE INDEX onu_events_unmatched_idx ON onu_events (event_timestamp DESC) WHERE match_status = 'unmatched';

-- KAIFA head-end (AMI) events, IEC 61968-9 EndDeviceEvent. The meaning comes
-- from the event type code through kaifa_event_types, never from severity.
CREATE TABLE kaifa_events (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id   text,
    message_id        text,
    event_type_code   text NOT NULL,
    asset_mrid        text,
    usage_point_mrid  text,
    meter_number      text,
    reason            text,
    severity          text,
    event_timestamp   timestamptz NOT NULL,
    meter_id          uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    outage_event_id   uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status      text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw               jsonb NOT NULL,
    raw_message       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    source            text,
    event_meaning     text NOT NULL DEFAULT 'unknown'
                      CHECK (event_meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'tamper', 'none',
                                               'unknown')),
    matched_by        text CHECK (matched_by IN ('asset_mrid', 'usage_point_mrid', 'meter_number')),
    meters_matched    integer NOT NULL DEFAULT 0,
    sync_result       jsonb
);
COMMENT ON TABLE kaifa_events IS
    'AMI head-end EndDeviceEvents: source_event_id is the event mRID, event_type_code the EndDeviceEventType ref (e.g. 3.26.0.47).';
COMMENT ON COLUMN kaifa_events.raw_message IS 'The message as received (XML), when it was not JSON.';
COMMENT ON COLUMN kaifa_events.event_meaning IS 'kaifa_event_types'' meaning of event_type_code; unknown codes change nothing.';
CREATE UNIQUE INDEX kaifa_events_source_event_key ON kaifa_events (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE UNIQUE INDEX kaifa_events_natural_key ON kaifa_events
    (coalesce(asset_mrid, ''), coalesce(usage_point_mrid, ''), coalesce(meter_number, ''), event_type_code, event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX kaifa_events_asset_mrid_idx       ON kaifa_events (asset_mrid);
CREATE INDEX kaifa_events_usage_point_mrid_idx ON kaifa_events (usage_point_mrid);
CREATE INDEX kaifa_events_time_idx   ON kaifa_events (event_timestamp DESC);
CREATE INDEX kaifa_events_meter_idx  ON kaifa_events (meter_id);
CREATE INDEX kaifa_events_outage_idx ON kaifa_events (outage_event_id);
CREATE INDEX kaifa_events_meaning_idx ON kaifa_events (event_meaning, event_timestamp DESC);
CREATE INDEX kaifa_events_unmatched_idx ON kaifa_events (event_timestamp DESC) WHERE match_status = 'unmatched';

-- Call-center trouble tickets. meter_number and customer_phone are as the
-- customer gave them; meter_id / customer_id are what they matched.
CREATE TABLE callcenter_tickets (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id        text NOT NULL UNIQUE CHECK (btrim(ticket_id) <> ''),
    event_timestamp  timestamptz NOT NULL,
    customer_phone   text,
    meter_number     text,
    customer_address text,
    customer_ref     text,
    trouble_code     text,
    notes            text,
    meter_id         uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    customer_id      uuid REFERENCES oms_customers (id) ON DELETE SET NULL,
    outage_event_id  uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status     text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw              jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    matched_by       text CHECK (matched_by IN ('meter_number', 'customer_id', 'phone')),
    meters_matched   integer NOT NULL DEFAULT 0,
    sync_result      jsonb
);
COMMENT ON TABLE callcenter_tickets IS 'Customer trouble tickets as received; customer_ref is the customerId given, if any.';
COMMENT ON COLUMN callcenter_tickets.sync_result IS
    'What insert_callcenter_ticket_from_json_with_meter_link() returned the first time: a repeat returns it again.';
CREATE INDEX callcenter_tickets_time_idx     ON callcenter_tickets (event_timestamp DESC);
CREATE INDEX callcenter_tickets_meter_number_idx ON callcenter_tickets (meter_number);
CREATE INDEX callcenter_tickets_phone_idx    ON callcenter_tickets (customer_phone);
CREATE INDEX callcenter_tickets_meter_idx    ON callcenter_tickets (meter_id);
CREATE INDEX callcenter_tickets_customer_idx ON callcenter_tickets (customer_id);
CREATE INDEX callcenter_tickets_outage_idx   ON callcenter_tickets (outage_event_id);
CREATE INDEX callcenter_tickets_unmatched_idx ON callcenter_tickets (event_timestamp DESC) WHERE match_status = 'unmatched';


-- ===========================================================================
-- Code tables the utility tunes, like the settings.

-- What an EndDeviceEventType code (type.domain.subdomain.eventOrAction) means,
-- per head-end (source; '*' = any); '*' in a pattern matches one part and the
-- most specific row wins (oms_kaifa_meaning). An unknown code is stored and
-- reported (meaning 'unknown') and changes nothing.
CREATE TABLE kaifa_event_types (
    source       text NOT NULL DEFAULT '*',
    pattern      text NOT NULL CHECK (pattern ~ '^(\d+|\*)\.(\d+|\*)\.(\d+|\*)\.(\d+|\*)$'),
    meaning      text NOT NULL CHECK (meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'tamper', 'none')),
    description  text NOT NULL,
    PRIMARY KEY (source, pattern)
);
COMMENT ON TABLE kaifa_event_types IS
    'What an EndDeviceEventType code means, per head-end (source; * = any). * in a pattern matches one part; the most specific row wins.';
INSERT INTO kaifa_event_types (pattern, meaning, description) VALUES
    ('3.26.*.47',  'power_off',     'Electric meter, power: loss detected (power down, last gasp)'),
    ('3.26.*.85',  'power_off',     'Electric meter, power: failed'),
    ('3.26.*.185', 'power_off',     'Electric meter, power: outage (unsafe power fail)'),
    ('3.26.*.216', 'power_on',      'Electric meter, power: restored (power up)'),
    ('3.23.*.47',  'comm_lost',     'Electric meter, network: loss detected'),
    ('3.1.*.47',   'comm_lost',     'Electric meter, communication: loss detected'),
    ('3.23.*.216', 'comm_restored', 'Electric meter, network: restored'),
    ('3.1.*.216',  'comm_restored', 'Electric meter, communication: restored'),
    ('3.12.*.257', 'tamper',        'Electric meter, security: tamper detected (recorded, no outage)');

-- No standard list of trouble codes exists (CIM troubleCode, MultiSpeak
-- problemCode are free strings): the utility keeps its own. Codes compare
-- after oms_normalize_code().
CREATE TABLE callcenter_trouble_codes (
    code         text PRIMARY KEY CHECK (code = oms_normalize_code(code)),
    description  text NOT NULL,
    is_outage    boolean NOT NULL
);
COMMENT ON TABLE callcenter_trouble_codes IS
    'Trouble codes the call center uses; is_outage = false codes are recorded without outage evidence. Unknown codes count as outage calls.';
INSERT INTO callcenter_trouble_codes (code, description, is_outage) VALUES
    ('power_down', 'No power at the premise', true),
    ('no_power', 'No power at the premise', true),
    ('outage', 'Power outage', true),
    ('partial_power', 'Some circuits without power (a lost phase)', true),
    ('wire_down', 'A conductor on the ground: a hazard, usually with an outage', true),
    ('flickering_lights', 'Lights flicker: power quality, not an outage', false),
    ('low_voltage', 'Low voltage: power quality, not an outage', false),
    ('billing', 'Not about supply', false);


-- ===========================================================================
-- Row types the rule functions pass sets of work in (one call, any number of
-- meters and events). A function's argument types are part of its signature:
-- changing a type is a signature change (a versioned file; see ../README.md).

-- One status change of one meter, for oms_apply_status_changes().
CREATE TYPE oms_status_change AS (
    meter_id         uuid,
    status_field     text,
    new_status       text,
    event_type       text,
    source_event_id  text,
    event_time       timestamptz,
    metadata         jsonb
);

-- One piece of evidence about one meter, for oms_link_evidence().
CREATE TYPE oms_evidence AS (
    source_event_id  text,
    meter_id         uuid,
    event_time       timestamptz,
    evidence         text,
    description      text
);

-- One feed event about some meters, for oms_sync_evidence().
CREATE TYPE oms_feed_item AS (
    source_event_id  text,
    meter_ids        uuid[],
    kind             text,
    event_time       timestamptz,
    description      text,
    metadata         jsonb
);


-- ===========================================================================
-- Building the registry from the feed tables (oms_migrate_registry,
-- current/13_registry_migration.sql): identities staged by an integrator, and
-- the record of each run.

-- Identities from systems other than the feeds, staged by an integrator (INSERT or \copy).
CREATE TABLE oms_registry_sources (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source            text NOT NULL,
    source_ref        text,
    meter_number      text,
    onu_id            text,
    onu_serial        text,
    asset_mrid        text,
    usage_point_mrid  text,
    customer_ref      text,
    location_lat      double precision,
    location_lng      double precision,
    observed_at       timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_registry_sources IS
    'Meter identities from systems that are not feeds (ONU inventory, CIS or asset exports), read by oms_migrate_registry(). One row per fact set; source names the system.';
COMMENT ON COLUMN oms_registry_sources.source IS
    'The system the row comes from (e.g. onu_inventory, cis); registry, onu, kaifa and call_center are the feeds'' own names.';
COMMENT ON COLUMN oms_registry_sources.source_ref IS 'The row''s id in its system (record id, line), for people.';
COMMENT ON COLUMN oms_registry_sources.customer_ref IS 'The customer''s business id (oms_customers.customer_id).';
COMMENT ON COLUMN oms_registry_sources.observed_at IS
    'When the system stated these facts, for people: a newer row does not win over an older one (a disagreement is a conflict).';

-- What each run did (dry runs record nothing).
CREATE TABLE oms_registry_migration_runs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_at            timestamptz NOT NULL DEFAULT now(),
    rows_read         jsonb NOT NULL,
    meters_inserted   integer NOT NULL,
    meters_updated    integer NOT NULL,
    merged_groups     integer NOT NULL,
    conflicts         integer NOT NULL,
    duplicates_left   integer NOT NULL,
    unplaced_records  integer NOT NULL,
    duration_ms       double precision NOT NULL
);
COMMENT ON TABLE oms_registry_migration_runs IS
    'One row per oms_migrate_registry() run that wrote (not dry runs): source rows read, meters inserted and updated, merged groups, conflicts, duplicates left. The latest row describes the registry as it is.';

-- Each merged group of a run, with its surviving meter.
CREATE TABLE oms_registry_merges (
    run_id               bigint NOT NULL REFERENCES oms_registry_migration_runs (id) ON DELETE CASCADE,
    group_no             integer NOT NULL,
    meter_id             uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    meter_number         text NOT NULL,
    action               text NOT NULL CHECK (action IN ('inserted', 'updated', 'unchanged')),
    survivor             jsonb NOT NULL,
    members              jsonb NOT NULL,
    duplicate_meter_ids  uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, group_no)
);
COMMENT ON TABLE oms_registry_merges IS
    'Groups of records oms_migrate_registry() merged into one meter (meter_id, meter_number: the survivor), per run. members: each record (source, identities as given, rows). duplicate_meter_ids: other registry meters of the group, left in place ("duplicates left").';
COMMENT ON COLUMN oms_registry_merges.survivor IS 'The surviving meter''s identities after the run, and the source its number came from.';
CREATE INDEX oms_registry_merges_meter_idx ON oms_registry_merges (meter_id);

-- Each fact the records of a merged group disagree on.
CREATE TABLE oms_registry_conflicts (
    run_id            bigint NOT NULL,
    group_no          integer NOT NULL,
    meter_id          uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    meter_number      text NOT NULL,
    field             text NOT NULL CHECK (field IN ('meter_number', 'onu_id', 'onu_serial_no', 'asset_mrid',
                                                     'usage_point_mrid', 'customer_id', 'location')),
    kept_value        text,
    candidate_values  jsonb NOT NULL,
    PRIMARY KEY (run_id, group_no, field),
    FOREIGN KEY (run_id, group_no) REFERENCES oms_registry_merges (run_id, group_no) ON DELETE CASCADE
);
COMMENT ON TABLE oms_registry_conflicts IS
    'Facts the records of one meter disagree on, per oms_migrate_registry() run: never filled or overwritten. kept_value is the meter''s value (NULL: left empty); candidate_values lists each value with its sources.';
CREATE INDEX oms_registry_conflicts_meter_idx ON oms_registry_conflicts (meter_id);


-- ===========================================================================
-- API keys: who may call the HTTP API, and for what (current/14_api_keys.sql).
-- The table keeps only the key's SHA-256 and its first 12 characters (to
-- recognise it in a list): a copy of the database gives nobody a usable key.
-- Revoking keeps the row (who had access, until when).

CREATE TABLE oms_api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL DEFAULT '',
    scopes      text[] NOT NULL,
    key_sha256  bytea NOT NULL UNIQUE,
    key_prefix  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT oms_api_keys_scopes_check CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['ingest:scada', 'ingest:onu', 'ingest:kaifa', 'ingest:callcenter', 'read', 'admin']),
    CONSTRAINT oms_api_keys_hash_check CHECK (length(key_sha256) = 32)
);
COMMENT ON TABLE oms_api_keys IS
    'API keys of the HTTP API: their scopes and the SHA-256 of the key (never the key itself).';
