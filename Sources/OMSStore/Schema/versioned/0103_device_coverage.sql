-- 0103 An outage covers its device without a row per meter (issue 15, speed).
--
-- Until now a predicted or telemetry-confirmed outage wrote one
-- oms_outage_meters row for every meter under its device: 10,000 rows for a
-- substation trip (about 340 ms), and a storm over the whole network rewrote
-- every meter two or three times as distribution points rolled up into
-- feeders and feeders into substations. Now such an outage says that it
-- covers its device (covers_device) and oms_outage_meters keeps only the
-- meters that said something themselves (a loss, a power-up) or that the
-- SCADA check found off. The meters an outage covers are
-- oms_outage_covered_meters() (current/19_outage_engine.sql).
--
-- * covers_device: the outage covers every active meter under its device
--   (oms_device_meter_ids: its distribution point, else feeder, else
--   substation) except the meters of the outages held apart from it.
-- * within_outage_id: an active outage below a device when it was covered
--   (a telemetry-confirmed feeder under a predicted substation, an outage an
--   operator pinned, one older than the roll-up's window) keeps its meters;
--   the covering outage leaves them to it. Nested outages (parent_outage_id)
--   are held apart the same way.
-- * oms_device_sizes: a device's meters, customers and children, counted once
--   and kept until the registry changes (oms_registry_version moves; the
--   triggers are in current/19_outage_engine.sql).
--
-- Outages written before this version keep their rows (covers_device false):
-- they stay exactly as they were.

ALTER TABLE oms_outage_events
    ADD COLUMN covers_device    boolean NOT NULL DEFAULT false,
    ADD COLUMN within_outage_id uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL;
COMMENT ON COLUMN oms_outage_events.covers_device IS
    'Covers every active meter under its device (but those of the outages held apart from it); oms_outage_meters lists only the meters with evidence of their own.';
COMMENT ON COLUMN oms_outage_events.within_outage_id IS
    'The outage covering the device above, which leaves this outage''s meters to it.';
CREATE INDEX oms_outage_events_within_idx ON oms_outage_events (within_outage_id) WHERE within_outage_id IS NOT NULL;

-- Which outages cover a device, by device, whatever their status (late evidence
-- and nested outages look up restored ones too).
CREATE INDEX oms_outage_events_covering_dp_idx ON oms_outage_events (dp_id) WHERE covers_device AND dp_id IS NOT NULL;
CREATE INDEX oms_outage_events_covering_feeder_idx ON oms_outage_events (feeder_id)
    WHERE covers_device AND dp_id IS NULL AND feeder_id IS NOT NULL;
CREATE INDEX oms_outage_events_covering_substation_idx ON oms_outage_events (substation_id)
    WHERE covers_device AND dp_id IS NULL AND feeder_id IS NULL;

-- The roll-up reads a feeder's active distribution-point outages and a
-- substation's active feeder outages (an index on the parent alone made the
-- planner intersect it with a scan of every active outage).
CREATE INDEX oms_outage_events_active_dp_by_feeder_idx ON oms_outage_events (feeder_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NOT NULL;
CREATE INDEX oms_outage_events_active_feeder_by_substation_idx ON oms_outage_events (substation_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NULL AND feeder_id IS NOT NULL;

-- The registry's version: moves whenever meters, their links or the network change.
CREATE TABLE oms_registry_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 1
);
INSERT INTO oms_registry_version DEFAULT VALUES;
COMMENT ON TABLE oms_registry_version IS
    'One row: moves when oms_meters, the supply links or the network change (device sizes are counted again).';

CREATE TABLE oms_device_sizes (
    device_kind        text NOT NULL CHECK (device_kind IN ('dp', 'feeder', 'substation')),
    device_id          uuid NOT NULL,
    registry_version   bigint NOT NULL,
    meters             integer NOT NULL,
    customers          integer NOT NULL,
    capable_meters     integer NOT NULL,
    capable_customers  integer NOT NULL,
    children           integer NOT NULL,
    PRIMARY KEY (device_kind, device_id)
);
COMMENT ON TABLE oms_device_sizes IS
    'A device''s active meters, customers, meters and customers able to report (AMI or ONU) and children with meters, as of a registry version.';

-- oms_outage_cover() returns nothing now (it counted the rows it wrote).
DROP FUNCTION IF EXISTS oms_outage_cover(uuid, timestamptz);

-- Roll-ups the engine could not do at once: another writer held the device
-- (current/19_outage_engine.sql: oms_engine_rollup defers, oms_engine_sweep
-- does them).
CREATE TABLE oms_engine_pending (
    device_kind  text NOT NULL CHECK (device_kind IN ('feeder', 'substation')),
    device_id    uuid NOT NULL,
    due_at       timestamptz NOT NULL,
    deferred_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_kind, device_id)
);
COMMENT ON TABLE oms_engine_pending IS
    'Roll-ups deferred because another writer held the device: the evidence time to evaluate them at; oms_engine_sweep() does them.';

-- The substations' exclusive locks became a hierarchy of device locks (oms_lock_meter_devices).
DROP FUNCTION IF EXISTS oms_lock_substations(uuid[]);
