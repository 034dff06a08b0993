-- 0024 New meters are checked and linked set-based: one statement per INSERT,
-- not one trigger call per meter.
--
-- Found by profiling the import of 1,000,000 meters (oms bench import):
--
--   * The topology trigger (0003) ran for every new meter, with two lookups,
--     even when the writer gave all three levels and only needed them checked
--     (an import derives and checks them itself, 0021). On INSERT it now runs
--     per row only where a level must be derived (a distribution point without
--     its feeder, a feeder without its substation); a meter that gives its
--     levels is checked by one statement over all the inserted rows
--     (oms_meters_topology_inserted), with the same errors. UPDATE keeps the
--     row trigger: it re-derives levels when a meter moves.
--   * The mapping trigger (0004) inserted the new meters' links with
--     ON CONFLICT ... DO UPDATE. A meter inserted by this very statement has no
--     links yet (a link needs its meter to exist), so no conflict can occur;
--     the plain INSERT skips the speculative insertion (about 15% of that
--     statement).
--   * oms_meters_location_idx, a b-tree on (location_lat, location_lng) from
--     0003, serves no query: a b-tree on two coordinates narrows only by the
--     first, and every search by place uses the GiST index of 0019
--     (oms_meters_point_idx). It cost every insert and every import a
--     twelfth index.

-- 1. Topology on INSERT: derive per row only where needed, check per statement.
DROP TRIGGER oms_meters_topology ON oms_meters;
CREATE TRIGGER oms_meters_topology
    BEFORE UPDATE OF dp_id, feeder_id, substation_id ON oms_meters
    FOR EACH ROW EXECUTE FUNCTION oms_meters_topology();
-- Fires before oms_meters_topology_source_insert (BEFORE triggers run in name
-- order), so that trigger sees the derived levels, as before.
CREATE TRIGGER oms_meters_topology_derive
    BEFORE INSERT ON oms_meters
    FOR EACH ROW
    WHEN ((NEW.dp_id IS NOT NULL AND NEW.feeder_id IS NULL)
          OR (NEW.feeder_id IS NOT NULL AND NEW.substation_id IS NULL))
    EXECUTE FUNCTION oms_meters_topology();

-- The inserted meters whose given levels disagree: the first one found is
-- refused with the row trigger's message, and the statement with it.
CREATE FUNCTION oms_meters_topology_inserted() RETURNS trigger
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
CREATE TRIGGER oms_meters_topology_inserted
    AFTER INSERT ON oms_meters
    REFERENCING NEW TABLE AS inserted_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_topology_inserted();

-- 2. Links of new meters: plain INSERTs (see above why nothing can conflict).
CREATE OR REPLACE FUNCTION oms_meters_link_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO network_substation_meters (substation_id, meter_id, feeder_id, link_source)
    SELECT i.substation_id, i.id, i.feeder_id, 'registry'
      FROM inserted_meters i
     WHERE i.status = 'active' AND i.substation_id IS NOT NULL;

    INSERT INTO network_feeder_meters (feeder_id, meter_id, link_source)
    SELECT i.feeder_id, i.id, 'registry'
      FROM inserted_meters i
     WHERE i.status = 'active' AND i.feeder_id IS NOT NULL;
    RETURN NULL;
END;
$$;

-- 3. The unused index.
DROP INDEX oms_meters_location_idx;
