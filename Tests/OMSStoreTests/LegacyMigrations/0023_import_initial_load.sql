-- 0023 Initial load: an import into an empty table builds its indexes and
-- foreign keys once, after the rows, instead of once per row.
--
-- Measured on the 1,000,000-meter benchmark (oms bench import, 2 cores), the
-- INSERT of the meters spent most of its time on per-row upkeep rather than on
-- the rows: four foreign-key checks per meter and three per registry mapping
-- row (two mapping rows per meter, 0004), twelve secondary indexes on
-- oms_meters and random-uuid primary keys on the mapping tables. PostgreSQL's
-- own advice for populating a database ("Populating a Database": remove
-- indexes and foreign-key constraints, load, re-create them) applies exactly
-- when a table starts empty: building an index from 1,000,000 sorted rows
-- costs a fraction of inserting 1,000,000 entries one by one, and re-adding a
-- foreign key checks every row in one join.
--
-- oms_import_apply(kind) now does that by itself when
--   * the kind's table is empty (an initial load: nothing is being served from
--     it yet), and
--   * at least import.bulk_load_min_rows rows are staged (default 10,000; 0
--     turns it off).
-- Then, inside the import's transaction:
--   1. oms_bulk_load_begin(tables) saves the definitions of the tables'
--      foreign keys (and of empty tables' keys that reference them), of their
--      indexes that back no constraint, and of their primary keys once no
--      foreign key references them, and drops them;
--   2. the checks and the upsert run as always (0021);
--   3. oms_bulk_load_end() re-creates the indexes and keys from the saved
--      definitions (the same names and definitions: pg_get_indexdef /
--      pg_get_constraintdef) and ANALYZEs the tables, so the next file's
--      checks plan against real row counts.
-- If anything fails, the transaction rolls back and the dropped objects come
-- back with it: DDL is transactional in PostgreSQL. Other sessions never see a
-- table without its keys: ALTER TABLE and DROP INDEX hold an ACCESS EXCLUSIVE
-- lock on the (empty) table until commit, and a SHARE ROW EXCLUSIVE lock on
-- the tables its foreign keys reference (writes to those wait; reads do not).
-- That is why the path is taken only for an empty table: an import into a
-- registry in service keeps the row-by-row upkeep and blocks nobody.
--
-- Unique constraints stay (they are the ON CONFLICT arbiters of the upserts
-- and of the mapping trigger), and so do the triggers: the topology trigger
-- (0003) and the topology-source trigger (0019) still check every meter.

INSERT INTO oms_settings (key, value, description) VALUES
    ('import.bulk_load_min_rows', '10000',
     'oms_import_apply(): a file of at least this many rows imported into an empty table builds the table''s indexes and foreign keys once, after the rows (0: never).');

-- Which tables an import of each kind writes: its own, and for meters the
-- registry mappings that 0004's trigger fills.
CREATE FUNCTION oms_import_tables(p_kind text) RETURNS regclass[]
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

-- Whether a table has no rows (a look at its first row, whatever its size).
CREATE FUNCTION oms_table_is_empty(p_table regclass) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_empty boolean;
BEGIN
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', p_table) INTO v_empty;
    RETURN v_empty;
END;
$$;

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
CREATE FUNCTION oms_bulk_load_begin(p_tables regclass[]) RETURNS integer
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
                        WHERE r.contype = 'f' AND r.confrelid = k.conrelid
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
CREATE FUNCTION oms_bulk_load_end() RETURNS integer
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

-- Two changes to the checks, found by the same profile:
--   * a file's coordinates were explained row by row: the planner cannot push
--     the cheap oms_import_coordinates_suspect() test below a PL/pgSQL function
--     in LATERAL, so oms_import_coordinate_problem() ran once per row (1,000,000
--     calls). Written in SQL, it is inlined into the check and costs a few
--     comparisons per row; same fields, same reasons.
--   * the checks sort the file by key (a key repeated in the file) and, for
--     meters, by asset mRID: with the default work_mem (4 MB) each sort of
--     1,000,000 rows went to disk. The import function runs with 256 MB (one
--     import session at a time; the setting applies to that function only).
DROP FUNCTION oms_import_coordinate_problem(text, text, double precision, double precision);
CREATE FUNCTION oms_import_coordinate_problem(p_lat_text text, p_lng_text text,
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

-- The 0021 function keeps its checks and upserts under a new name; the new
-- oms_import_apply() wraps it in a bulk load when the table starts empty.
ALTER FUNCTION oms_import_apply(text) RENAME TO oms_import_apply_rows;
ALTER FUNCTION oms_import_apply_rows(text) SET work_mem = '256MB';
COMMENT ON FUNCTION oms_import_apply_rows(text) IS
    'The checks and upserts of an import (0021); oms_import_apply() calls it, inside a bulk load for an initial load.';

CREATE FUNCTION oms_import_apply(p_kind text)
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
