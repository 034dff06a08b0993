-- 0113 The index of feeders' active outages holds no substation's (issue 18).
--
-- oms_outage_events_active_feeder_idx (feeder_id, first_detected_at) WHERE active AND dp_id IS
-- NULL also held the active outages of whole substations (feeder_id NULL). A cached plan of
-- oms_link_feed_evidence's candidate lookup, made while the table's statistics saw few such
-- rows, looked up a substation's outage through it ("feeder_id IS NULL" and the time window)
-- instead of oms_outage_events_active_substation_idx: it read every active substation outage
-- once per piece of evidence, 260 ms of a 4,000-event batch in the 1M storm. Without them the
-- index cannot answer that lookup; every query that uses it names a feeder (feeder_id = ...,
-- which implies the new condition).

DROP INDEX oms_outage_events_active_feeder_idx;
CREATE INDEX oms_outage_events_active_feeder_idx ON oms_outage_events (feeder_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NULL AND feeder_id IS NOT NULL;
COMMENT ON INDEX oms_outage_events_active_feeder_idx IS
    'Active outages of a feeder as a whole, by feeder and start (never a substation''s: feeder_id IS NOT NULL).';
