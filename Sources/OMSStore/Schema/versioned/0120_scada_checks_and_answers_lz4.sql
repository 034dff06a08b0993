-- 0120 A SCADA check's arrays and the intake's kept answers are compressed with lz4, not pglz
-- (issue 18), as the intake's messages are (0114).
--
-- A substation event's check is one row of scada_event_checks holding four arrays of one
-- element per meter checked (10,000 meters: ~570 kB), written once inside the event and read
-- back only when someone looks at the check. pglz_compress was the largest single symbol in a
-- perf profile of 60 substation events (5% of the backend's CPU), and pglz tried and gave up
-- on the uuid array. Measured on the 50k bench database, 20 substation events of 10,000 meters
-- in psql (rolled back), two rounds alternating: process_scada_event_meters' own time
-- 33.9 / 30.3 ms an event with pglz, 28.7 / 25.8 ms with lz4.
--
-- oms_feed_intake_answers.results holds a synchronous request's thousand results, written once
-- by the correlator and read once by the request: the same shape as the messages it answers.
--
-- The columns' values already stored keep their compression until they are written again.

ALTER TABLE scada_event_checks
    ALTER COLUMN meter_ids SET COMPRESSION lz4,
    ALTER COLUMN statuses_before SET COMPRESSION lz4,
    ALTER COLUMN statuses_after SET COMPRESSION lz4,
    ALTER COLUMN check_results SET COMPRESSION lz4;
ALTER TABLE oms_feed_intake_answers ALTER COLUMN results SET COMPRESSION lz4;
