-- 0101 Functions nothing calls, removed.
--
-- A database migrated by the old chain (0001-0031) still has them; a new one
-- never had them (this file is then a no-op). Checked before removing: no SQL
-- function, trigger or view, no Swift code, test or document names them.
--
--   oms_batch_plan(uuid[], boolean[])  which messages of a feed batch to process
--                                      (0016); unused since the ONU and KAIFA
--                                      batches stage their messages (0017)

DROP FUNCTION IF EXISTS oms_batch_plan(uuid[], boolean[]);
