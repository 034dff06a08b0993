-- 0104 The roll-up folds all the devices of a level at once (issue 15, speed).
--
-- oms_rollup_to() rolled up one feeder or substation per call, and its merge
-- ran a dozen statements per device. Its place is taken by
-- oms_rollup_devices() and oms_merge_outage_pairs()
-- (current/19_outage_engine.sql), which do every device of a level in a fixed
-- number of statements; oms_merge_outages() keeps its signature and calls them.

DROP FUNCTION IF EXISTS oms_rollup_to(uuid, uuid, uuid[], timestamptz, text, jsonb);
