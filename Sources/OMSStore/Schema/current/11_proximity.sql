-- Proximity: meters near a point, and meters linked to the network by distance.
--
-- Many registries arrive with coordinates but without topology (no distribution
-- point, feeder or substation), and a meter without topology is invisible to a
-- SCADA check and to outage correlation. Here:
--
--   * oms_link_meters_by_proximity() links such meters to the nearest
--     distribution point within proximity.dp_radius_km, else the nearest feeder
--     within proximity.feeder_radius_km, else the nearest substation within
--     proximity.substation_radius_km. Such a link is marked inferred, with its
--     distance (oms_meters.topology_source / topology_distance_km), and never
--     replaces an explicit one. It is an ordinary link otherwise: the mapping
--     triggers (04_mappings.sql) put the meter under its feeder and substation.
--   * oms_meters_within(lat, lng, radius_km): the meters within a radius of a
--     point, nearest first.
--
-- Both reach rows through GiST indexes on point(longitude, latitude): the
-- circle's bounding box in degrees (two boxes across the 180th meridian, every
-- longitude around a pole) is a containment the index answers, then an exact
-- great-circle test on the candidates. Distances are on a sphere of the mean
-- Earth radius (6,371.0088 km), within 0.5% of the ellipsoid.
--
-- Why not contrib cube/earthdistance (GiST on ll_to_earth()), the usual
-- choice: measured on PostgreSQL 15, cube's GiST page split degenerates on
-- points that lie along a line, which is how meters lie along a street or a
-- feeder: 2,000 points along one meridian, inserted in order, took 14 s and
-- made a 78 MB index; 20,000 took minutes and gigabytes (the same 20,000 in
-- point GiST: 37 ms, 1.7 MB). On the 1,000,000-meter benchmark registry the
-- cube index was also twice the size (139 MB vs 73 MB), its 5 km box scan 2.5
-- to 7 times slower, and oms_meters_within() took 44 ms (p50) against 20 ms.
-- And an index on ll_to_earth() is lost by pg_restore (its SQL body names
-- earth() without a schema: "type earth does not exist" under the empty
-- search_path of a restore). The built-in point type needs no extension at
-- all. PostGIS would be the choice for real geometry (lines, polygons,
-- projections); for "within R km" it is a large install for what a few lines
-- do here.
--
-- Who set a meter's topology (explicit or inferred) is kept by the trigger
-- oms_meters_topology_source (03_registry.sql).

