-- 0114 Fewer row versions and less compression on a storm's path (issue 18).
--
-- 1. oms_outage_events keeps free space on each page (fillfactor 70), as oms_meters does (85,
--    0100): an outage under a storm is refreshed by every batch about it (its counts, confidence,
--    last update), columns no index holds, so the new version can stay on its page as a
--    heap-only tuple with no new index entries. On full pages each refresh added an entry to
--    every one of the table's twenty indexes, and every lookup by id after it (the foreign-key
--    checks of the batch's thousands of evidence, meter and timeline rows) stepped over the dead
--    ones: _bt_killitems and ItemPointerEquals were 10% of the correlators' CPU in a perf profile
--    of the 1M storm. (New pages get the free space; existing ones as they are rewritten.)
-- 2. The feed intake's messages are compressed with lz4, not pglz: a request's thousand messages
--    (~150 kB of jsonb) are written once and read once, and pglz_compress was 3% of the
--    correlators' CPU (with the copy they made of each row, which oms_feed_intake_apply no longer
--    makes). lz4 is built into Debian's PostgreSQL 15 (--with-lz4).

ALTER TABLE oms_outage_events SET (fillfactor = 70);
ALTER TABLE oms_feed_intake ALTER COLUMN messages SET COMPRESSION lz4;
