-- 0122 meter status changes are announced by oms_apply_status_changes itself (05_status.sql),
-- not by a statement trigger on the audit table (issue 18).
--
-- The trigger (oms_meter_status_events_notify, 0029) kept every inserted audit row in a
-- transition table, then, in a second statement of its own, read each change's meter again by
-- its key for its number. Every status change is made by oms_apply_status_changes, which has
-- locked those meters and read their rows a few steps earlier: the announcement is built there,
-- in the same statement, with the same payloads (meter.status_changed, 40 changes to a
-- notification, the late ones left out; 16_live_events.sql).
--
-- Measured on the bench databases (track_functions, the two versions alternating, rolled back):
-- a batch of 2,500 KAIFA last gasps at 1M spent 152-225 ms in oms_apply_status_changes with the
-- trigger (23-25 ms of it the trigger's own), 112-138 ms without; a 150-meter feeder trip at 50k
-- that changes 4 meters, 0.86-1.15 ms against 0.82-1.14 (within the noise).
--
-- An audit row inserted by hand (which changes no meter) is no longer announced.

DROP TRIGGER IF EXISTS oms_meter_status_events_notify ON oms_meter_status_events;
DROP FUNCTION IF EXISTS oms_notify_meter_status();