-- Great-circle distance in km (haversine), inlined by the planner: a few float
-- operations per candidate row.
CREATE OR REPLACE FUNCTION oms_earth_distance_km(p_lat1 double precision, p_lng1 double precision,
                                      p_lat2 double precision, p_lng2 double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 2 * 6371.0088 * asin(least(1, sqrt(
           sin(radians(p_lat2 - p_lat1) / 2) ^ 2
           + cos(radians(p_lat1)) * cos(radians(p_lat2)) * sin(radians(p_lng2 - p_lng1) / 2) ^ 2)));
COMMENT ON FUNCTION oms_earth_distance_km(double precision, double precision, double precision, double precision) IS
    'Great-circle distance in km between two latitude/longitude points (degrees), on a sphere of the mean Earth radius (6,371.0088 km).';

-- The boxes, as point(longitude, latitude) ranges, that hold every point within
-- p_radius_km of (p_lat, p_lng): the latitude band lat +- r, and the widest
-- longitude difference at angular radius r, asin(sin(r) / cos(lat)). When the
-- circle holds a pole, every longitude; across the 180th meridian, two boxes.
-- A hair wider than exact (1e-9 degree), so rounding never drops a point on
-- the edge. One expression without checks (oms_proximity_boxes_checked has
-- them), so that the planner inlines it: per call, a few float operations.
CREATE OR REPLACE FUNCTION oms_proximity_boxes(p_lat double precision, p_lng double precision,
                                    p_radius_km double precision) RETURNS box[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    -- The circle holds a pole: every longitude.
    WHEN abs(p_lat) + degrees(p_radius_km / 6371.0088) + 1e-9 >= 90 THEN
        ARRAY[box(point(-180, greatest(p_lat - degrees(p_radius_km / 6371.0088) - 1e-9, -90)),
                  point(180, least(p_lat + degrees(p_radius_km / 6371.0088) + 1e-9, 90)))]
    -- Across the 180th meridian, west of it...
    WHEN p_lng - degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) - 1e-9 < -180 THEN
        ARRAY[box(point(-180, p_lat - degrees(p_radius_km / 6371.0088) - 1e-9),
                  point(p_lng + degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) + 1e-9,
                        p_lat + degrees(p_radius_km / 6371.0088) + 1e-9)),
              box(point(p_lng - degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) - 1e-9 + 360,
                        p_lat - degrees(p_radius_km / 6371.0088) - 1e-9),
                  point(180, p_lat + degrees(p_radius_km / 6371.0088) + 1e-9))]
    -- ... or east of it.
    WHEN p_lng + degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) + 1e-9 > 180 THEN
        ARRAY[box(point(p_lng - degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) - 1e-9,
                        p_lat - degrees(p_radius_km / 6371.0088) - 1e-9),
                  point(180, p_lat + degrees(p_radius_km / 6371.0088) + 1e-9)),
              box(point(-180, p_lat - degrees(p_radius_km / 6371.0088) - 1e-9),
                  point(p_lng + degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) + 1e-9 - 360,
                        p_lat + degrees(p_radius_km / 6371.0088) + 1e-9))]
    ELSE
        ARRAY[box(point(p_lng - degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) - 1e-9,
                        p_lat - degrees(p_radius_km / 6371.0088) - 1e-9),
                  point(p_lng + degrees(asin(least(1, sin(p_radius_km / 6371.0088) / cos(radians(p_lat))))) + 1e-9,
                        p_lat + degrees(p_radius_km / 6371.0088) + 1e-9))]
END;
COMMENT ON FUNCTION oms_proximity_boxes(double precision, double precision, double precision) IS
    'Boxes of point(longitude, latitude) that together hold every point within p_radius_km of (p_lat, p_lng): one, or two across the 180th meridian; every longitude when the circle holds a pole.';

