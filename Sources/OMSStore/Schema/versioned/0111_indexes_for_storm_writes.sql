-- 0111 Indexes shaped for a storm's writes (issue 18).
--
-- 1. The supply links an engine lookup reads: only those entered by hand.
--    network_feeder_meters and network_substation_meters hold a 'registry' row for every
--    active meter, copying oms_meters' own feeder and substation (04_mappings.sql keeps them
--    so), and 'manual' rows for supply beyond it (a meter a second feeder can feed).
--    oms_meter_devices (current/19_outage_engine.sql), which every piece of evidence goes
--    through twice, read both tables in full by meter: two index probes per meter into
--    million-row tables for rows that repeat the meter's own columns. It now reads the meter
--    once and the manual links only, through these partial indexes (16 -> 9 ms for 1,000
--    meters of the 1M bench registry).
--
-- 2. oms_outage_events loses its b-tree on (event_latitude, event_longitude): no query
--    selects outages by their coordinates (the console and the API read them with the
--    outage), and every outage written in a storm (opened, predicted, covering, merged: a
--    new row version each time, the status being in the partial indexes' predicates) paid
--    an entry in it.

CREATE INDEX network_feeder_meters_manual_idx ON network_feeder_meters (meter_id) WHERE link_source = 'manual';
COMMENT ON INDEX network_feeder_meters_manual_idx IS
    'The feeder supply links entered by hand, by meter: what oms_meter_devices adds to a meter''s own feeder.';

CREATE INDEX network_substation_meters_manual_idx ON network_substation_meters (meter_id)
    WHERE link_source = 'manual';
COMMENT ON INDEX network_substation_meters_manual_idx IS
    'The substation supply links entered by hand, by meter: what oms_meter_devices adds to a meter''s own substation.';

DROP INDEX oms_outage_events_location_idx;
