-- 0019 Proximity: meters near a point, and meters linked to the network by distance.
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
--     triggers (0004) put the meter under its feeder and substation.
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
-- Nothing new is indexed that a status update touches: only the location
-- columns are in the new index, so power/communication updates stay HOT.

-- Great-circle distance in km (haversine), inlined by the planner: a few float
-- operations per candidate row.
CREATE FUNCTION oms_earth_distance_km(p_lat1 double precision, p_lng1 double precision,
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
CREATE FUNCTION oms_proximity_boxes(p_lat double precision, p_lng double precision,
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
CREATE FUNCTION oms_proximity_boxes_checked(p_lat double precision, p_lng double precision,
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

CREATE INDEX oms_meters_point_idx ON oms_meters USING gist (point(location_lng, location_lat))
    WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;
CREATE INDEX network_distribution_points_point_idx ON network_distribution_points
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;
CREATE INDEX network_feeders_point_idx ON network_feeders
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;
CREATE INDEX network_substations_point_idx ON network_substations
    USING gist (point(location_lng, location_lat)) WHERE location_lat IS NOT NULL AND location_lng IS NOT NULL;

-- Radii. A distribution transformer's low-voltage service reaches a few
-- hundred metres (up to ~1 km in the country): 0.5 km links a meter to the
-- transformer that can plausibly supply it and not to the next village's.
-- A feeder's location is one point (its breaker or a centroid) of a line
-- several km long: 2 km. A distribution substation serves an area of a few
-- km up to ~10 km in radius: 10 km. A radius of 0 turns a level off.
INSERT INTO oms_settings (key, value, description) VALUES
    ('proximity.dp_radius_km', '0.5',
     'oms_link_meters_by_proximity(): a meter without topology is linked to the nearest distribution point within this many km (0: never).'),
    ('proximity.feeder_radius_km', '2',
     'oms_link_meters_by_proximity(): with no distribution point in range, to the nearest feeder (its location) within this many km (0: never).'),
    ('proximity.substation_radius_km', '10',
     'oms_link_meters_by_proximity(): with no feeder in range either, to the nearest substation within this many km (0: never).');

-- How each meter's topology was set. Every meter that has topology now got it
-- from a user or an import: explicit. The column's default does that without
-- rewriting the registry (a default is stored once in the catalog); the meters
-- without topology are then cleared (updated_at left alone: nothing about the
-- meter changed). The default stays: an import with topology is explicit with
-- no trigger call per row (see oms_meters_topology_source_insert).
ALTER TABLE oms_meters
    ADD COLUMN topology_source text DEFAULT 'explicit',
    ADD COLUMN topology_distance_km double precision;
ALTER TABLE oms_meters DISABLE TRIGGER oms_meters_touch;
UPDATE oms_meters SET topology_source = NULL
 WHERE dp_id IS NULL AND feeder_id IS NULL AND substation_id IS NULL;
ALTER TABLE oms_meters ENABLE TRIGGER oms_meters_touch;

ALTER TABLE oms_meters
    ADD CONSTRAINT oms_meters_topology_source_check
        CHECK (topology_source IN ('explicit', 'inferred')),
    ADD CONSTRAINT oms_meters_topology_source_present
        CHECK ((topology_source IS NULL) = (dp_id IS NULL AND feeder_id IS NULL AND substation_id IS NULL)),
    ADD CONSTRAINT oms_meters_topology_distance_check
        CHECK (CASE WHEN topology_source = 'inferred' THEN topology_distance_km >= 0
                    ELSE topology_distance_km IS NULL END);
COMMENT ON COLUMN oms_meters.topology_source IS
    'explicit: dp/feeder/substation written by a user or an import; inferred: set by oms_link_meters_by_proximity(); NULL: no topology.';
COMMENT ON COLUMN oms_meters.topology_distance_km IS
    'For an inferred link: the distance (km, great circle) from the meter to the element it was linked to.';

-- Who set the topology. A write that changes the meter's most specific level
-- (its distribution point, else feeder, else substation) is a user's link:
-- explicit, whatever else the statement says (an application that writes the
-- whole row back keeps no stale 'inferred'). Only oms_link_meters_by_proximity()
-- writes inferred links: it runs with oms.topology_writer = 'proximity'.
-- Changes of the levels above (a DP moved to another feeder, a feeder to
-- another substation: 0003's cascades) keep the link's source. With the
-- topology unchanged, the one change allowed by hand is confirming an inferred
-- link (topology_source = 'explicit'); any other write of the two columns is
-- refused. Runs after oms_meters_topology (BEFORE triggers fire in name
-- order), so it sees the derived levels.
CREATE FUNCTION oms_meters_topology_source() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_linked boolean := NEW.dp_id IS NOT NULL OR NEW.feeder_id IS NOT NULL OR NEW.substation_id IS NOT NULL;
BEGIN
    IF current_setting('oms.topology_writer', true) = 'proximity' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT'
       OR NEW.dp_id IS DISTINCT FROM OLD.dp_id
       OR (NEW.dp_id IS NULL AND NEW.feeder_id IS DISTINCT FROM OLD.feeder_id)
       OR (NEW.dp_id IS NULL AND NEW.feeder_id IS NULL AND NEW.substation_id IS DISTINCT FROM OLD.substation_id) THEN
        NEW.topology_source := CASE WHEN v_linked THEN 'explicit' END;
        NEW.topology_distance_km := NULL;
        RETURN NEW;
    END IF;
    IF NEW.topology_source IS NOT DISTINCT FROM OLD.topology_source
       AND NEW.topology_distance_km IS NOT DISTINCT FROM OLD.topology_distance_km THEN
        RETURN NEW;
    END IF;
    IF OLD.topology_source = 'inferred' AND NEW.topology_source = 'explicit' THEN
        NEW.topology_distance_km := NULL;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'meter %: topology_source % and topology_distance_km are kept by the database', NEW.meter_number,
            coalesce(quote_literal(NEW.topology_source), 'NULL')
        USING ERRCODE = 'invalid_parameter_value', COLUMN = 'topology_source', TABLE = 'oms_meters',
              HINT = 'Writing dp_id, feeder_id or substation_id makes a link explicit; topology_source = ''explicit'' confirms an inferred link; oms_link_meters_by_proximity() makes inferred ones.';
END;
$$;
COMMENT ON FUNCTION oms_meters_topology_source() IS
    'Trigger function: marks a meter''s topology explicit when a user changes it (inferred only when oms_link_meters_by_proximity() writes it); refuses hand-made inferred links.';

-- A new meter with topology and the column's default is already right: the
-- function is called only for the others (no topology, or values given).
CREATE TRIGGER oms_meters_topology_source_insert
    BEFORE INSERT ON oms_meters
    FOR EACH ROW
    WHEN ((NEW.dp_id IS NULL AND NEW.feeder_id IS NULL AND NEW.substation_id IS NULL)
          OR NEW.topology_source IS DISTINCT FROM 'explicit' OR NEW.topology_distance_km IS NOT NULL)
    EXECUTE FUNCTION oms_meters_topology_source();
-- Status updates name none of these columns and never fire it.
CREATE TRIGGER oms_meters_topology_source_update
    BEFORE UPDATE OF dp_id, feeder_id, substation_id, topology_source, topology_distance_km ON oms_meters
    FOR EACH ROW
    WHEN ((OLD.dp_id, OLD.feeder_id, OLD.substation_id, OLD.topology_source, OLD.topology_distance_km)
          IS DISTINCT FROM (NEW.dp_id, NEW.feeder_id, NEW.substation_id, NEW.topology_source, NEW.topology_distance_km))
    EXECUTE FUNCTION oms_meters_topology_source();

-- The meters within p_radius_km of a point, nearest first. Plain SQL, so the
-- planner inlines it: the caller's EXPLAIN shows the real plan, a bitmap scan
-- of oms_meters_point_idx for the box(es) around the circle, then the exact
-- great-circle test.
CREATE FUNCTION oms_meters_within(p_lat double precision, p_lng double precision, p_radius_km double precision)
RETURNS TABLE (id uuid, meter_number text, distance_km double precision,
               location_lat double precision, location_lng double precision,
               dp_code text, feeder_code text, substation_code text, topology_source text,
               power_status text, communication_status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.id, m.meter_number, d.distance_km, m.location_lat, m.location_lng,
           dp.dp_id, f.feeder_id, s.substation_id, m.topology_source, m.power_status, m.communication_status
      FROM oms_meters m
     CROSS JOIN LATERAL (SELECT oms_earth_distance_km(p_lat, p_lng, m.location_lat, m.location_lng)) AS d (distance_km)
      LEFT JOIN network_distribution_points dp ON dp.id = m.dp_id
      LEFT JOIN network_feeders f ON f.id = m.feeder_id
      LEFT JOIN network_substations s ON s.id = m.substation_id
     WHERE m.location_lat IS NOT NULL AND m.location_lng IS NOT NULL
       AND point(m.location_lng, m.location_lat) <@ ANY (oms_proximity_boxes_checked(p_lat, p_lng, p_radius_km))
       AND d.distance_km <= p_radius_km
       AND m.status = 'active'
     ORDER BY d.distance_km, m.meter_number
$$;
COMMENT ON FUNCTION oms_meters_within(double precision, double precision, double precision) IS
    'Active meters within p_radius_km (great circle) of (p_lat, p_lng), nearest first (then by meter number), with their topology (business ids, how it was set) and status. Through the GiST index oms_meters_point_idx.';

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
CREATE FUNCTION oms_link_meters_by_proximity(p_meter_ids uuid[] DEFAULT NULL)
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
