-- 0108 A SCADA check stored as one row, not one row per meter (issue 18: the substation
-- event over 10,000 meters).
--
-- Measured before (oms bench scada, 50,000 meters; auto_explain of one substation event over
-- 10,000 meters): of ~260 ms, the 10,000 rows of scada_event_affected_meters cost ~190 ms:
-- two foreign-key checks per row (an SPI query each, ~150 ms; PostgreSQL checks every row on
-- its own) and three index entries per row (~40 ms). The rows are written once, by the check
-- (process_scada_event_meters), and read by SCADA event: how many meters it checked, which it
-- found offline, each meter's status before and after.
--
-- So the check is one row of scada_event_checks: the event it belongs to (its primary key,
-- deleted with the event), when it ran, its counts, and four parallel arrays, one element per
-- checked meter (meter id, power status before and after, result). scada_event_affected_meters
-- becomes a view over it with the old table's columns in the old order, so every query of the
-- seed ("SELECT COUNT(*) FROM scada_event_affected_meters") and of its users answers the same;
-- the view is in current/07_scada_feed.sql.
--
-- What is given up, written down: the array elements cannot carry a foreign key to oms_meters.
-- The ids are read from oms_meters by the check itself, in the statement that writes them, and
-- the service never deletes a meter (a meter leaves the network as status 'inactive'); a meter
-- deleted by hand later stays in the checks that saw it, as a record of what was checked (the
-- old table deleted its rows). 18_validation's "feeds link to oms_meters" says so.

CREATE TABLE scada_event_checks (
    scada_event_id   uuid PRIMARY KEY REFERENCES scada_events (id) ON DELETE CASCADE,
    checked_at       timestamptz NOT NULL DEFAULT now(),
    total_meters     integer NOT NULL CHECK (total_meters >= 0),
    offline_meters   integer NOT NULL CHECK (offline_meters >= 0),
    online_meters    integer NOT NULL CHECK (online_meters >= 0),
    unknown_meters   integer NOT NULL CHECK (unknown_meters >= 0),
    meter_ids        uuid[] NOT NULL,
    statuses_before  text[] NOT NULL,
    statuses_after   text[] NOT NULL,
    check_results    text[] NOT NULL,
    CHECK (cardinality(meter_ids) = total_meters
           AND cardinality(statuses_before) = total_meters
           AND cardinality(statuses_after) = total_meters
           AND cardinality(check_results) = total_meters
           AND offline_meters + online_meters + unknown_meters = total_meters),
    CHECK (check_results <@ ARRAY['online', 'offline', 'unknown'])
);
COMMENT ON TABLE scada_event_checks IS
    'One SCADA event''s meter check: its counts and, element by element, the meters checked, their power status before and after, and how each counted (offline, online, unknown). Read per meter through the view scada_event_affected_meters.';

-- The checks already made, each into one row, in meter-id order.
INSERT INTO scada_event_checks (scada_event_id, checked_at, total_meters, offline_meters, online_meters,
                                unknown_meters, meter_ids, statuses_before, statuses_after, check_results)
SELECT a.scada_event_id, min(a.checked_at), count(*),
       count(*) FILTER (WHERE a.check_result = 'offline'),
       count(*) FILTER (WHERE a.check_result = 'online'),
       count(*) FILTER (WHERE a.check_result IS DISTINCT FROM 'offline' AND a.check_result IS DISTINCT FROM 'online'),
       array_agg(a.meter_id ORDER BY a.meter_id),
       array_agg(a.meter_status_before ORDER BY a.meter_id),
       array_agg(a.meter_status_after ORDER BY a.meter_id),
       array_agg(coalesce(a.check_result, 'unknown') ORDER BY a.meter_id)
  FROM scada_event_affected_meters a
 GROUP BY a.scada_event_id;

DROP TABLE scada_event_affected_meters;
