-- Importing the network and the registry from files (`oms import`).
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
--   * A meter's distribution point implies its feeder and substation
--     (03_registry.sql); topology written by an import is explicit.
--
-- Initial load: an import into an empty table of at least
-- import.bulk_load_min_rows rows (10,000; 0 turns it off) builds the table's
-- indexes and foreign keys once, after the rows, instead of once per row
-- (PostgreSQL's "Populating a Database" advice). Measured on the
-- 1,000,000-meter benchmark (2 cores): the INSERT of the meters spent most of
-- its time on four foreign-key checks per meter, three per mapping row, twelve
-- secondary indexes and random-uuid primary keys; building an index from sorted
-- rows costs a fraction of that. Inside the import's transaction:
--   1. oms_bulk_load_begin(tables) saves and drops the tables' foreign keys (and
--      those of empty tables that reference them), their indexes that back no
--      constraint, and their primary keys once no foreign key references them;
--   2. the checks and the upsert run as always (oms_import_apply_rows);
--   3. oms_bulk_load_end() re-creates them from the saved definitions (the same
--      names and definitions: pg_get_indexdef / pg_get_constraintdef) and
--      ANALYZEs the tables, so the next file's checks plan against real counts.
-- If anything fails, the transaction rolls back and the dropped objects come
-- back with it (DDL is transactional). Other sessions never see a table without
-- its keys: ALTER TABLE and DROP INDEX hold an ACCESS EXCLUSIVE lock on the
-- (empty) table until commit, and a SHARE ROW EXCLUSIVE lock on the tables its
-- foreign keys reference (writes to those wait; reads do not). That is why the
-- path is taken only for an empty table: an import into a registry in service
-- keeps the row-by-row upkeep and blocks nobody. Unique constraints stay (they
-- are the ON CONFLICT arbiters of the upserts and of the mapping trigger), and
-- so do the triggers.

-- ---------------------------------------------------------------------------
-- Reading and checking rows.

-- A decimal number, or NULL when the text is empty; 'bad' (NaN) when it is not a number.
CREATE OR REPLACE FUNCTION oms_import_number(p_text text) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN nullif(btrim(p_text), '') IS NULL THEN NULL
        WHEN btrim(p_text) ~ '^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$' THEN btrim(p_text)::double precision
        ELSE 'NaN'::double precision
    END
$$;
COMMENT ON FUNCTION oms_import_number(text) IS
    'A decimal number from an import field; NULL when empty, NaN when not a number.';

-- Why a row's coordinates are refused (field, reason), or NULLs; from the texts
-- and their values as parsed once by oms_import_number(). Plain SQL, so that it
-- is inlined into the check and costs a few comparisons per row (as a PL/pgSQL
-- function in LATERAL it ran once per row: the planner cannot push the cheap
-- oms_import_coordinates_suspect() test below it).
CREATE OR REPLACE FUNCTION oms_import_coordinate_problem(p_lat_text text, p_lng_text text,
                                              p_lat double precision, p_lng double precision,
                                              OUT field text, OUT reason text)
RETURNS SETOF record -- one row; SETOF so that the planner inlines it in FROM
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_lat = 'NaN' THEN 'lat'
                WHEN p_lng = 'NaN' THEN 'lng'
                WHEN (p_lat IS NULL) <> (p_lng IS NULL) THEN CASE WHEN p_lat IS NULL THEN 'lat' ELSE 'lng' END
                WHEN p_lat NOT BETWEEN -90 AND 90 THEN 'lat'
                WHEN p_lng NOT BETWEEN -180 AND 180 THEN 'lng' END,
           CASE WHEN p_lat = 'NaN' THEN format('not a number: "%s"', p_lat_text)
                WHEN p_lng = 'NaN' THEN format('not a number: "%s"', p_lng_text)
                WHEN (p_lat IS NULL) <> (p_lng IS NULL) THEN 'lat and lng go together: give both or neither'
                WHEN p_lat NOT BETWEEN -90 AND 90 THEN format('latitude %s is outside -90..90', p_lat)
                WHEN p_lng NOT BETWEEN -180 AND 180 THEN format('longitude %s is outside -180..180', p_lng) END
