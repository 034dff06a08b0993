-- A small sample network for the demo and the tests: 3 substations, 9 feeders,
-- 90 distribution points and 2,700 meters with one customer each. Deterministic
-- (no random()), so tests can count on it; statuses are relative to now() so
-- that the demo always looks fresh.
--
--   SS001 Riverside  FD001 FD002 FD003
--   SS002 Hilltop    FD004 FD005 FD006
--   SS003 Harbor     FD007 FD008 FD009
--
-- Each feeder has 10 distribution points (FD001-DP01 ...), each DP 30 meters.
-- Meter n is 'M' || 8 digits, except n = 1, which is the seed's 'M12345678'.
-- Identities: every 5th meter has no ONU, pairs of meters share the ONU of
-- every 50th premise; 4 in 5 meters are KAIFA smart meters with mRIDs.
-- States (by n): n % 37 = 0 power off; n % 41 = 0 never heard from (unknown);
-- n % 43 = 0 communication offline; the rest on and heard from within 10 min.
-- Apply it to a migrated, empty database: psql -f sample_network.sql

INSERT INTO network_substations (substation_id, name, location_lat, location_lng, region_code, voltage_level)
VALUES ('SS001', 'Riverside', 39.9526, -75.1652, 'NORTH', '33/11kV'),
       ('SS002', 'Hilltop',   39.9900, -75.2200, 'NORTH', '33/11kV'),
       ('SS003', 'Harbor',    39.9200, -75.1400, 'SOUTH', '66/11kV');

INSERT INTO network_feeders (feeder_id, substation_id, name, location_lat, location_lng)
SELECT format('FD%s', lpad(f::text, 3, '0')),
       s.id,
       format('%s feeder %s', s.name, (f - 1) % 3 + 1),
       s.location_lat + 0.01 * ((f - 1) % 3 - 1),
       s.location_lng + 0.01
  FROM generate_series(1, 9) AS f
  JOIN network_substations s ON s.substation_id = format('SS%s', lpad((((f - 1) / 3) + 1)::text, 3, '0'));

INSERT INTO network_distribution_points (dp_id, feeder_id, name, location_lat, location_lng)
SELECT format('%s-DP%s', f.feeder_id, lpad(d::text, 2, '0')),
       f.id,
       format('Transformer %s on %s', d, f.feeder_id),
       f.location_lat + 0.001 * d,
       f.location_lng + 0.001 * d
  FROM network_feeders f
 CROSS JOIN generate_series(1, 10) AS d;

-- Meter n (1..2700) sits on DP ((n - 1) / 30) in feeder/DP order.
CREATE TEMP TABLE sample_premises AS
SELECT n,
       CASE WHEN n = 1 THEN 'M12345678' ELSE 'M' || lpad((10000000 + n)::text, 8, '0') END AS meter_number,
       dp.id AS dp_uuid,
       dp.location_lat + 0.0001 * (n % 30) AS lat,
       dp.location_lng - 0.0001 * (n % 30) AS lng
  FROM generate_series(1, 2700) AS n
  JOIN (SELECT id, location_lat, location_lng, row_number() OVER (ORDER BY dp_id) AS k
          FROM network_distribution_points) dp
    ON dp.k = (n - 1) / 30 + 1;

INSERT INTO oms_customers (customer_id, name, phone, address, dp_id, location_lat, location_lng)
SELECT 'C' || lpad(n::text, 7, '0'),
       format('Customer %s', n),
       '+1-215-555-' || lpad((n % 10000)::text, 4, '0'),
       format('%s Market Street, Philadelphia', n),
       dp_uuid, lat, lng
  FROM sample_premises;

INSERT INTO oms_meters (meter_number, meter_type, customer_id, dp_id, location_lat, location_lng,
                        power_status, communication_status, last_communication, last_status_change,
                        asset_mrid, usage_point_mrid, onu_id, onu_serial_no)
SELECT p.meter_number,
       CASE WHEN p.n % 5 = 0 THEN 'electromechanical' ELSE 'smart' END,
       c.id, p.dp_uuid, p.lat, p.lng,
       CASE WHEN p.n % 37 = 0 THEN 'off' WHEN p.n % 41 = 0 THEN 'unknown' ELSE 'on' END,
       CASE WHEN p.n % 43 = 0 THEN 'offline' WHEN p.n % 41 = 0 THEN 'unknown' ELSE 'online' END,
       CASE WHEN p.n % 41 = 0 THEN NULL ELSE now() - make_interval(mins => p.n % 10) END,
       CASE WHEN p.n % 41 = 0 THEN NULL ELSE now() - make_interval(hours => 1 + p.n % 24) END,
       CASE WHEN p.n % 5 <> 0 THEN md5('asset' || p.n)::uuid::text END,
       CASE WHEN p.n % 5 <> 0 THEN md5('usage-point' || p.n)::uuid::text END,
       CASE WHEN p.n % 5 = 0 THEN NULL
            WHEN p.n % 50 = 2 THEN 'ONU-' || lpad((p.n - 1)::text, 6, '0')   -- shares the previous premise's ONU
            ELSE 'ONU-' || lpad(p.n::text, 6, '0') END,
       CASE WHEN p.n % 5 = 0 THEN NULL
            WHEN p.n % 50 = 2 THEN 'HWTC' || upper(lpad(to_hex(p.n - 1), 8, '0'))
            ELSE 'HWTC' || upper(lpad(to_hex(p.n), 8, '0')) END
  FROM sample_premises p
  JOIN oms_customers c ON c.customer_id = 'C' || lpad(p.n::text, 7, '0');

-- A short history for the seed's example meter.
INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id,
                                     previous_status, new_status, event_timestamp, confidence_score)
SELECT m.id, e.event_type, e.source_type, e.source_event_id, e.previous_status, e.new_status,
       now() - e.age, e.confidence
  FROM oms_meters m
 CROSS JOIN (VALUES ('power_off', 'onu',   'ONU_EVENT_120',  'on',  'off', interval '3 days',          0.800),
                    ('power_on',  'kaifa', 'KAIFA_EVENT_77', 'off', 'on',  interval '2 days 23 hours', 0.900))
       AS e(event_type, source_type, source_event_id, previous_status, new_status, age, confidence)
 WHERE m.meter_number = 'M12345678';

DROP TABLE sample_premises;
