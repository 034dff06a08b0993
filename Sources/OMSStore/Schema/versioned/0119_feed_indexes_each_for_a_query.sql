-- 0119 The AMI and ONU feed tables keep only the indexes a query uses (issue 18: "fewer indexes
-- on the raw feed tables, each one justified by a query").
--
-- Every last gasp and power-up is one row of kaifa_events or onu_events, written inside the
-- correlation of its batch; each index is one more entry to write per event. Kept, with the
-- query each serves:
--   *_pkey (id, event_timestamp)                the row's identity (oms_feed_event_ids points at it)
--   *_natural_key                               a repeat of an event without an id (the store's check)
--   *_meter_idx (meter_id)                      a meter's feed evidence; the key's ON DELETE SET NULL
--   *_outage_idx (outage_event_id)              an outage's evidence; merges re-point it; deleted outages
--   *_unmatched_idx (event_timestamp) partial   oms_unmatched_feed_events
-- Dropped, read by no function, view or route of the service:
--   kaifa_events (asset_mrid), (usage_point_mrid), (event_timestamp DESC),
--                (event_meaning, event_timestamp DESC)
--   onu_events   (onu_id), (onu_serial), (event_timestamp DESC)
-- The registry migration reads the whole tables (oms migrate-registry), a month is archived as a
-- partition, and the identities are looked up in oms_meters, not here. An ad hoc search by mRID,
-- ONU or time within a month now reads that month's partition; a matched event is found through
-- its meter.
--
-- Measured on the 50k bench database: 20,000 KAIFA rows inserted in one statement (rolled back)
-- 1,043-1,060 ms with the four KAIFA indexes, 759-792 ms without (52 -> 39 us a row); the 40,000
-- gasp storm (oms bench storm --meters 50000 --events 40000 --acknowledge durable --concurrency 4,
-- three runs each, alternating) spent 2,353-2,398 ms in oms_kaifa_store + oms_onu_store with the
-- seven indexes, 1,805-1,977 ms without.

DROP INDEX kaifa_events_asset_mrid_idx;
DROP INDEX kaifa_events_usage_point_mrid_idx;
DROP INDEX kaifa_events_time_idx;
DROP INDEX kaifa_events_meaning_idx;
DROP INDEX onu_events_onu_id_idx;
DROP INDEX onu_events_onu_serial_idx;
DROP INDEX onu_events_time_idx;
