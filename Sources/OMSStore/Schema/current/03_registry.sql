-- The registry's topology, kept consistent by the database: no caller can
-- store a meter whose feeder belongs to another substation. Tables:
-- ../versioned/0100_baseline.sql (oms_meters and the network).
--
--   on INSERT  levels derived per row only where one must be (a DP without its
--              feeder, a feeder without its substation: oms_meters_topology_derive);
--              a meter that gives its levels is checked by one statement over
--              all the inserted rows (oms_meters_topology_inserted)
--   on UPDATE  the row trigger re-derives the levels when a meter moves
--   network    a feeder moved to another substation, or a DP to another feeder,
--              moves their meters in one statement
--   source     topology_source says who set the links: explicit or inferred
--              (by proximity, 11_proximity.sql)
-- Then the mapping triggers (04_mappings.sql) put the meter under its feeder
-- and substation.

-- ---------------------------------------------------------------------------
-- Topology consistency. The most specific level given wins and the levels
-- above it follow: a distribution point implies its feeder, a feeder its
-- substation. A level that is given explicitly must agree, or the write fails
-- naming the meter and both parents. On UPDATE, a level left unchanged while a
-- lower one moves is re-derived (moving a meter to another DP moves it to that
-- DP's feeder and substation).
CREATE OR REPLACE FUNCTION oms_meters_topology() RETURNS trigger
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
COMMENT ON FUNCTION oms_meters_topology() IS
    'Trigger function: derives a meter''s feeder and substation from its distribution point and feeder, and refuses levels that contradict them.';

CREATE OR REPLACE TRIGGER oms_meters_topology
    BEFORE UPDATE OF dp_id, feeder_id, substation_id ON oms_meters
    FOR EACH ROW EXECUTE FUNCTION oms_meters_topology();

-- On INSERT, only where a level must be derived. Fires before
-- oms_meters_topology_source_insert (BEFORE triggers run in name order), so
-- that trigger sees the derived levels.
CREATE OR REPLACE TRIGGER oms_meters_topology_derive
    BEFORE INSERT ON oms_meters
    FOR EACH ROW
    WHEN ((NEW.dp_id IS NOT NULL AND NEW.feeder_id IS NULL)
          OR (NEW.feeder_id IS NOT NULL AND NEW.substation_id IS NULL))
    EXECUTE FUNCTION oms_meters_topology();

-- The inserted meters that gave their levels, checked by one statement (an
-- import of 1,000,000 meters gives them all). The inserted meters whose given
-- levels disagree: the first one found is
-- refused with the row trigger's message, and the statement with it.
CREATE OR REPLACE FUNCTION oms_meters_topology_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT i.meter_number, dp.dp_id AS dp_code, on_feeder.feeder_id AS dp_feeder, given.feeder_id AS given_feeder
      INTO v_bad
      FROM inserted_meters i
      JOIN network_distribution_points dp ON dp.id = i.dp_id
      JOIN network_feeders on_feeder ON on_feeder.id = dp.feeder_id
      JOIN network_feeders given ON given.id = i.feeder_id
     WHERE i.feeder_id <> dp.feeder_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'meter %: distribution point % is on feeder %, not on feeder %',
            v_bad.meter_number, v_bad.dp_code, v_bad.dp_feeder, v_bad.given_feeder
            USING ERRCODE = 'integrity_constraint_violation', COLUMN = 'feeder_id', TABLE = 'oms_meters';
    END IF;

    SELECT i.meter_number, f.feeder_id AS feeder_code, under.substation_id AS feeder_substation,
           given.substation_id AS given_substation
      INTO v_bad
      FROM inserted_meters i
      JOIN network_feeders f ON f.id = i.feeder_id
      JOIN network_substations under ON under.id = f.substation_id
      JOIN network_substations given ON given.id = i.substation_id
     WHERE i.substation_id <> f.substation_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'meter %: feeder % belongs to substation %, not to substation %',
            v_bad.meter_number, v_bad.feeder_code, v_bad.feeder_substation, v_bad.given_substation
            USING ERRCODE = 'integrity_constraint_violation', COLUMN = 'substation_id', TABLE = 'oms_meters';
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_meters_topology_inserted() IS
    'Trigger function: refuses an INSERT of meters whose distribution point is on another feeder, or whose feeder belongs to another substation, than the one given.';

CREATE OR REPLACE TRIGGER oms_meters_topology_inserted
    AFTER INSERT ON oms_meters
    REFERENCING NEW TABLE AS inserted_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_topology_inserted();

-- ---------------------------------------------------------------------------
-- Who set the topology. A write that changes the meter's most specific level
-- (its distribution point, else feeder, else substation) is a user's link:
-- explicit, whatever else the statement says (an application that writes the
-- whole row back keeps no stale 'inferred'). Only oms_link_meters_by_proximity()
-- writes inferred links: it runs with oms.topology_writer = 'proximity'.
-- Changes of the levels above (a DP moved to another feeder, a feeder to
-- another substation: the cascades below) keep the link's source. With the
-- topology unchanged, the one change allowed by hand is confirming an inferred
-- link (topology_source = 'explicit'); any other write of the two columns is
-- refused. Runs after oms_meters_topology (BEFORE triggers fire in name
-- order), so it sees the derived levels.
CREATE OR REPLACE FUNCTION oms_meters_topology_source() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_linked boolean := NEW.dp_id IS NOT NULL OR NEW.feeder_id IS NOT NULL OR NEW.substation_id IS NOT NULL;
BEGIN
    IF current_setting('oms.topology_writer', true) = 'proximity' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT'
       OR NEW.dp_id IS DISTINCT FROM OLD.dp_id
       OR (NEW.dp_id IS NULL AND NEW.feeder_id IS DISTINCT FROM OLD.feeder_id)
       OR (NEW.dp_id IS NULL AND NEW.feeder_id IS NULL AND NEW.substation_id IS DISTINCT FROM OLD.substation_id) THEN
        NEW.topology_source := CASE WHEN v_linked THEN 'explicit' END;
        NEW.topology_distance_km := NULL;
        RETURN NEW;
    END IF;
    IF NEW.topology_source IS NOT DISTINCT FROM OLD.topology_source
       AND NEW.topology_distance_km IS NOT DISTINCT FROM OLD.topology_distance_km THEN
        RETURN NEW;
    END IF;
    IF OLD.topology_source = 'inferred' AND NEW.topology_source = 'explicit' THEN
        NEW.topology_distance_km := NULL;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'meter %: topology_source % and topology_distance_km are kept by the database', NEW.meter_number,
            coalesce(quote_literal(NEW.topology_source), 'NULL')
        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'topology_source', TABLE = 'oms_meters',
              HINT = 'Writing dp_id, feeder_id or substation_id makes a link explicit; topology_source = ''explicit'' confirms an inferred link; oms_link_meters_by_proximity() makes inferred ones.';
END;
$$;
COMMENT ON FUNCTION oms_meters_topology_source() IS
    'Trigger function: marks a meter''s topology explicit when a user changes it (inferred only when oms_link_meters_by_proximity() writes it); refuses hand-made inferred links.';

-- A new meter with topology and the column's default is already right: the
-- function is called only for the others (no topology, or values given).
CREATE OR REPLACE TRIGGER oms_meters_topology_source_insert
    BEFORE INSERT ON oms_meters
    FOR EACH ROW
    WHEN ((NEW.dp_id IS NULL AND NEW.feeder_id IS NULL AND NEW.substation_id IS NULL)
          OR NEW.topology_source IS DISTINCT FROM 'explicit' OR NEW.topology_distance_km IS NOT NULL)
    EXECUTE FUNCTION oms_meters_topology_source();

-- Status updates name none of these columns and never fire it. The condition is
-- written column by column: a row comparison is stored as nested ORs and printed
-- back with their parentheses, which pg_dump's text makes into one flat OR, so a
-- restored database's trigger would read differently (DumpRestoreTests).
CREATE OR REPLACE TRIGGER oms_meters_topology_source_update
    BEFORE UPDATE OF dp_id, feeder_id, substation_id, topology_source, topology_distance_km ON oms_meters
    FOR EACH ROW
    WHEN (OLD.dp_id IS DISTINCT FROM NEW.dp_id OR OLD.feeder_id IS DISTINCT FROM NEW.feeder_id
          OR OLD.substation_id IS DISTINCT FROM NEW.substation_id OR OLD.topology_source IS DISTINCT FROM NEW.topology_source
          OR OLD.topology_distance_km IS DISTINCT FROM NEW.topology_distance_km)
    EXECUTE FUNCTION oms_meters_topology_source();

-- ---------------------------------------------------------------------------
-- When the network itself is re-arranged, the meters follow, in one statement
-- per moved element (feeders and DPs are few; meters are reached by index).
CREATE OR REPLACE FUNCTION network_feeders_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oms_meters SET substation_id = NEW.substation_id
     WHERE feeder_id = NEW.id AND substation_id IS DISTINCT FROM NEW.substation_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION network_feeders_moved() IS
    'Trigger function: a feeder moved to another substation moves its meters with it.';

CREATE OR REPLACE TRIGGER network_feeders_moved
    AFTER UPDATE OF substation_id ON network_feeders
    FOR EACH ROW WHEN (OLD.substation_id IS DISTINCT FROM NEW.substation_id)
    EXECUTE FUNCTION network_feeders_moved();

CREATE OR REPLACE FUNCTION network_distribution_points_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oms_meters SET feeder_id = NEW.feeder_id
     WHERE dp_id = NEW.id AND feeder_id IS DISTINCT FROM NEW.feeder_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION network_distribution_points_moved() IS
    'Trigger function: a distribution point moved to another feeder moves its meters with it.';

CREATE OR REPLACE TRIGGER network_distribution_points_moved
    AFTER UPDATE OF feeder_id ON network_distribution_points
    FOR EACH ROW WHEN (OLD.feeder_id IS DISTINCT FROM NEW.feeder_id)
    EXECUTE FUNCTION network_distribution_points_moved();

-- ---------------------------------------------------------------------------
-- Whether a meter can report a loss of power itself: an AMI meter (asset mRID)
-- or one behind an ONU. The engine divides its shares by these meters
-- (prediction, roll-up, restoration: 19_outage_engine.sql, 06_correlation.sql).
-- IMMUTABLE SQL without settings: inlined where it is used, per row of a set.
CREATE OR REPLACE FUNCTION oms_meter_can_report(p_asset_mrid text, p_onu_id text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_asset_mrid IS NOT NULL OR p_onu_id IS NOT NULL
$$;
COMMENT ON FUNCTION oms_meter_can_report(text, text) IS
    'Whether a meter can report a loss of power itself: it has an AMI asset mRID or an ONU.';
