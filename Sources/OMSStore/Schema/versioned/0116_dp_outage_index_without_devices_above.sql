-- 0116 The index of distribution points' active outages holds no feeder's or substation's
-- (issue 18), as 0113 did for the feeders' index.
--
-- oms_outage_events_active_dp_idx (dp_id, first_detected_at) WHERE active also held the active
-- outages of whole feeders and substations (dp_id NULL). A cached plan of
-- oms_link_feed_evidence's candidate lookup, made while the table's statistics saw few such rows,
-- looked up a substation's outage through it ("dp_id IS NULL" and the time window) instead of
-- oms_outage_events_active_substation_idx: it read every active feeder and substation outage once
-- per piece of evidence (auto_explain in the 1M storm: 68 µs a piece, 138 ms of a 170 ms
-- statement for 2,000 last gasps). Without them the index cannot answer that lookup; every query
-- that uses it names a distribution point (dp_id = ..., which implies the new condition).

DROP INDEX oms_outage_events_active_dp_idx;
CREATE INDEX oms_outage_events_active_dp_idx ON oms_outage_events (dp_id, first_detected_at)
    WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND dp_id IS NOT NULL;
COMMENT ON INDEX oms_outage_events_active_dp_idx IS
    'Active outages of a distribution point, by distribution point and start (never a feeder''s or substation''s: dp_id IS NOT NULL).';
