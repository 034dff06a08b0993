-- 0112 Evidence from several feeds in one correlation step (issue 18).
--
-- A piece of evidence (oms_evidence) and a feed item (oms_feed_item) name their feed:
-- source_type ('kaifa', 'onu', 'callcenter') and source_table (where the feed's rows are).
-- The feed intake then correlates the KAIFA and ONU messages it applies together in one
-- call (oms_sync_feed_items, current/06_correlation.sql), so that the engine judges a
-- distribution point on both feeds' last gasps at once, instead of opening it on one
-- feed's and rolling it up, merged, on the other's (in the 1M storm, two thirds of the
-- correlators' time went into such outages). The one-feed functions (oms_sync_evidence,
-- oms_link_evidence) fill the new attributes from their arguments.

ALTER TYPE oms_evidence ADD ATTRIBUTE source_type text, ADD ATTRIBUTE source_table text;
ALTER TYPE oms_feed_item ADD ATTRIBUTE source_type text, ADD ATTRIBUTE source_table text;

-- The roll-up's count of children (oms_rollup_children, current/19_outage_engine.sql) takes
-- what evidence arriving now adds, before outages are opened for it
-- (oms_engine_rollup_arriving): a feeder or substation the rules predict on a storm's
-- evidence gets its outage at once, instead of its distribution points' outages opened and
-- merged into it. (Two more arguments, with defaults: the old function goes.)
DROP FUNCTION IF EXISTS oms_rollup_children(text, uuid, timestamptz);