$$;
COMMENT ON FUNCTION oms_import_coordinate_problem(text, text, double precision, double precision) IS
    'Why an import row''s coordinates are refused (field, reason), or NULLs: not a number, only one of the two, or out of range.';

-- Whether parsed coordinates need a closer look (a cheap test, so that
-- oms_import_coordinate_problem() runs only for the few rows that do).
CREATE OR REPLACE FUNCTION oms_import_coordinates_suspect(p_lat double precision, p_lng double precision) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_lat IS NULL) <> (p_lng IS NULL) OR p_lat NOT BETWEEN -90 AND 90 OR p_lng NOT BETWEEN -180 AND 180
$$;
COMMENT ON FUNCTION oms_import_coordinates_suspect(double precision, double precision) IS
    'Whether parsed import coordinates need oms_import_coordinate_problem() (only one given, or out of range).';

-- The columns of each kind's file, in their documented order.
CREATE OR REPLACE FUNCTION oms_import_columns(p_kind text) RETURNS text[]
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

-- Which tables an import of each kind writes: its own, and for meters the
-- registry mappings that the mapping trigger fills (04_mappings.sql).
CREATE OR REPLACE FUNCTION oms_import_tables(p_kind text) RETURNS regclass[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind
        WHEN 'substations' THEN ARRAY['network_substations'::regclass]
        WHEN 'feeders' THEN ARRAY['network_feeders'::regclass]
        WHEN 'distribution_points' THEN ARRAY['network_distribution_points'::regclass]
        WHEN 'customers' THEN ARRAY['oms_customers'::regclass]
        WHEN 'meters' THEN ARRAY['oms_meters'::regclass, 'network_substation_meters'::regclass,
                                 'network_feeder_meters'::regclass]
    END
$$;
COMMENT ON FUNCTION oms_import_tables(text) IS
    'The tables an import of this kind writes (the first is the kind''s own).';

-- ---------------------------------------------------------------------------
-- Staging, checking and applying a file.

-- Creates (or empties) the session's staging table pg_temp.oms_import_<kind>
-- and the session's oms_import_rejects. Returns the staging table's name.
CREATE OR REPLACE FUNCTION oms_import_prepare(p_kind text) RETURNS text
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

-- Checks and applies the rows staged in pg_temp.oms_import_<kind>: one pass
-- reads every row with its references (hash joins) into oms_import_checked,
-- with the first problem found; refused rows go to oms_import_rejects; then
-- changed rows are updated and new rows inserted (unchanged rows are not
-- touched, not even locked).
CREATE OR REPLACE FUNCTION oms_import_apply_rows(p_kind text)
RETURNS TABLE (kind text, rows_read bigint, inserted bigint, updated bigint, unchanged bigint, rejected bigint)
LANGUAGE plpgsql
-- The checks sort the file by key (a key repeated in the file) and, for meters,
-- by asset mRID: with the default work_mem (4 MB) each sort of 1,000,000 rows
-- went to disk. One import session at a time; the setting applies to this
-- function only.
SET work_mem = '256MB'
AS $$
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
    DROP TABLE IF EXISTS oms_import_checked;

    -- 1. One pass: values parsed once (MATERIALIZED), references joined, the first problem of each row.
    IF p_kind = 'substations' THEN
        CREATE TEMP TABLE oms_import_checked AS
        WITH s AS MATERIALIZED (
            SELECT x.line, nullif(btrim(x.substation_id), '') AS key, nullif(btrim(x.name), '') AS name,
                   x.lat AS lat_text, x.lng AS lng_text, oms_import_number(x.lat) AS lat, oms_import_number(x.lng) AS lng,
                   nullif(btrim(x.region_code), '') AS region_code, nullif(btrim(x.voltage_level), '') AS voltage_level
              FROM oms_import_substations x
        )
        SELECT s.line, s.key, s.name, s.lat, s.lng, s.region_code, s.voltage_level, p.field, p.reason,
               min(s.line) OVER (PARTITION BY s.key) AS first_line
          FROM s LEFT JOIN LATERAL (SELECT * FROM oms_import_coordinate_problem(s.lat_text, s.lng_text, s.lat, s.lng)
                                  WHERE oms_import_coordinates_suspect(s.lat, s.lng)) p ON true;
    ELSIF p_kind = 'feeders' THEN
        CREATE TEMP TABLE oms_import_checked AS
        WITH s AS MATERIALIZED (
            SELECT x.line, nullif(btrim(x.feeder_id), '') AS key, nullif(btrim(x.name), '') AS name,
                   x.lat AS lat_text, x.lng AS lng_text, oms_import_number(x.lat) AS lat, oms_import_number(x.lng) AS lng,
                   nullif(btrim(x.substation_id), '') AS substation_code
              FROM oms_import_feeders x
        )
        SELECT s.line, s.key, s.name, s.lat, s.lng, sub.id AS parent_id,
               coalesce(p.field, CASE WHEN sub.id IS NULL THEN 'substation_id' END) AS field,
               coalesce(p.reason, CASE WHEN s.substation_code IS NULL THEN 'is required'
                                       WHEN sub.id IS NULL THEN format('no substation "%s"', s.substation_code) END) AS reason,
               min(s.line) OVER (PARTITION BY s.key) AS first_line
          FROM s LEFT JOIN LATERAL (SELECT * FROM oms_import_coordinate_problem(s.lat_text, s.lng_text, s.lat, s.lng)
                                  WHERE oms_import_coordinates_suspect(s.lat, s.lng)) p ON true
          LEFT JOIN network_substations sub ON sub.substation_id = s.substation_code;
    ELSIF p_kind = 'distribution_points' THEN
        CREATE TEMP TABLE oms_import_checked AS
        WITH s AS MATERIALIZED (
            SELECT x.line, nullif(btrim(x.dp_id), '') AS key, nullif(btrim(x.name), '') AS name,
                   x.lat AS lat_text, x.lng AS lng_text, oms_import_number(x.lat) AS lat, oms_import_number(x.lng) AS lng,
                   nullif(btrim(x.feeder_id), '') AS feeder_code
              FROM oms_import_distribution_points x
        )
        SELECT s.line, s.key, s.name, s.lat, s.lng, f.id AS parent_id,
               coalesce(p.field, CASE WHEN f.id IS NULL THEN 'feeder_id' END) AS field,
               coalesce(p.reason, CASE WHEN s.feeder_code IS NULL THEN 'is required'
                                       WHEN f.id IS NULL THEN format('no feeder "%s"', s.feeder_code) END) AS reason,
               min(s.line) OVER (PARTITION BY s.key) AS first_line
          FROM s LEFT JOIN LATERAL (SELECT * FROM oms_import_coordinate_problem(s.lat_text, s.lng_text, s.lat, s.lng)
                                  WHERE oms_import_coordinates_suspect(s.lat, s.lng)) p ON true
          LEFT JOIN network_feeders f ON f.feeder_id = s.feeder_code;
    ELSIF p_kind = 'customers' THEN
        CREATE TEMP TABLE oms_import_checked AS
        WITH s AS MATERIALIZED (
            SELECT x.line, nullif(btrim(x.customer_id), '') AS key, nullif(btrim(x.name), '') AS name,
                   nullif(btrim(x.phone), '') AS phone, nullif(btrim(x.address), '') AS address,
                   x.lat AS lat_text, x.lng AS lng_text, oms_import_number(x.lat) AS lat, oms_import_number(x.lng) AS lng,
                   nullif(btrim(x.dp_id), '') AS dp_code
              FROM oms_import_customers x
        )
        SELECT s.line, s.key, s.name, s.phone, s.address, s.lat, s.lng, dp.id AS parent_id,
               coalesce(p.field, CASE WHEN s.dp_code IS NOT NULL AND dp.id IS NULL THEN 'dp_id' END) AS field,
               coalesce(p.reason, CASE WHEN s.dp_code IS NOT NULL AND dp.id IS NULL
                                       THEN format('no distribution point "%s"', s.dp_code) END) AS reason,
               min(s.line) OVER (PARTITION BY s.key) AS first_line
          FROM s LEFT JOIN LATERAL (SELECT * FROM oms_import_coordinate_problem(s.lat_text, s.lng_text, s.lat, s.lng)
                                  WHERE oms_import_coordinates_suspect(s.lat, s.lng)) p ON true
          LEFT JOIN network_distribution_points dp ON dp.dp_id = s.dp_code;
    ELSIF p_kind = 'meters' THEN
        CREATE TEMP TABLE oms_import_checked AS
        WITH s AS MATERIALIZED (
            SELECT x.line, nullif(btrim(x.meter_number), '') AS key,
                   nullif(btrim(x.customer_id), '') AS customer_code, nullif(btrim(x.dp_id), '') AS dp_code,
                   nullif(btrim(x.feeder_id), '') AS feeder_code, nullif(btrim(x.substation_id), '') AS substation_code,
                   x.lat AS lat_text, x.lng AS lng_text, oms_import_number(x.lat) AS lat, oms_import_number(x.lng) AS lng,
                   nullif(btrim(x.asset_mrid), '') AS asset_mrid, nullif(btrim(x.usage_point_mrid), '') AS usage_point_mrid,
                   nullif(btrim(x.onu_id), '') AS onu_id, upper(nullif(btrim(x.onu_serial_no), '')) AS onu_serial_no,
                   nullif(btrim(x.meter_type), '') AS meter_type
              FROM oms_import_meters x
        ),
        joined AS MATERIALIZED (
            SELECT s.*, c.id AS customer_id, dp.id AS dp_id, f.id AS given_feeder_id, sub.id AS given_substation_id,
                   dp.feeder_id AS dp_feeder_id, dpf.feeder_id AS dp_feeder_code,
                   coalesce(f.substation_id, dpf.substation_id) AS parent_substation_id,
                   other.meter_number AS asset_owner,
                   min(s.line) OVER (PARTITION BY s.asset_mrid) AS asset_first_line,
                   p.field AS coordinate_field, p.reason AS coordinate_reason
              FROM s
              LEFT JOIN LATERAL (SELECT * FROM oms_import_coordinate_problem(s.lat_text, s.lng_text, s.lat, s.lng)
                                  WHERE oms_import_coordinates_suspect(s.lat, s.lng)) p ON true
              LEFT JOIN oms_customers c ON c.customer_id = s.customer_code
              LEFT JOIN network_distribution_points dp ON dp.dp_id = s.dp_code
              LEFT JOIN network_feeders dpf ON dpf.id = dp.feeder_id
              LEFT JOIN network_feeders f ON f.feeder_id = s.feeder_code
              LEFT JOIN network_substations sub ON sub.substation_id = s.substation_code
              LEFT JOIN oms_meters other ON other.asset_mrid = s.asset_mrid AND other.meter_number <> s.key
        ),
        problems AS (
            SELECT j.*,
                   CASE WHEN j.coordinate_field IS NOT NULL THEN ARRAY[j.coordinate_field, j.coordinate_reason]
                        WHEN j.customer_code IS NOT NULL AND j.customer_id IS NULL
                             THEN ARRAY['customer_id', format('no customer "%s"', j.customer_code)]
                        WHEN j.dp_code IS NOT NULL AND j.dp_id IS NULL
                             THEN ARRAY['dp_id', format('no distribution point "%s"', j.dp_code)]
                        WHEN j.feeder_code IS NOT NULL AND j.given_feeder_id IS NULL
                             THEN ARRAY['feeder_id', format('no feeder "%s"', j.feeder_code)]
                        WHEN j.substation_code IS NOT NULL AND j.given_substation_id IS NULL
                             THEN ARRAY['substation_id', format('no substation "%s"', j.substation_code)]
                        WHEN j.given_feeder_id IS NOT NULL AND j.dp_id IS NOT NULL AND j.dp_feeder_id <> j.given_feeder_id
                             THEN ARRAY['feeder_id', format('distribution point %s is on feeder %s, not on %s',
                                                            j.dp_code, j.dp_feeder_code, j.feeder_code)]
                        WHEN j.given_substation_id IS NOT NULL AND j.parent_substation_id <> j.given_substation_id
                             THEN ARRAY['substation_id', format('feeder %s belongs to substation %s, not to %s',
                                 coalesce(j.feeder_code, j.dp_feeder_code),
                                 (SELECT x.substation_id FROM network_substations x WHERE x.id = j.parent_substation_id),
                                 j.substation_code)]
                        WHEN j.onu_serial_no !~ '^[A-Z]{4}[0-9A-F]{8}$'
                             THEN ARRAY['onu_serial_no', format('"%s" is not an ONU serial (4 letters of vendor id and 8 hex digits, e.g. HWTC1A2B3C4D)', j.onu_serial_no)]
                        WHEN j.asset_owner IS NOT NULL
                             THEN ARRAY['asset_mrid', format('asset mRID %s belongs to meter %s', j.asset_mrid, j.asset_owner)]
                        WHEN j.asset_mrid IS NOT NULL AND j.asset_first_line <> j.line
                             THEN ARRAY['asset_mrid', format('asset mRID %s is also on line %s', j.asset_mrid, j.asset_first_line)]
                   END AS problem
              FROM joined j
        )
        SELECT p.line, p.key, p.asset_mrid, p.usage_point_mrid, p.onu_id, p.onu_serial_no, p.meter_type, p.lat, p.lng,
               p.customer_id, p.dp_id,
               -- A DP implies its feeder, a feeder its substation (as the topology trigger derives them).
               coalesce(p.given_feeder_id, p.dp_feeder_id) AS feeder_id,
               coalesce(p.given_substation_id, p.parent_substation_id) AS substation_id,
               p.problem[1] AS field, p.problem[2] AS reason,
               min(p.line) OVER (PARTITION BY p.key) AS first_line
          FROM problems p;
    END IF;

    -- 2. Keys: present, and once per file (later repeats refused naming the first line).
    UPDATE oms_import_checked c
       SET field = (oms_import_columns(p_kind))[1],
           reason = CASE WHEN c.key IS NULL THEN 'is required'
                         ELSE format('%s is also on line %s (one row per key)', c.key, c.first_line) END
     WHERE c.reason IS NULL AND (c.key IS NULL OR c.first_line <> c.line);

    INSERT INTO oms_import_rejects (kind, line, field, reason)
    SELECT p_kind, c.line, c.field, c.reason FROM oms_import_checked c WHERE c.reason IS NOT NULL;
    GET DIAGNOSTICS v_rejected = ROW_COUNT;
    IF v_rejected > 0 THEN
        DELETE FROM oms_import_checked c WHERE c.reason IS NOT NULL;
    END IF;
    ANALYZE oms_import_checked;

    -- 3. Changed rows updated (an empty field keeps the stored value), then new rows inserted.
    IF p_kind = 'substations' THEN
        UPDATE network_substations t
           SET name = coalesce(c.name, t.name), location_lat = coalesce(c.lat, t.location_lat),
               location_lng = coalesce(c.lng, t.location_lng), region_code = coalesce(c.region_code, t.region_code),
               voltage_level = coalesce(c.voltage_level, t.voltage_level)
          FROM oms_import_checked c
         WHERE t.substation_id = c.key
           AND (t.name, t.location_lat, t.location_lng, t.region_code, t.voltage_level)
               IS DISTINCT FROM (coalesce(c.name, t.name), coalesce(c.lat, t.location_lat), coalesce(c.lng, t.location_lng),
                                 coalesce(c.region_code, t.region_code), coalesce(c.voltage_level, t.voltage_level));
        GET DIAGNOSTICS v_updated = ROW_COUNT;
        INSERT INTO network_substations (substation_id, name, location_lat, location_lng, region_code, voltage_level)
        SELECT c.key, c.name, c.lat, c.lng, c.region_code, c.voltage_level FROM oms_import_checked c
         WHERE NOT EXISTS (SELECT 1 FROM network_substations t WHERE t.substation_id = c.key)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
    ELSIF p_kind = 'feeders' THEN
        UPDATE network_feeders t
           SET substation_id = c.parent_id, name = coalesce(c.name, t.name),
               location_lat = coalesce(c.lat, t.location_lat), location_lng = coalesce(c.lng, t.location_lng)
          FROM oms_import_checked c
         WHERE t.feeder_id = c.key
           AND (t.substation_id, t.name, t.location_lat, t.location_lng)
               IS DISTINCT FROM (c.parent_id, coalesce(c.name, t.name), coalesce(c.lat, t.location_lat),
                                 coalesce(c.lng, t.location_lng));
        GET DIAGNOSTICS v_updated = ROW_COUNT;
        INSERT INTO network_feeders (feeder_id, substation_id, name, location_lat, location_lng)
        SELECT c.key, c.parent_id, c.name, c.lat, c.lng FROM oms_import_checked c
         WHERE NOT EXISTS (SELECT 1 FROM network_feeders t WHERE t.feeder_id = c.key)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
    ELSIF p_kind = 'distribution_points' THEN
        UPDATE network_distribution_points t
           SET feeder_id = c.parent_id, name = coalesce(c.name, t.name),
               location_lat = coalesce(c.lat, t.location_lat), location_lng = coalesce(c.lng, t.location_lng)
          FROM oms_import_checked c
         WHERE t.dp_id = c.key
           AND (t.feeder_id, t.name, t.location_lat, t.location_lng)
               IS DISTINCT FROM (c.parent_id, coalesce(c.name, t.name), coalesce(c.lat, t.location_lat),
                                 coalesce(c.lng, t.location_lng));
        GET DIAGNOSTICS v_updated = ROW_COUNT;
        INSERT INTO network_distribution_points (dp_id, feeder_id, name, location_lat, location_lng)
        SELECT c.key, c.parent_id, c.name, c.lat, c.lng FROM oms_import_checked c
         WHERE NOT EXISTS (SELECT 1 FROM network_distribution_points t WHERE t.dp_id = c.key)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
    ELSIF p_kind = 'customers' THEN
        UPDATE oms_customers t
           SET name = coalesce(c.name, t.name), phone = coalesce(c.phone, t.phone), address = coalesce(c.address, t.address),
               location_lat = coalesce(c.lat, t.location_lat), location_lng = coalesce(c.lng, t.location_lng),
               dp_id = coalesce(c.parent_id, t.dp_id)
          FROM oms_import_checked c
         WHERE t.customer_id = c.key
           AND (t.name, t.phone, t.address, t.location_lat, t.location_lng, t.dp_id)
               IS DISTINCT FROM (coalesce(c.name, t.name), coalesce(c.phone, t.phone), coalesce(c.address, t.address),
                                 coalesce(c.lat, t.location_lat), coalesce(c.lng, t.location_lng),
                                 coalesce(c.parent_id, t.dp_id));
        GET DIAGNOSTICS v_updated = ROW_COUNT;
        INSERT INTO oms_customers (customer_id, name, phone, address, location_lat, location_lng, dp_id)
        SELECT c.key, c.name, c.phone, c.address, c.lat, c.lng, c.parent_id FROM oms_import_checked c
         WHERE NOT EXISTS (SELECT 1 FROM oms_customers t WHERE t.customer_id = c.key)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
    ELSIF p_kind = 'meters' THEN
        -- Topology moves as a whole when the file gives any of it (substation_id is then known).
        UPDATE oms_meters t
           SET meter_type = coalesce(c.meter_type, t.meter_type), customer_id = coalesce(c.customer_id, t.customer_id),
               substation_id = coalesce(c.substation_id, t.substation_id),
               feeder_id = CASE WHEN c.substation_id IS NULL THEN t.feeder_id ELSE c.feeder_id END,
               dp_id = CASE WHEN c.substation_id IS NULL THEN t.dp_id ELSE c.dp_id END,
               location_lat = coalesce(c.lat, t.location_lat), location_lng = coalesce(c.lng, t.location_lng),
               asset_mrid = coalesce(c.asset_mrid, t.asset_mrid),
               usage_point_mrid = coalesce(c.usage_point_mrid, t.usage_point_mrid),
               onu_id = coalesce(c.onu_id, t.onu_id), onu_serial_no = coalesce(c.onu_serial_no, t.onu_serial_no)
          FROM oms_import_checked c
         WHERE t.meter_number = c.key
           AND (t.meter_type, t.customer_id, t.substation_id, t.feeder_id, t.dp_id, t.location_lat, t.location_lng,
                t.asset_mrid, t.usage_point_mrid, t.onu_id, t.onu_serial_no)
               IS DISTINCT FROM (coalesce(c.meter_type, t.meter_type), coalesce(c.customer_id, t.customer_id),
                                 coalesce(c.substation_id, t.substation_id),
                                 CASE WHEN c.substation_id IS NULL THEN t.feeder_id ELSE c.feeder_id END,
                                 CASE WHEN c.substation_id IS NULL THEN t.dp_id ELSE c.dp_id END,
                                 coalesce(c.lat, t.location_lat), coalesce(c.lng, t.location_lng),
                                 coalesce(c.asset_mrid, t.asset_mrid), coalesce(c.usage_point_mrid, t.usage_point_mrid),
                                 coalesce(c.onu_id, t.onu_id), coalesce(c.onu_serial_no, t.onu_serial_no));
        GET DIAGNOSTICS v_updated = ROW_COUNT;
        INSERT INTO oms_meters (meter_number, meter_type, customer_id, substation_id, feeder_id, dp_id,
                                location_lat, location_lng, asset_mrid, usage_point_mrid, onu_id, onu_serial_no)
        SELECT c.key, c.meter_type, c.customer_id, c.substation_id, c.feeder_id, c.dp_id, c.lat, c.lng,
               c.asset_mrid, c.usage_point_mrid, c.onu_id, c.onu_serial_no
          FROM oms_import_checked c
         WHERE NOT EXISTS (SELECT 1 FROM oms_meters t WHERE t.meter_number = c.key)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
    END IF;
    DROP TABLE oms_import_checked;

    RETURN QUERY SELECT p_kind, v_read, v_inserted, v_updated, v_read - v_rejected - v_inserted - v_updated, v_rejected;
END;
$$;
COMMENT ON FUNCTION oms_import_apply_rows(text) IS
    'The checks and upserts of an import; oms_import_apply() calls it, inside a bulk load for an initial load.';

-- ---------------------------------------------------------------------------
-- Initial load (see the header).

-- Whether a table has no rows (a look at its first row, whatever its size).
CREATE OR REPLACE FUNCTION oms_table_is_empty(p_table regclass) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_empty boolean;
BEGIN
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', p_table) INTO v_empty;
    RETURN v_empty;
END;
$$;
COMMENT ON FUNCTION oms_table_is_empty(regclass) IS
    'Whether a table has no rows.';

-- Drops, after saving their definitions in pg_temp.oms_bulk_load_saved (for
-- oms_bulk_load_end()):
--   * the tables' foreign keys, and the foreign keys of empty tables that
--     reference them (e.g. the feed tables' meter_id before any meter exists;
--     a referencing table with rows keeps its key: re-checking it would scan
--     that table);
--   * the tables' indexes that back no constraint;
--   * the tables' primary keys that no remaining foreign key references and
--     no view depends on.
-- Unique constraints stay. Returns how many objects were dropped.
CREATE OR REPLACE FUNCTION oms_bulk_load_begin(p_tables regclass[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_object record;
    v_count  integer := 0;
BEGIN
    IF to_regclass('pg_temp.oms_bulk_load_saved') IS NOT NULL THEN
        RAISE EXCEPTION 'a bulk load is already under way in this session: call oms_bulk_load_end() first'
            USING ERRCODE = 'object_in_use';
    END IF;
    CREATE TEMP TABLE oms_bulk_load_saved (
        position    integer NOT NULL,   -- re-created in this order: indexes (1), primary keys (2), foreign keys (3)
        table_name  regclass NOT NULL,
        name        text NOT NULL,
        drop_ddl    text NOT NULL,
        create_ddl  text NOT NULL
    ) ON COMMIT DROP;

    INSERT INTO oms_bulk_load_saved (position, table_name, name, drop_ddl, create_ddl)
    SELECT 3, k.conrelid::regclass, k.conname,
           format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
      FROM pg_constraint k
     WHERE k.contype = 'f'
       -- A partitioned table's key, not its partitions' copies (they go and come with it).
       AND k.conparentid = 0
       AND (k.conrelid = ANY (p_tables)
            OR (k.confrelid = ANY (p_tables) AND oms_table_is_empty(k.conrelid)));

    INSERT INTO oms_bulk_load_saved (position, table_name, name, drop_ddl, create_ddl)
    SELECT 1, i.indrelid::regclass, c.relname,
           format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = ANY (p_tables)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    UNION ALL
    SELECT 2, k.conrelid::regclass, k.conname,
           format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
      FROM pg_constraint k
     WHERE k.contype = 'p' AND k.conrelid = ANY (p_tables)
       -- A view that groups by the key depends on it (network_substations_with_meters).
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.refclassid = 'pg_constraint'::regclass AND d.refobjid = k.oid AND d.deptype = 'n')
       AND NOT EXISTS (SELECT 1 FROM pg_constraint r
                        WHERE r.contype = 'f' AND r.confrelid = k.conrelid AND r.conparentid = 0
                          AND NOT EXISTS (SELECT 1 FROM oms_bulk_load_saved s
                                           WHERE s.position = 3 AND s.table_name = r.conrelid::regclass
                                             AND s.name = r.conname));

    -- Foreign keys first (they depend on the primary keys), then the rest.
    FOR v_object IN SELECT * FROM oms_bulk_load_saved ORDER BY position DESC, name LOOP
        EXECUTE v_object.drop_ddl;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION oms_bulk_load_begin(regclass[]) IS
    'For loading empty tables: drops their foreign keys (and empty tables'' keys referencing them), indexes backing no constraint, and unreferenced primary keys, saving their definitions for oms_bulk_load_end(). Call inside a transaction.';

-- Re-creates what oms_bulk_load_begin() dropped (indexes, then primary keys,
-- then foreign keys, which check every row now present), and ANALYZEs the
-- tables. Returns how many objects were re-created.
CREATE OR REPLACE FUNCTION oms_bulk_load_end() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_object record;
    v_table  regclass;
    v_count  integer := 0;
BEGIN
    IF to_regclass('pg_temp.oms_bulk_load_saved') IS NULL THEN
        RAISE EXCEPTION 'no bulk load is under way in this session: call oms_bulk_load_begin() first'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR v_object IN SELECT * FROM oms_bulk_load_saved ORDER BY position, name LOOP
        EXECUTE v_object.create_ddl;
        v_count := v_count + 1;
    END LOOP;
    FOR v_table IN SELECT DISTINCT table_name FROM oms_bulk_load_saved LOOP
        EXECUTE format('ANALYZE %s', v_table);
    END LOOP;
    DROP TABLE pg_temp.oms_bulk_load_saved;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION oms_bulk_load_end() IS
    'Re-creates the indexes and constraints oms_bulk_load_begin() dropped (foreign keys are checked against every row) and analyzes the tables.';

-- The import of one staged file (`oms import`, psql): oms_import_apply_rows(),
-- inside a bulk load when the kind's table is empty and the file large enough.
CREATE OR REPLACE FUNCTION oms_import_apply(p_kind text)
RETURNS TABLE (kind text, rows_read bigint, inserted bigint, updated bigint, unchanged bigint, rejected bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_tables   regclass[] := oms_import_tables(p_kind);
    v_min_rows bigint := coalesce((oms_setting('import.bulk_load_min_rows') #>> '{}')::bigint, 0);
    v_empty    boolean;
    v_staged   bigint;
    v_nestloop text;
BEGIN
    IF v_tables IS NULL THEN
        -- Unknown kind: oms_import_apply_rows() refuses it, naming the kinds.
        RETURN QUERY SELECT * FROM oms_import_apply_rows(p_kind);
        RETURN;
    END IF;
    IF v_min_rows > 0 AND to_regclass(format('pg_temp.oms_import_%s', p_kind)) IS NOT NULL THEN
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', v_tables[1]) INTO v_empty;
        IF v_empty THEN
            EXECUTE format('SELECT count(*) FROM pg_temp.%I', 'oms_import_' || p_kind) INTO v_staged;
        END IF;
    END IF;
    IF v_empty AND v_staged >= v_min_rows THEN
        PERFORM oms_bulk_load_begin(v_tables);
        -- The upserts look for each row's key in the target (NOT EXISTS). The
        -- planner, seeing an empty table, would read it with a nested loop,
        -- and each probe would then pass over every row this same INSERT has
        -- already added (invisible to it, but read): quadratic. Hash joins only.
        v_nestloop := current_setting('enable_nestloop');
        PERFORM set_config('enable_nestloop', 'off', true);
        RETURN QUERY SELECT * FROM oms_import_apply_rows(p_kind);
        PERFORM set_config('enable_nestloop', v_nestloop, true);
        PERFORM oms_bulk_load_end();
    ELSE
        RETURN QUERY SELECT * FROM oms_import_apply_rows(p_kind);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_import_apply(text) IS
    'Checks the rows staged in pg_temp.oms_import_<kind> and upserts the good ones by business key; refused rows go to pg_temp.oms_import_rejects. Into an empty table (import.bulk_load_min_rows rows or more), indexes and foreign keys are built once, after the rows.';
