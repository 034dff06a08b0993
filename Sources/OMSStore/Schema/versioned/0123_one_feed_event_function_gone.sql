-- 0123 drops oms_sync_meter_evidence(), the one-event form of oms_sync_evidence()
-- (issue 18).
--
-- Its last caller was the call-center ticket function. Tickets are now stored and
-- matched one by one and correlated together by one oms_sync_evidence() call
-- (current/10_callcenter_feed.sql: insert_callcenter_tickets_with_meter_link, the
-- one-ticket function a batch of one), as the other feeds' batches are: each ticket
-- through its own correlation cost ~7 ms (2,197 calls of the mixed storm at 1M,
-- 15.4 s of server time; together 2.7 s). One event is a batch of one:
--   SELECT * FROM oms_sync_evidence(source_type, source_table, ARRAY[item]).

DROP FUNCTION IF EXISTS oms_sync_meter_evidence(text, text, text, uuid[], text, timestamptz, text, jsonb);
