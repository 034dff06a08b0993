-- 0003 The meter registry: oms_meters, the single source of truth that links
-- every meter to its four feed identities and to the network.
--
--   SCADA        via topology            substation_id, feeder_id (uuid references)
--   ONU          direct                  onu_id, onu_serial_no (an ONU may serve several meters)
--   KAIFA (AMI)  IEC 61968-9 mRIDs       asset_mrid, usage_point_mrid
--   Call center  the meter number typed  meter_number
--
-- Topology is kept consistent here, in the database, so no caller can store a
-- meter whose feeder belongs to another substation (see oms_meters_topology()).

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
    updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_meters IS
    'Central registry of all meters from all sources, with their network position and current status.';
COMMENT ON COLUMN oms_meters.power_status IS 'on | off | unknown: whether the premise has power, as last known.';
COMMENT ON COLUMN oms_meters.communication_status IS 'online | offline | unknown: whether the meter answers, as last known.';
COMMENT ON COLUMN oms_meters.last_status_change IS 'Event time of the newest status change applied; older events do not overwrite newer state.';

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
-- Geography.
CREATE INDEX oms_meters_location_idx ON oms_meters (location_lat, location_lng);
-- Deliberately not indexed: the status columns (power_status,
-- communication_status, last_communication, last_*_change). Every feed
-- updates them all day; leaving them out of every index lets PostgreSQL
-- update a meter in place (a HOT update, one heap write instead of one per
-- index), and the free space kept on each page (fillfactor) makes room for it.
ALTER TABLE oms_meters SET (fillfactor = 85);

CREATE TRIGGER oms_meters_touch BEFORE UPDATE ON oms_meters
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();

-- Topology consistency. The most specific level given wins and the levels
-- above it follow: a distribution point implies its feeder, a feeder its
-- substation. A level that is given explicitly must agree, or the write fails
-- naming the meter and both parents. On UPDATE, a level left unchanged while a
-- lower one moves is re-derived (moving a meter to another DP moves it to that
-- DP's feeder and substation).
CREATE FUNCTION oms_meters_topology() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_feeder      uuid;
    v_substation  uuid;
    v_dp_moved      boolean := TG_OP = 'INSERT' OR NEW.dp_id IS DISTINCT FROM OLD.dp_id;
    v_feeder_moved  boolean := TG_OP = 'INSERT' OR NEW.feeder_id IS DISTINCT FROM OLD.feeder_id;
    v_sub_moved     boolean := TG_OP = 'INSERT' OR NEW.substation_id IS DISTINCT FROM OLD.substation_id;
BEGIN
    IF NEW.dp_id IS NOT NULL AND (v_dp_moved OR v_feeder_moved) THEN
        SELECT feeder_id INTO v_feeder FROM network_distribution_points WHERE id = NEW.dp_id;
        IF NEW.feeder_id IS NULL OR (v_dp_moved AND NOT v_feeder_moved AND TG_OP = 'UPDATE') THEN
            NEW.feeder_id := v_feeder;
            v_feeder_moved := true;
        ELSIF NEW.feeder_id <> v_feeder THEN
            RAISE EXCEPTION 'meter %: distribution point % is on feeder %, not on feeder %',
                NEW.meter_number,
                (SELECT dp_id FROM network_distribution_points WHERE id = NEW.dp_id),
                (SELECT feeder_id FROM network_feeders WHERE id = v_feeder),
                (SELECT feeder_id FROM network_feeders WHERE id = NEW.feeder_id)
                USING ERRCODE = 'integrity_constraint_violation', COLUMN = 'feeder_id', TABLE = 'oms_meters';
        END IF;
    END IF;

    IF NEW.feeder_id IS NOT NULL AND (v_feeder_moved OR v_sub_moved) THEN
        SELECT substation_id INTO v_substation FROM network_feeders WHERE id = NEW.feeder_id;
        IF NEW.substation_id IS NULL OR (v_feeder_moved AND NOT v_sub_moved AND TG_OP = 'UPDATE') THEN
            NEW.substation_id := v_substation;
        ELSIF NEW.substation_id <> v_substation THEN
            RAISE EXCEPTION 'meter %: feeder % belongs to substation %, not to substation %',
                NEW.meter_number,
                (SELECT feeder_id FROM network_feeders WHERE id = NEW.feeder_id),
                (SELECT substation_id FROM network_substations WHERE id = v_substation),
                (SELECT substation_id FROM network_substations WHERE id = NEW.substation_id)
                USING ERRCODE = 'integrity_constraint_violation', COLUMN = 'substation_id', TABLE = 'oms_meters';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER oms_meters_topology
    BEFORE INSERT OR UPDATE OF dp_id, feeder_id, substation_id ON oms_meters
    FOR EACH ROW EXECUTE FUNCTION oms_meters_topology();

-- When the network itself is re-arranged, the meters follow, in one statement
-- per moved element (feeders and DPs are few; meters are reached by index).
CREATE FUNCTION network_feeders_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oms_meters SET substation_id = NEW.substation_id
     WHERE feeder_id = NEW.id AND substation_id IS DISTINCT FROM NEW.substation_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER network_feeders_moved
    AFTER UPDATE OF substation_id ON network_feeders
    FOR EACH ROW WHEN (OLD.substation_id IS DISTINCT FROM NEW.substation_id)
    EXECUTE FUNCTION network_feeders_moved();

CREATE FUNCTION network_distribution_points_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oms_meters SET feeder_id = NEW.feeder_id
     WHERE dp_id = NEW.id AND feeder_id IS DISTINCT FROM NEW.feeder_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER network_distribution_points_moved
    AFTER UPDATE OF feeder_id ON network_distribution_points
    FOR EACH ROW WHEN (OLD.feeder_id IS DISTINCT FROM NEW.feeder_id)
    EXECUTE FUNCTION network_distribution_points_moved();

-- How a meter counts when checked: the one rule behind the views and, later,
-- the SCADA check. offline: no power, or not communicating. online: power on,
-- communicating, and (when p_at is given) heard from no more than p_timeout
-- before p_at (a message after p_at counts too: the meter had power then). unknown: everything else. Inlined by the planner (plain SQL CASE).
CREATE FUNCTION oms_classify_meter(
    p_power_status          text,
    p_communication_status  text,
    p_last_communication    timestamptz DEFAULT NULL,
    p_at                    timestamptz DEFAULT NULL,
    p_timeout               interval    DEFAULT NULL
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
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
