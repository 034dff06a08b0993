-- 0021 Importing the network and the registry from files (`oms import`).
--
-- One kind of row per file, with the columns of its CSV header:
--   substations          substation_id, name, lat, lng, region_code, voltage_level
--   feeders              feeder_id, substation_id, name, lat, lng
--   distribution_points  dp_id, feeder_id, name, lat, lng
--   customers            customer_id, name, phone, address, lat, lng, dp_id
--   meters               meter_number, customer_id, dp_id, feeder_id, substation_id, lat, lng,
--                        asset_mrid, usage_point_mrid, onu_id, onu_serial_no, meter_type
-- References are business ids (SS001, FD002, ...). Import order: substations,
-- feeders, distribution points, customers, meters.
--
-- How (from psql, as the Swift importer does it):
--   SELECT oms_import_prepare('meters');            -- empty session table pg_temp.oms_import_meters
--   \copy oms_import_meters (meter_number, ...) FROM 'meters.csv' CSV HEADER
--   SELECT * FROM oms_import_apply('meters');       -- inserted, updated, unchanged, rejected
--   SELECT * FROM oms_import_rejects;               -- line, field, reason of each refused row
-- The staging table has a `line` column: the Swift importer sets the file's
-- line (GeoJSON: the feature's number); \copy leaves it to count from 2 (the
-- first line after the header).
--
-- Rules:
--   * Upsert by business key: a row whose key exists updates it, a second import
--     of the same file changes nothing (rows are compared; unchanged rows are
--     not written).
--   * An empty field means "not given": it never clears a stored value (a file
--     that lacks a column's value cannot erase what another source gave).
--   * A row that fails a check is refused with its line, the field and the
--     reason; the other rows are imported. Checks: key present and not repeated
--     in the file (a repeat is refused naming the first line), numbers and
--     coordinates (both or neither, in range), references that exist, a
--     meter's distribution point, feeder and substation agreeing with each
--     other, an asset mRID not used by another meter, ONU serials of 4 letters
--     and 8 hex digits.
--   * One call of oms_import_apply is one statement-set in the caller's
--     transaction: the service runs each file in its own transaction, so a file
--     is imported whole (its good rows) or not at all.
--   * A meter's distribution point implies its feeder and substation (0003);
--     topology written by an import is explicit.

-- A decimal number, or NULL when the text is empty; 'bad' (NaN) when it is not a number.
CREATE FUNCTION oms_import_number(p_text text) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN nullif(btrim(p_text), '') IS NULL THEN NULL
        WHEN btrim(p_text) ~ '^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$' THEN btrim(p_text)::double precision
        ELSE 'NaN'::double precision
    END
$$;

-- Why a row's coordinates are refused (field, reason), or NULLs. Plain SQL, so
-- the planner inlines it into the import's one pass over the rows.
CREATE FUNCTION oms_import_coordinate_problem(p_lat text, p_lng text) RETURNS TABLE (field text, reason text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v.lat = 'NaN' THEN 'lat'
                WHEN v.lng = 'NaN' THEN 'lng'
                WHEN (v.lat IS NULL) <> (v.lng IS NULL) THEN CASE WHEN v.lat IS NULL THEN 'lat' ELSE 'lng' END
                WHEN v.lat NOT BETWEEN -90 AND 90 THEN 'lat'
                WHEN v.lng NOT BETWEEN -180 AND 180 THEN 'lng' END,
           CASE WHEN v.lat = 'NaN' THEN format('not a number: "%s"', p_lat)
                WHEN v.lng = 'NaN' THEN format('not a number: "%s"', p_lng)
                WHEN (v.lat IS NULL) <> (v.lng IS NULL) THEN 'lat and lng go together: give both or neither'
                WHEN v.lat NOT BETWEEN -90 AND 90 THEN format('latitude %s is outside -90..90', v.lat)
                WHEN v.lng NOT BETWEEN -180 AND 180 THEN format('longitude %s is outside -180..180', v.lng) END
      FROM (SELECT oms_import_number(p_lat) AS lat, oms_import_number(p_lng) AS lng) v
$$;

-- The columns of each kind's file, in their documented order.
CREATE FUNCTION oms_import_columns(p_kind text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE p_kind
        WHEN 'substations' THEN ARRAY['substation_id', 'name', 'lat', 'lng', 'region_code', 'voltage_level']
        WHEN 'feeders' THEN ARRAY['feeder_id', 'substation_id', 'name', 'lat', 'lng']
        WHEN 'distribution_points' THEN ARRAY['dp_id', 'feeder_id', 'name', 'lat', 'lng']
        WHEN 'customers' THEN ARRAY['customer_id', 'name', 'phone', 'address', 'lat', 'lng', 'dp_id']
        WHEN 'meters' THEN ARRAY['meter_number', 'customer_id', 'dp_id', 'feeder_id', 'substation_id', 'lat', 'lng',
                                 'asset_mrid', 'usage_point_mrid', 'onu_id', 'onu_serial_no', 'meter_type']
    END;
END;
$$;
COMMENT ON FUNCTION oms_import_columns(text) IS
    'The columns of an import file of this kind (substations, feeders, distribution_points, customers, meters).';

-- Creates (or empties) the session's staging table pg_temp.oms_import_<kind>
-- and the session's oms_import_rejects. Returns the staging table's name.
CREATE FUNCTION oms_import_prepare(p_kind text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_columns text[] := oms_import_columns(p_kind);
    v_table   text := 'oms_import_' || p_kind;
BEGIN
    IF v_columns IS NULL THEN
        RAISE EXCEPTION 'unknown import kind "%": use substations, feeders, distribution_points, customers or meters', p_kind
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'kind';
    END IF;
    IF to_regclass('pg_temp.' || v_table) IS NULL THEN
        EXECUTE format('CREATE TEMP TABLE %I (line bigint GENERATED BY DEFAULT AS IDENTITY (START 2), %s)', v_table,
                       (SELECT string_agg(format('%I text', c), ', ') FROM unnest(v_columns) c));
    END IF;
    EXECUTE format('TRUNCATE %I RESTART IDENTITY', v_table);
    IF to_regclass('pg_temp.oms_import_rejects') IS NULL THEN
        CREATE TEMP TABLE oms_import_rejects (kind text, line bigint, field text, reason text);
    END IF;
    TRUNCATE oms_import_rejects;
    RETURN v_table;
END;
$$;
COMMENT ON FUNCTION oms_import_prepare(text) IS
    'Creates or empties the session table pg_temp.oms_import_<kind> (text columns of the file, plus line) for \copy or COPY.';

-- Checks and applies the rows staged in pg_temp.oms_import_<kind>.
CREATE FUNCTION oms_import_apply(p_kind text)
RETURNS TABLE (kind text, rows_read bigint, inserted bigint, updated bigint, unchanged bigint, rejected bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_read     bigint;
    v_inserted bigint := 0;
    v_updated  bigint := 0;
    v_rejected bigint;
BEGIN
    IF oms_import_columns(p_kind) IS NULL OR to_regclass('pg_temp.oms_import_' || p_kind) IS NULL THEN
        RAISE EXCEPTION 'nothing staged for "%": call oms_import_prepare(''%'') and copy the rows first', p_kind, p_kind
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'kind';
    END IF;
    DELETE FROM oms_import_rejects r WHERE r.kind = p_kind;
    EXECUTE format('SELECT count(*) FROM %I', 'oms_import_' || p_kind) INTO v_read;

    IF p_kind = 'substations' THEN
        CREATE TEMP TABLE oms_import_checked ON COMMIT DROP AS
        SELECT s.line, nullif(btrim(s.substation_id), '') AS key, nullif(btrim(s.name), '') AS name,
               oms_import_number(s.lat) AS lat, oms_import_number(s.lng) AS lng,
               nullif(btrim(s.region_code), '') AS region_code, nullif(btrim(s.voltage_level), '') AS voltage_level,
               p.field, p.reason,
               min(s.line) OVER (PARTITION BY nullif(btrim(s.substation_id), '')) AS first_line
          FROM oms_import_substations s CROSS JOIN LATERAL oms_import_coordinate_problem(s.lat, s.lng) p;
    ELSIF p_kind = 'feeders' THEN
        CREATE TEMP TABLE oms_import_checked ON COMMIT DROP AS
        SELECT s.line, nullif(btrim(s.feeder_id), '') AS key, nullif(btrim(s.name), '') AS name,
               oms_import_number(s.lat) AS lat, oms_import_number(s.lng) AS lng,
               nullif(btrim(s.substation_id), '') AS parent_code, sub.id AS parent_id,
               coalesce(p.field, CASE WHEN nullif(btrim(s.substation_id), '') IS NULL THEN 'substation_id'
                                      WHEN sub.id IS NULL THEN 'substation_id' END) AS field,
               coalesce(p.reason, CASE WHEN nullif(btrim(s.substation_id), '') IS NULL THEN 'is required'
                                       WHEN sub.id IS NULL THEN format('no substation "%s"', btrim(s.substation_id)) END) AS reason,
               min(s.line) OVER (PARTITION BY nullif(btrim(s.feeder_id), '')) AS first_line
          FROM oms_import_feeders s
          CROSS JOIN LATERAL oms_import_coordinate_problem(s.lat, s.lng) p
          LEFT JOIN network_substations sub ON sub.substation_id = btrim(s.substation_id);
    ELSIF p_kind = 'distribution_points' THEN
        CREATE TEMP TABLE oms_import_checked ON COMMIT DROP AS
        SELECT s.line, nullif(btrim(s.dp_id), '') AS key, nullif(btrim(s.name), '') AS name,
               oms_import_number(s.lat) AS lat, oms_import_number(s.lng) AS lng,
               f.id AS parent_id,
               coalesce(p.field, CASE WHEN nullif(btrim(s.feeder_id), '') IS NULL OR f.id IS NULL THEN 'feeder_id' END) AS field,
               coalesce(p.reason, CASE WHEN nullif(btrim(s.feeder_id), '') IS NULL THEN 'is required'
                                       WHEN f.id IS NULL THEN format('no feeder "%s"', btrim(s.feeder_id)) END) AS reason,
               min(s.line) OVER (PARTITION BY nullif(btrim(s.dp_id), '')) AS first_line
          FROM oms_import_distribution_points s
          CROSS JOIN LATERAL oms_import_coordinate_problem(s.lat, s.lng) p
          LEFT JOIN network_feeders f ON f.feeder_id = btrim(s.feeder_id);
    ELSIF p_kind = 'customers' THEN
        CREATE TEMP TABLE oms_import_checked ON COMMIT DROP AS
        SELECT s.line, nullif(btrim(s.customer_id), '') AS key, nullif(btrim(s.name), '') AS name,
               nullif(btrim(s.phone), '') AS phone, nullif(btrim(s.address), '') AS address,
               oms_import_number(s.lat) AS lat, oms_import_number(s.lng) AS lng, dp.id AS parent_id,
               coalesce(p.field, CASE WHEN nullif(btrim(s.dp_id), '') IS NOT NULL AND dp.id IS NULL THEN 'dp_id' END) AS field,
               coalesce(p.reason, CASE WHEN nullif(btrim(s.dp_id), '') IS NOT NULL AND dp.id IS NULL
                                       THEN format('no distribution point "%s"', btrim(s.dp_id)) END) AS reason,
               min(s.line) OVER (PARTITION BY nullif(btrim(s.customer_id), '')) AS first_line
          FROM oms_import_customers s
          CROSS JOIN LATERAL oms_import_coordinate_problem(s.lat, s.lng) p
          LEFT JOIN network_distribution_points dp ON dp.dp_id = btrim(s.dp_id);
    ELSIF p_kind = 'meters' THEN
        CREATE TEMP TABLE oms_import_checked ON COMMIT DROP AS
        WITH staged AS (
            SELECT s.line, nullif(btrim(s.meter_number), '') AS key,
                   nullif(btrim(s.customer_id), '') AS customer_code, nullif(btrim(s.dp_id), '') AS dp_code,
                   nullif(btrim(s.feeder_id), '') AS feeder_code, nullif(btrim(s.substation_id), '') AS substation_code,
                   s.lat AS lat_text, s.lng AS lng_text,
                   nullif(btrim(s.asset_mrid), '') AS asset_mrid, nullif(btrim(s.usage_point_mrid), '') AS usage_point_mrid,
                   nullif(btrim(s.onu_id), '') AS onu_id, upper(nullif(btrim(s.onu_serial_no), '')) AS onu_serial_no,
                   nullif(btrim(s.meter_type), '') AS meter_type
              FROM oms_import_meters s
        )
        SELECT s.line, s.key, s.asset_mrid, s.usage_point_mrid, s.onu_id, s.onu_serial_no, s.meter_type,
               oms_import_number(s.lat_text) AS lat, oms_import_number(s.lng_text) AS lng,
               c.id AS customer_id, dp.id AS dp_id, f.id AS feeder_id, sub.id AS substation_id,
               coalesce(p.field,
                   CASE WHEN s.customer_code IS NOT NULL AND c.id IS NULL THEN 'customer_id'
                        WHEN s.dp_code IS NOT NULL AND dp.id IS NULL THEN 'dp_id'
                        WHEN s.feeder_code IS NOT NULL AND f.id IS NULL THEN 'feeder_id'
                        WHEN s.substation_code IS NOT NULL AND sub.id IS NULL THEN 'substation_id'
                        WHEN f.id IS NOT NULL AND dp.id IS NOT NULL AND dp.feeder_id <> f.id THEN 'feeder_id'
                        WHEN sub.id IS NOT NULL AND coalesce(f.substation_id, dpf.substation_id) <> sub.id THEN 'substation_id'
                        WHEN s.onu_serial_no !~ '^[A-Z]{4}[0-9A-F]{8}$' THEN 'onu_serial_no'
                        WHEN other.id IS NOT NULL THEN 'asset_mrid'
                        WHEN s.asset_mrid IS NOT NULL
                             AND min(s.line) OVER (PARTITION BY s.asset_mrid) <> s.line THEN 'asset_mrid'
                   END) AS field,
               coalesce(p.reason,
                   CASE WHEN s.customer_code IS NOT NULL AND c.id IS NULL THEN format('no customer "%s"', s.customer_code)
                        WHEN s.dp_code IS NOT NULL AND dp.id IS NULL THEN format('no distribution point "%s"', s.dp_code)
                        WHEN s.feeder_code IS NOT NULL AND f.id IS NULL THEN format('no feeder "%s"', s.feeder_code)
                        WHEN s.substation_code IS NOT NULL AND sub.id IS NULL THEN format('no substation "%s"', s.substation_code)
                        WHEN f.id IS NOT NULL AND dp.id IS NOT NULL AND dp.feeder_id <> f.id
                             THEN format('distribution point %s is on feeder %s, not on %s', s.dp_code, dpf.feeder_id, s.feeder_code)
                        WHEN sub.id IS NOT NULL AND coalesce(f.substation_id, dpf.substation_id) <> sub.id
                             THEN format('feeder %s belongs to substation %s, not to %s',
                                         coalesce(s.feeder_code, dpf.feeder_id),
                                         (SELECT x.substation_id FROM network_substations x
                                           WHERE x.id = coalesce(f.substation_id, dpf.substation_id)),
                                         s.substation_code)
                        WHEN s.onu_serial_no !~ '^[A-Z]{4}[0-9A-F]{8}$'
                             THEN format('"%s" is not an ONU serial (4 letters of vendor id and 8 hex digits, e.g. HWTC1A2B3C4D)', s.onu_serial_no)
                        WHEN other.id IS NOT NULL THEN format('asset mRID %s belongs to meter %s', s.asset_mrid, other.meter_number)
                        WHEN s.asset_mrid IS NOT NULL AND min(s.line) OVER (PARTITION BY s.asset_mrid) <> s.line
                             THEN format('asset mRID %s is also on line %s', s.asset_mrid, min(s.line) OVER (PARTITION BY s.asset_mrid))
                   END) AS reason,
               min(s.line) OVER (PARTITION BY s.key) AS first_line
          FROM staged s
          CROSS JOIN LATERAL oms_import_coordinate_problem(s.lat_text, s.lng_text) p
          LEFT JOIN oms_customers c ON c.customer_id = s.customer_code
          LEFT JOIN network_distribution_points dp ON dp.dp_id = s.dp_code
          LEFT JOIN network_feeders dpf ON dpf.id = dp.feeder_id
          LEFT JOIN network_feeders f ON f.feeder_id = s.feeder_code
          LEFT JOIN network_substations sub ON sub.substation_id = s.substation_code
          LEFT JOIN oms_meters other ON other.asset_mrid = s.asset_mrid AND other.meter_number <> s.key;
    END IF;

    -- Keys: present, and once per file (later repeats refused naming the first line).
    UPDATE oms_import_checked c
       SET field = (oms_import_columns(p_kind))[1],
           reason = CASE WHEN c.key IS NULL THEN 'is required'
                         ELSE format('%s is also on line %s (one row per key)', c.key, c.first_line) END
     WHERE c.reason IS NULL AND (c.key IS NULL OR c.first_line <> c.line);

    INSERT INTO oms_import_rejects (kind, line, field, reason)
    SELECT p_kind, c.line, c.field, c.reason FROM oms_import_checked c WHERE c.reason IS NOT NULL;
    GET DIAGNOSTICS v_rejected = ROW_COUNT;
    DELETE FROM oms_import_checked c WHERE c.reason IS NOT NULL;

    -- Upsert; a row equal to what is stored is not written.
    IF p_kind = 'substations' THEN
        WITH written AS (
            INSERT INTO network_substations AS t (substation_id, name, location_lat, location_lng, region_code, voltage_level)
            SELECT c.key, c.name, c.lat, c.lng, c.region_code, c.voltage_level FROM oms_import_checked c
            ON CONFLICT (substation_id) DO UPDATE
               SET name = coalesce(EXCLUDED.name, t.name), location_lat = coalesce(EXCLUDED.location_lat, t.location_lat),
                   location_lng = coalesce(EXCLUDED.location_lng, t.location_lng),
                   region_code = coalesce(EXCLUDED.region_code, t.region_code),
                   voltage_level = coalesce(EXCLUDED.voltage_level, t.voltage_level)
             WHERE (t.name, t.location_lat, t.location_lng, t.region_code, t.voltage_level)
                   IS DISTINCT FROM (coalesce(EXCLUDED.name, t.name), coalesce(EXCLUDED.location_lat, t.location_lat),
                                     coalesce(EXCLUDED.location_lng, t.location_lng),
                                     coalesce(EXCLUDED.region_code, t.region_code),
                                     coalesce(EXCLUDED.voltage_level, t.voltage_level))
            RETURNING (t.xmax = 0) AS is_new
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) INTO v_inserted, v_updated FROM written;
    ELSIF p_kind = 'feeders' THEN
        WITH written AS (
            INSERT INTO network_feeders AS t (feeder_id, substation_id, name, location_lat, location_lng)
            SELECT c.key, c.parent_id, c.name, c.lat, c.lng FROM oms_import_checked c
            ON CONFLICT (feeder_id) DO UPDATE
               SET substation_id = EXCLUDED.substation_id, name = coalesce(EXCLUDED.name, t.name),
                   location_lat = coalesce(EXCLUDED.location_lat, t.location_lat),
                   location_lng = coalesce(EXCLUDED.location_lng, t.location_lng)
             WHERE (t.substation_id, t.name, t.location_lat, t.location_lng)
                   IS DISTINCT FROM (EXCLUDED.substation_id, coalesce(EXCLUDED.name, t.name),
                                     coalesce(EXCLUDED.location_lat, t.location_lat),
                                     coalesce(EXCLUDED.location_lng, t.location_lng))
            RETURNING (t.xmax = 0) AS is_new
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) INTO v_inserted, v_updated FROM written;
    ELSIF p_kind = 'distribution_points' THEN
        WITH written AS (
            INSERT INTO network_distribution_points AS t (dp_id, feeder_id, name, location_lat, location_lng)
            SELECT c.key, c.parent_id, c.name, c.lat, c.lng FROM oms_import_checked c
            ON CONFLICT (dp_id) DO UPDATE
               SET feeder_id = EXCLUDED.feeder_id, name = coalesce(EXCLUDED.name, t.name),
                   location_lat = coalesce(EXCLUDED.location_lat, t.location_lat),
                   location_lng = coalesce(EXCLUDED.location_lng, t.location_lng)
             WHERE (t.feeder_id, t.name, t.location_lat, t.location_lng)
                   IS DISTINCT FROM (EXCLUDED.feeder_id, coalesce(EXCLUDED.name, t.name),
                                     coalesce(EXCLUDED.location_lat, t.location_lat),
                                     coalesce(EXCLUDED.location_lng, t.location_lng))
            RETURNING (t.xmax = 0) AS is_new
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) INTO v_inserted, v_updated FROM written;
    ELSIF p_kind = 'customers' THEN
        WITH written AS (
            INSERT INTO oms_customers AS t (customer_id, name, phone, address, location_lat, location_lng, dp_id)
            SELECT c.key, c.name, c.phone, c.address, c.lat, c.lng, c.parent_id FROM oms_import_checked c
            ON CONFLICT (customer_id) DO UPDATE
               SET name = coalesce(EXCLUDED.name, t.name), phone = coalesce(EXCLUDED.phone, t.phone),
                   address = coalesce(EXCLUDED.address, t.address),
                   location_lat = coalesce(EXCLUDED.location_lat, t.location_lat),
                   location_lng = coalesce(EXCLUDED.location_lng, t.location_lng),
                   dp_id = coalesce(EXCLUDED.dp_id, t.dp_id)
             WHERE (t.name, t.phone, t.address, t.location_lat, t.location_lng, t.dp_id)
                   IS DISTINCT FROM (coalesce(EXCLUDED.name, t.name), coalesce(EXCLUDED.phone, t.phone),
                                     coalesce(EXCLUDED.address, t.address),
                                     coalesce(EXCLUDED.location_lat, t.location_lat),
                                     coalesce(EXCLUDED.location_lng, t.location_lng), coalesce(EXCLUDED.dp_id, t.dp_id))
            RETURNING (t.xmax = 0) AS is_new
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) INTO v_inserted, v_updated FROM written;
    ELSIF p_kind = 'meters' THEN
        -- A given DP implies its feeder and substation; a given feeder its substation
        -- (the trigger of 0003 derives them on insert; here for the comparison too).
        UPDATE oms_import_checked c
           SET feeder_id = coalesce(c.feeder_id, (SELECT d.feeder_id FROM network_distribution_points d WHERE d.id = c.dp_id))
         WHERE c.dp_id IS NOT NULL AND c.feeder_id IS NULL;
        UPDATE oms_import_checked c
           SET substation_id = (SELECT f.substation_id FROM network_feeders f WHERE f.id = c.feeder_id)
         WHERE c.feeder_id IS NOT NULL AND c.substation_id IS NULL;
        WITH written AS (
            INSERT INTO oms_meters AS t (meter_number, meter_type, customer_id, substation_id, feeder_id, dp_id,
                                         location_lat, location_lng, asset_mrid, usage_point_mrid, onu_id, onu_serial_no)
            SELECT c.key, c.meter_type, c.customer_id, c.substation_id, c.feeder_id, c.dp_id, c.lat, c.lng,
                   c.asset_mrid, c.usage_point_mrid, c.onu_id, c.onu_serial_no
              FROM oms_import_checked c
            ON CONFLICT (meter_number) DO UPDATE
               SET meter_type = coalesce(EXCLUDED.meter_type, t.meter_type),
                   customer_id = coalesce(EXCLUDED.customer_id, t.customer_id),
                   -- Topology moves as a whole when the file gives any of it.
                   substation_id = CASE WHEN EXCLUDED.substation_id IS NULL THEN t.substation_id ELSE EXCLUDED.substation_id END,
                   feeder_id = CASE WHEN EXCLUDED.substation_id IS NULL THEN t.feeder_id ELSE EXCLUDED.feeder_id END,
                   dp_id = CASE WHEN EXCLUDED.substation_id IS NULL THEN t.dp_id ELSE EXCLUDED.dp_id END,
                   location_lat = coalesce(EXCLUDED.location_lat, t.location_lat),
                   location_lng = coalesce(EXCLUDED.location_lng, t.location_lng),
                   asset_mrid = coalesce(EXCLUDED.asset_mrid, t.asset_mrid),
                   usage_point_mrid = coalesce(EXCLUDED.usage_point_mrid, t.usage_point_mrid),
                   onu_id = coalesce(EXCLUDED.onu_id, t.onu_id),
                   onu_serial_no = coalesce(EXCLUDED.onu_serial_no, t.onu_serial_no)
             WHERE (t.meter_type, t.customer_id, t.substation_id, t.feeder_id, t.dp_id, t.location_lat, t.location_lng,
                    t.asset_mrid, t.usage_point_mrid, t.onu_id, t.onu_serial_no)
                   IS DISTINCT FROM (coalesce(EXCLUDED.meter_type, t.meter_type), coalesce(EXCLUDED.customer_id, t.customer_id),
                                     coalesce(EXCLUDED.substation_id, t.substation_id),
                                     CASE WHEN EXCLUDED.substation_id IS NULL THEN t.feeder_id ELSE EXCLUDED.feeder_id END,
                                     CASE WHEN EXCLUDED.substation_id IS NULL THEN t.dp_id ELSE EXCLUDED.dp_id END,
                                     coalesce(EXCLUDED.location_lat, t.location_lat),
                                     coalesce(EXCLUDED.location_lng, t.location_lng),
                                     coalesce(EXCLUDED.asset_mrid, t.asset_mrid),
                                     coalesce(EXCLUDED.usage_point_mrid, t.usage_point_mrid),
                                     coalesce(EXCLUDED.onu_id, t.onu_id), coalesce(EXCLUDED.onu_serial_no, t.onu_serial_no))
            RETURNING (t.xmax = 0) AS is_new
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) INTO v_inserted, v_updated FROM written;
    END IF;
    DROP TABLE oms_import_checked;

    RETURN QUERY SELECT p_kind, v_read, v_inserted, v_updated, v_read - v_rejected - v_inserted - v_updated, v_rejected;
END;
$$;
COMMENT ON FUNCTION oms_import_apply(text) IS
    'Checks the rows staged in pg_temp.oms_import_<kind> and upserts the good ones by business key; refused rows go to pg_temp.oms_import_rejects.';
