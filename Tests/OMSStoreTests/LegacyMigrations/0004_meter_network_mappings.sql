-- 0004 Which meters each substation and feeder supplies.
--
-- network_substation_meters and network_feeder_meters are what a SCADA event
-- reads to find "the meters under exactly that feeder or substation", through
-- their indexes. Each row says where it came from (link_source):
--   'registry'  derived from oms_meters.substation_id / feeder_id and kept in
--               step automatically: inserted with the meter, moved when the
--               meter is re-parented, removed when it is deactivated;
--   'manual'    added by hand, e.g. a meter that a second feeder can supply.
--               Left alone by re-parenting; removed with the meter's deactivation.
-- The triggers are statement-level with transition tables: a bulk import or a
-- bulk re-parenting is one set-based statement per table, not one per meter.

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

-- New meters: link each active meter to its substation and feeder.
CREATE FUNCTION oms_meters_link_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO network_substation_meters (substation_id, meter_id, feeder_id, link_source)
    SELECT i.substation_id, i.id, i.feeder_id, 'registry'
      FROM inserted_meters i
     WHERE i.status = 'active' AND i.substation_id IS NOT NULL
    ON CONFLICT (substation_id, meter_id)
    DO UPDATE SET feeder_id = EXCLUDED.feeder_id, link_source = 'registry';

    INSERT INTO network_feeder_meters (feeder_id, meter_id, link_source)
    SELECT i.feeder_id, i.id, 'registry'
      FROM inserted_meters i
     WHERE i.status = 'active' AND i.feeder_id IS NOT NULL
    ON CONFLICT (feeder_id, meter_id) DO UPDATE SET link_source = 'registry';
    RETURN NULL;
END;
$$;
CREATE TRIGGER oms_meters_link_inserted
    AFTER INSERT ON oms_meters
    REFERENCING NEW TABLE AS inserted_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_link_inserted();

-- Changed meters: only rows whose substation, feeder or status changed are
-- touched; a status-only update (power on/off) finds none and writes nothing.
-- One statement: the changed rows are computed once, then stale links are
-- removed and current ones upserted (the two never touch the same key).
CREATE FUNCTION oms_meters_link_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT a.id, a.substation_id, a.feeder_id, a.status
          FROM after_rows a JOIN before_rows b ON b.id = a.id
         WHERE (a.substation_id, a.feeder_id, a.status)
               IS DISTINCT FROM (b.substation_id, b.feeder_id, b.status)
    ),
    -- Every link of a deactivated meter; registry links to a former parent.
    unlinked_substations AS (
        DELETE FROM network_substation_meters l
         USING changed c
         WHERE l.meter_id = c.id
           AND (c.status <> 'active'
                OR (l.link_source = 'registry' AND l.substation_id IS DISTINCT FROM c.substation_id))
    ),
    unlinked_feeders AS (
        DELETE FROM network_feeder_meters l
         USING changed c
         WHERE l.meter_id = c.id
           AND (c.status <> 'active'
                OR (l.link_source = 'registry' AND l.feeder_id IS DISTINCT FROM c.feeder_id))
    ),
    linked_substations AS (
        INSERT INTO network_substation_meters (substation_id, meter_id, feeder_id, link_source)
        SELECT c.substation_id, c.id, c.feeder_id, 'registry'
          FROM changed c
         WHERE c.status = 'active' AND c.substation_id IS NOT NULL
        ON CONFLICT (substation_id, meter_id)
        DO UPDATE SET feeder_id = EXCLUDED.feeder_id, link_source = 'registry'
    )
    INSERT INTO network_feeder_meters (feeder_id, meter_id, link_source)
    SELECT c.feeder_id, c.id, 'registry'
      FROM changed c
     WHERE c.status = 'active' AND c.feeder_id IS NOT NULL
    ON CONFLICT (feeder_id, meter_id) DO UPDATE SET link_source = 'registry';
    RETURN NULL;
END;
$$;
CREATE TRIGGER oms_meters_link_updated
    AFTER UPDATE ON oms_meters
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_link_updated();
