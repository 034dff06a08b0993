-- 0118 The rows the engine writes for each event reference their meter and outage without a
-- foreign key (issues 15 and 18): the statements that write them take the ids from the rows they
-- have just read, locked or written, and the deletions a foreign key handled are done by
-- statement triggers on oms_meters and oms_outage_events (current/26_evidence_references.sql).
--
-- Dropped, each with its column's index kept (merges, restorations and reads use them):
--   oms_meter_status_events.meter_id   -> oms_meters          (was ON DELETE CASCADE)
--   oms_outage_meters.meter_id         -> oms_meters          (ON DELETE CASCADE)
--   oms_outage_meters.outage_event_id  -> oms_outage_events   (ON DELETE CASCADE)
--   oms_event_sources.outage_event_id  -> oms_outage_events   (ON DELETE CASCADE)
--   oms_event_timeline.outage_event_id -> oms_outage_events   (ON DELETE CASCADE)
--   kaifa_events.outage_event_id       -> oms_outage_events   (ON DELETE SET NULL)
--   onu_events.outage_event_id         -> oms_outage_events   (ON DELETE SET NULL)
-- Kept: the feeds' meter_id -> oms_meters (the seed's checklist: "all four services link to
-- oms_meters"), and every other foreign key.
--
-- Why: each of these rows cost a foreign-key check (a locking lookup of the parent row and a
-- queued trigger event), five per last gasp linked to an outage. Measured, alternating with and without the keys on
-- the same databases: a substation event over 10,000 meters (`oms bench scada --meters 50000`)
-- 60.1-71.5 -> 51.3-53.9 ms; issue 15's latency window replayed from psql (46 requests, sum of
-- per-request minima over five runs) 905 -> 853 ms; the 1M storm's correlation within its noise.
-- What is given up: a row written by hand with an id that names no meter or outage is not
-- refused; `oms validate` ("evidence references resolve") counts such rows.
--
-- The constraints are found by table and column, whatever their names.
DO $$
DECLARE
    v_constraint record;
BEGIN
    FOR v_constraint IN
        SELECT c.conrelid::regclass AS table_name, c.conname
          FROM pg_constraint c
          JOIN (VALUES ('oms_meter_status_events', 'meter_id', 'oms_meters'),
                       ('oms_outage_meters', 'meter_id', 'oms_meters'),
                       ('oms_outage_meters', 'outage_event_id', 'oms_outage_events'),
                       ('oms_event_sources', 'outage_event_id', 'oms_outage_events'),
                       ('oms_event_timeline', 'outage_event_id', 'oms_outage_events'),
                       ('kaifa_events', 'outage_event_id', 'oms_outage_events'),
                       ('onu_events', 'outage_event_id', 'oms_outage_events'))
               AS d(table_name, column_name, referenced)
            ON c.conrelid = to_regclass(d.table_name) AND c.confrelid = to_regclass(d.referenced)
         WHERE c.contype = 'f'
           AND c.conparentid = 0
           AND c.conkey = ARRAY[(SELECT a.attnum FROM pg_attribute a
                                  WHERE a.attrelid = c.conrelid AND a.attname = d.column_name)]
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', v_constraint.table_name, v_constraint.conname);
    END LOOP;
END;
$$;
