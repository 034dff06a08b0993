-- The whole schema with plain psql, for a database that `oms migrate` does not manage:
--
--   psql -v ON_ERROR_STOP=1 -d oms -f Sources/OMSStore/Schema/load.sql
--
-- On an empty database: the versioned files in version order, then the current
-- files in their order; the same files `oms migrate` applies (a test compares
-- the two catalogs). A database set up this way has no migration history: use
-- one way or the other for a given database. Run again later, only the current
-- files apply cleanly (CREATE OR REPLACE); the versioned ones do not.
--
-- Every file below, and only these: a test checks this list against the
-- folders.

\set ON_ERROR_STOP on

\ir versioned/0100_baseline.sql
\ir versioned/0101_drop_dead_functions.sql
\ir versioned/0102_outage_engine.sql
\ir versioned/0103_device_coverage.sql
\ir versioned/0104_set_based_rollup.sql
\ir versioned/0105_console_sessions.sql
\ir versioned/0106_audit_by_month.sql
\ir versioned/0107_feed_events_by_month.sql
\ir versioned/0108_scada_checks_compact.sql
\ir versioned/0109_feed_intake.sql
\ir versioned/0110_rollup_merges_once.sql
\ir versioned/0111_indexes_for_storm_writes.sql
\ir versioned/0112_evidence_from_many_feeds.sql
\ir versioned/0113_feeder_outage_index_without_substations.sql
\ir versioned/0114_storm_row_versions.sql
\ir versioned/0115_feed_intake_answers.sql
\ir versioned/0116_dp_outage_index_without_devices_above.sql
\ir versioned/0117_feed_intake_pieces.sql
\ir versioned/0118_evidence_rows_checked_by_their_writers.sql
\ir versioned/0119_feed_indexes_each_for_a_query.sql
\ir versioned/0120_scada_checks_and_answers_lz4.sql
\ir versioned/0121_meter_pages_room_for_a_storm.sql
\ir versioned/0122_status_announced_by_the_apply.sql
\ir versioned/0123_one_feed_event_function_gone.sql

\ir current/01_helpers.sql
\ir current/02_settings.sql
\ir current/03_registry.sql
\ir current/04_mappings.sql
\ir current/05_status.sql
\ir current/06_correlation.sql
\ir current/07_scada_feed.sql
\ir current/08_onu_feed.sql
\ir current/09_kaifa_feed.sql
\ir current/10_callcenter_feed.sql
\ir current/11_proximity.sql
\ir current/12_import.sql
\ir current/13_registry_migration.sql
\ir current/14_api_keys.sql
\ir current/15_api_reads.sql
\ir current/16_live_events.sql
\ir current/17_views.sql
\ir current/18_validation.sql
\ir current/19_outage_engine.sql
\ir current/20_device_telemetry.sql
\ir current/21_operator_actions.sql
\ir current/22_reliability.sql
\ir current/23_console.sql
\ir current/24_monthly_partitions.sql
\ir current/25_feed_intake.sql
\ir current/26_evidence_references.sql
