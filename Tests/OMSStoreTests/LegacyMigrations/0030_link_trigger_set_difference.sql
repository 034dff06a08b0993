-- 0030 The mapping trigger of meter updates, whatever plan it runs with.
--
-- oms_meters_link_updated() (0004) found the changed meters by joining its two
-- transition tables on id. PL/pgSQL keeps a statement's plan for the session,
-- and the planner sees a transition table as it was when the plan was made: a
-- plan made for an update of one row (a nested loop over the two tables) was
-- kept and reused for an update of 50,000 rows, which then compared every row
-- with every other one, reading the spilled tables from disk each time: 249 s
-- instead of 1.5 s (auto_explain: "Nested Loop ... Named Tuplestore Scan
-- rows=1"; seen building the benchmark registry: an import, then one UPDATE of
-- every meter's state on the same connection). Any pooled connection of the
-- service could meet it: a large update after a small one.
--
-- The changed meters are now the set difference of the two tables (EXCEPT):
-- hashed or sorted, never a nested loop, linear whatever the plan's estimate.
-- EXCEPT compares NULLs as equal, as IS DISTINCT FROM did. Rules unchanged.

CREATE OR REPLACE FUNCTION oms_meters_link_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT a.id, a.substation_id, a.feeder_id, a.status FROM after_rows a
        EXCEPT
        SELECT b.id, b.substation_id, b.feeder_id, b.status FROM before_rows b
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