-- The same, after checking the arguments: a missing or out-of-range latitude,
-- longitude or radius is refused, naming the argument. Immutable, so that with
-- constant arguments the planner computes (and checks) it once, when planning;
-- every other expression of a search that could fail derives from it.
CREATE OR REPLACE FUNCTION oms_proximity_boxes_checked(p_lat double precision, p_lng double precision,
                                            p_radius_km double precision) RETURNS box[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF p_lat IS NULL OR NOT p_lat BETWEEN -90 AND 90 THEN
        RAISE EXCEPTION 'invalid latitude %: p_lat must be a number of degrees from -90 to 90', coalesce(p_lat::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_lat';
    END IF;
    IF p_lng IS NULL OR NOT p_lng BETWEEN -180 AND 180 THEN
        RAISE EXCEPTION 'invalid longitude %: p_lng must be a number of degrees from -180 to 180', coalesce(p_lng::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_lng';
    END IF;
    IF p_radius_km IS NULL OR NOT p_radius_km > 0 OR p_radius_km >= 'Infinity' THEN
        RAISE EXCEPTION 'invalid radius %: p_radius_km must be a positive number of km', coalesce(p_radius_km::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_radius_km';
    END IF;
    RETURN oms_proximity_boxes(p_lat, p_lng, p_radius_km);
END;
$$;
COMMENT ON FUNCTION oms_proximity_boxes_checked(double precision, double precision, double precision) IS
    'oms_proximity_boxes() after checking its arguments: a latitude, longitude or radius that is missing or out of range is an error (SQLSTATE 22023, the argument in the column name).';

-- The active meters with a location within p_radius_km of a point, with their
-- distance, in no order: the box(es) around the circle, which the GiST index
-- oms_meters_point_idx answers, then the exact great-circle test. The one
-- search that oms_meters_within and oms_meters_nearest share. Plain SQL, so
-- the planner inlines it into its callers.
CREATE OR REPLACE FUNCTION oms_meters_in_circle(p_lat double precision, p_lng double precision,
                                                p_radius_km double precision)
RETURNS TABLE (id uuid, meter_number text, distance_km double precision,
               location_lat double precision, location_lng double precision, dp_id uuid, feeder_id uuid,
               substation_id uuid, topology_source text, power_status text, communication_status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.id, m.meter_number, d.distance_km, m.location_lat, m.location_lng, m.dp_id, m.feeder_id,
           m.substation_id, m.topology_source, m.power_status, m.communication_status
      FROM oms_meters m
     CROSS JOIN LATERAL (SELECT oms_earth_distance_km(p_lat, p_lng, m.location_lat, m.location_lng)) AS d (distance_km)
     WHERE m.location_lat IS NOT NULL AND m.location_lng IS NOT NULL
       AND point(m.location_lng, m.location_lat) <@ ANY (oms_proximity_boxes_checked(p_lat, p_lng, p_radius_km))
       AND d.distance_km <= p_radius_km
       AND m.status = 'active'
$$;
COMMENT ON FUNCTION oms_meters_in_circle(double precision, double precision, double precision) IS
    'Active meters with a location within p_radius_km (great circle) of (p_lat, p_lng), with the distance and their devices'' ids, in no order: the search oms_meters_within and oms_meters_nearest share.';

-- The meters within p_radius_km of a point, nearest first. Plain SQL, so the
-- planner inlines it (and oms_meters_in_circle in it): the caller's EXPLAIN
-- shows the real plan, a bitmap scan of oms_meters_point_idx for the box(es)
-- around the circle, then the exact great-circle test.
--
-- The devices' codes are looked up once per device, not once per meter: a
-- 5 km circle of a dense registry holds thousands of meters under a few
-- hundred distribution points, a few dozen feeders and a few substations
-- (6,072 meters under 408 / 44 / 6 at one point of the 1M bench registry).
-- Joined per meter row, the distribution point's key lookup (a nested loop,
-- as the planner cannot know the meters share their devices) and a hash of
-- every feeder were more than half of the search: 1M registry, `oms bench
-- proximity`, p50 28.4 -> 20.4 ms (server execution 21.3 -> 14.3 ms).
CREATE OR REPLACE FUNCTION oms_meters_within(p_lat double precision, p_lng double precision, p_radius_km double precision)
RETURNS TABLE (id uuid, meter_number text, distance_km double precision,
               location_lat double precision, location_lng double precision,
               dp_code text, feeder_code text, substation_code text, topology_source text,
               power_status text, communication_status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH c AS MATERIALIZED (
        SELECT * FROM oms_meters_in_circle(p_lat, p_lng, p_radius_km)
    ),
    dps AS MATERIALIZED (
        SELECT d.id, d.dp_id FROM network_distribution_points d
         WHERE d.id = ANY (ARRAY(SELECT DISTINCT c.dp_id FROM c WHERE c.dp_id IS NOT NULL))
    ),
    feeders AS MATERIALIZED (
        SELECT f.id, f.feeder_id FROM network_feeders f
         WHERE f.id = ANY (ARRAY(SELECT DISTINCT c.feeder_id FROM c WHERE c.feeder_id IS NOT NULL))
    ),
    substations AS MATERIALIZED (
        SELECT s.id, s.substation_id FROM network_substations s
         WHERE s.id = ANY (ARRAY(SELECT DISTINCT c.substation_id FROM c WHERE c.substation_id IS NOT NULL))
    )
    SELECT c.id, c.meter_number, c.distance_km, c.location_lat, c.location_lng,
           dp.dp_id, f.feeder_id, s.substation_id, c.topology_source, c.power_status, c.communication_status
      FROM c
      LEFT JOIN dps dp ON dp.id = c.dp_id
      LEFT JOIN feeders f ON f.id = c.feeder_id
      LEFT JOIN substations s ON s.id = c.substation_id
     ORDER BY c.distance_km, c.meter_number
$$;
COMMENT ON FUNCTION oms_meters_within(double precision, double precision, double precision) IS
    'Active meters within p_radius_km (great circle) of (p_lat, p_lng), nearest first (then by meter number), with their topology (business ids, how it was set) and status. Through the GiST index oms_meters_point_idx.';

-- The count of a nearest-first search, checked: a missing or non-positive
-- p_limit is refused, naming it (as oms_proximity_boxes_checked does the rest).
CREATE OR REPLACE FUNCTION oms_proximity_limit_checked(p_limit bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'invalid count %: p_limit must be a positive number of meters', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_limit';
    END IF;
    RETURN p_limit;
END;
$$;
COMMENT ON FUNCTION oms_proximity_limit_checked(bigint) IS
    'p_limit after checking it is a positive count (SQLSTATE 22023, COLUMN p_limit, otherwise).';

-- The p_limit active meters nearest to a point within p_radius_km, nearest
-- first: exactly the first p_limit rows of oms_meters_within(), without
-- reading every meter of the circle (a 5 km circle of a dense registry holds
-- thousands). Two index-driven steps:
--   1. the reach: the p_limit meters nearest in the GiST index's own order
--      (point <-> point, a k-nearest-neighbour scan that stops after p_limit
--      rows) are at most "reach" km away on the great circle, so the p_limit
--      nearest meters of all lie within reach;
--   2. the first p_limit rows of oms_meters_within() for the smaller of
--      reach and the radius: a circle of about p_limit meters.
-- The index orders by distance in degrees, not on the sphere (a degree of
-- longitude shrinks with latitude; across the 180th meridian it is far): that
-- only makes the reach larger than needed, never wrong.
-- PL/pgSQL with one generic plan kept by the session (plan_cache_mode): the
-- reach is known only when it runs, and planning this join afresh at every
-- call cost as much as running it; no parallel workers for a hundred rows.
CREATE OR REPLACE FUNCTION oms_meters_nearest(p_lat double precision, p_lng double precision,
                                              p_radius_km double precision, p_limit bigint)
RETURNS TABLE (id uuid, meter_number text, distance_km double precision,
               location_lat double precision, location_lng double precision,
               dp_code text, feeder_code text, substation_code text, topology_source text,
               power_status text, communication_status text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET plan_cache_mode = force_generic_plan
SET max_parallel_workers_per_gather = 0
AS $$
#variable_conflict use_column
DECLARE
    v_limit bigint;
    v_reach double precision;
BEGIN
    PERFORM oms_proximity_boxes_checked(p_lat, p_lng, p_radius_km);  -- (checks the arguments)
    v_limit := oms_proximity_limit_checked(p_limit);
    SELECT max(oms_earth_distance_km(p_lat, p_lng, k.location_lat, k.location_lng)) INTO v_reach
      FROM (SELECT m.location_lat, m.location_lng FROM oms_meters m
             WHERE m.location_lat IS NOT NULL AND m.location_lng IS NOT NULL AND m.status = 'active'
             ORDER BY point(m.location_lng, m.location_lat) <-> point(p_lng, p_lat)
             LIMIT v_limit) k;
    IF v_reach IS NULL THEN
        RETURN;  -- no active meter has a location
    END IF;
    v_reach := least(p_radius_km, greatest(v_reach, 1e-6));
    RETURN QUERY
    SELECT w.* FROM oms_meters_within(p_lat, p_lng, v_reach) w
     ORDER BY w.distance_km, w.meter_number
     LIMIT v_limit;
END;
$$;
COMMENT ON FUNCTION oms_meters_nearest(double precision, double precision, double precision, bigint) IS
    'The p_limit active meters nearest to (p_lat, p_lng) within p_radius_km, nearest first: the first p_limit rows of oms_meters_within(), found by a nearest-neighbour scan of oms_meters_point_idx then a search of the circle that holds them.';

-- Links the active meters that have no explicit topology (all, or those of
-- p_meter_ids) to the nearest distribution point within
-- proximity.dp_radius_km, else feeder, else substation (elements not
-- inactive, with coordinates; the nearer of two at the same distance by
-- business id), in one statement: per meter and level, one index lookup of the
-- elements within the radius's box. Writes only meters whose link changes, so
-- a second run writes nothing; a later run refreshes inferred links (after a
-- radius, a meter or the network changed), including removing one that no
-- longer has anything in range, or whose meter lost its coordinates. Explicit
-- links are never written. One run at a time (transaction-level advisory lock).
-- One row per level: the meters in scope at that level after the run and how
-- many of them this run wrote; for unlinked and no_location also (up to 100
-- of) their meter numbers.
CREATE OR REPLACE FUNCTION oms_link_meters_by_proximity(p_meter_ids uuid[] DEFAULT NULL)
RETURNS TABLE (level text, meters integer, changed integer, meter_numbers text[])
LANGUAGE plpgsql
SET oms.topology_writer = 'proximity'
AS $$
#variable_conflict use_column
DECLARE
    v_dp_km          double precision := oms_setting_numeric('proximity.dp_radius_km');
    v_feeder_km      double precision := oms_setting_numeric('proximity.feeder_radius_km');
    v_substation_km  double precision := oms_setting_numeric('proximity.substation_radius_km');
    v_key            text;
BEGIN
    v_key := CASE WHEN v_dp_km IS NULL OR v_dp_km < 0 THEN 'proximity.dp_radius_km'
                  WHEN v_feeder_km IS NULL OR v_feeder_km < 0 THEN 'proximity.feeder_radius_km'
                  WHEN v_substation_km IS NULL OR v_substation_km < 0 THEN 'proximity.substation_radius_km' END;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION 'setting % must be a number of km >= 0, not %', v_key, oms_setting(v_key)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = v_key;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('oms.link_meters_by_proximity', 0));

    RETURN QUERY
    WITH scope AS (
        SELECT m.id, m.meter_number, m.topology_source, m.location_lat, m.location_lng,
               (m.location_lat IS NOT NULL AND m.location_lng IS NOT NULL) AS located
          FROM oms_meters m
         WHERE m.status = 'active'
           AND (p_meter_ids IS NULL OR m.id = ANY (p_meter_ids))
    ),
    decided AS (
        SELECT c.id, c.meter_number,
               CASE WHEN NOT c.located THEN 'no_location'
                    WHEN nd.id IS NOT NULL THEN 'dp'
                    WHEN nf.id IS NOT NULL THEN 'feeder'
                    WHEN ns.id IS NOT NULL THEN 'substation'
                    ELSE 'unlinked' END AS level,
               nd.id AS dp_id,
               coalesce(nd.feeder_id, nf.id) AS feeder_id,
               coalesce(ndf.substation_id, nf.substation_id, ns.id) AS substation_id,
               coalesce(nd.distance_km, nf.distance_km, ns.distance_km) AS distance_km
          FROM scope c
          LEFT JOIN LATERAL (
                SELECT d.id, d.feeder_id, x.distance_km
                  FROM network_distribution_points d
                 CROSS JOIN LATERAL (SELECT oms_earth_distance_km(c.location_lat, c.location_lng,
                                                                  d.location_lat, d.location_lng)) x (distance_km)
                 WHERE c.located AND v_dp_km > 0
                   AND d.location_lat IS NOT NULL AND d.location_lng IS NOT NULL
                   AND point(d.location_lng, d.location_lat) <@ ANY (oms_proximity_boxes(c.location_lat, c.location_lng, v_dp_km))
                   AND x.distance_km <= v_dp_km AND d.status <> 'inactive'
                 ORDER BY x.distance_km, d.dp_id
                 LIMIT 1) nd ON true
          LEFT JOIN network_feeders ndf ON ndf.id = nd.feeder_id
          LEFT JOIN LATERAL (
                SELECT f.id, f.substation_id, x.distance_km
                  FROM network_feeders f
                 CROSS JOIN LATERAL (SELECT oms_earth_distance_km(c.location_lat, c.location_lng,
                                                                  f.location_lat, f.location_lng)) x (distance_km)
                 WHERE c.located AND nd.id IS NULL AND v_feeder_km > 0
                   AND f.location_lat IS NOT NULL AND f.location_lng IS NOT NULL
                   AND point(f.location_lng, f.location_lat) <@ ANY (oms_proximity_boxes(c.location_lat, c.location_lng, v_feeder_km))
                   AND x.distance_km <= v_feeder_km AND f.status <> 'inactive'
                 ORDER BY x.distance_km, f.feeder_id
                 LIMIT 1) nf ON true
          LEFT JOIN LATERAL (
                SELECT s.id, x.distance_km
                  FROM network_substations s
                 CROSS JOIN LATERAL (SELECT oms_earth_distance_km(c.location_lat, c.location_lng,
                                                                  s.location_lat, s.location_lng)) x (distance_km)
                 WHERE c.located AND nd.id IS NULL AND nf.id IS NULL AND v_substation_km > 0
                   AND s.location_lat IS NOT NULL AND s.location_lng IS NOT NULL
                   AND point(s.location_lng, s.location_lat) <@ ANY (oms_proximity_boxes(c.location_lat, c.location_lng, v_substation_km))
                   AND x.distance_km <= v_substation_km AND s.status <> 'inactive'
                 ORDER BY x.distance_km, s.substation_id
                 LIMIT 1) ns ON true
         WHERE c.topology_source IS DISTINCT FROM 'explicit'
    ),
    written AS (
        UPDATE oms_meters m
           SET dp_id = d.dp_id, feeder_id = d.feeder_id, substation_id = d.substation_id,
               topology_source = CASE WHEN d.substation_id IS NOT NULL THEN 'inferred' END,
               topology_distance_km = d.distance_km
          FROM decided d
         WHERE m.id = d.id
           AND m.topology_source IS DISTINCT FROM 'explicit'
           AND (m.dp_id, m.feeder_id, m.substation_id, m.topology_distance_km)
               IS DISTINCT FROM (d.dp_id, d.feeder_id, d.substation_id, d.distance_km)
        RETURNING m.id
    ),
    counted AS (
        SELECT 'explicit' AS level, count(*)::int AS meters, 0 AS changed, NULL::text[] AS meter_numbers
          FROM scope WHERE topology_source = 'explicit'
        UNION ALL
        SELECT d.level, count(*)::int, count(w.id)::int,
               CASE WHEN d.level IN ('unlinked', 'no_location')
                    THEN (array_agg(d.meter_number ORDER BY d.meter_number))[1:100] END
          FROM decided d LEFT JOIN written w ON w.id = d.id
         GROUP BY d.level
    )
    SELECT l.level, coalesce(c.meters, 0), coalesce(c.changed, 0),
           coalesce(c.meter_numbers, CASE WHEN l.level IN ('unlinked', 'no_location') THEN '{}'::text[] END)
      FROM unnest(ARRAY['explicit', 'dp', 'feeder', 'substation', 'unlinked', 'no_location'])
           WITH ORDINALITY AS l (level, ordinal)
      LEFT JOIN counted c ON c.level = l.level
     ORDER BY l.ordinal;
END;
$$;
COMMENT ON FUNCTION oms_link_meters_by_proximity(uuid[]) IS
    'Links active meters with coordinates and no explicit topology (all, or p_meter_ids) to the nearest distribution point, else feeder, else substation within the proximity.*_radius_km settings, marked inferred with the distance; never touches explicit links; idempotent. One row per level (explicit, dp, feeder, substation, unlinked, no_location): meters, how many this run wrote, and for unlinked/no_location up to 100 meter numbers.';
