-- 0110 The roll-up moves a storm's evidence once (issue 18).
--
-- Profile (oms bench storm, 1,000,000 meters, 100,000 last gasps answered durable, 2 cores,
-- pg_stat_statements): every distribution point's outage a batch predicted was merged into its
-- feeder's outage, and the same batch then merged the feeder's into its substation's, so every
-- meter row, evidence row and feed row moved twice, and every distribution point's tombstone
-- was pointed again at the substation's outage: merges were ~30% of the correlators' time.
-- oms_engine_rollup (current/19_outage_engine.sql) now opens the feeders' outages first and
-- lets them take in their distribution points only after the substations' turn; a substation
-- rolling up in the same call takes the distribution points' outages itself.
--
-- For that, oms_rollup_devices takes a second argument (p_merge, default true). The old
-- one-argument function is dropped here: a call with one argument would otherwise match both.

DROP FUNCTION IF EXISTS oms_rollup_devices(timestamptz);
