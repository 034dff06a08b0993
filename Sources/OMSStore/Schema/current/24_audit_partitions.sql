-- The audit trail's monthly partitions (0106): made ahead, listed, archived and brought back.
--
--   oms_audit_partitions_ensure(months_ahead)   this month's and the next months' partitions
--   oms_audit_partition_create(month)            one month's partition (rows the default partition
--                                                holds for that month move into it)
--   oms_audit_partitions()                       every monthly partition, its month and its rows
--   oms_audit_partition_drop(name, rows)         detaches and drops a partition `oms archive` wrote
--                                                out, if it still holds exactly that many rows
--   oms_audit_partition_expect(name, rows)       fails unless a partition holds that many rows (the
--                                                check that ends `oms restore-archive`'s transaction)
--
-- Months are UTC months. `oms serve` ensures the partitions at start and every hour, `oms migrate`
-- after migrating; a row of a month without its partition goes to oms_meter_status_events_default
-- and is moved into the month's partition when it is made.

-- The partition of the month holding p_month (made if missing); its name.
CREATE OR REPLACE FUNCTION oms_audit_partition_create(p_month timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_start  timestamp := date_trunc('month', p_month AT TIME ZONE 'UTC');
    v_from   timestamptz := v_start AT TIME ZONE 'UTC';
    v_to     timestamptz := (v_start + interval '1 month') AT TIME ZONE 'UTC';
    v_name   text := 'oms_meter_status_events_' || to_char(v_start, '"y"YYYY"m"MM');
BEGIN
    IF to_regclass(format('public.%I', v_name)) IS NOT NULL THEN
        RETURN v_name;
    END IF;
    -- A partition cannot be made while the default partition holds rows of its range: they
    -- move out first, and back in through the new partition, in this transaction.
    CREATE TEMPORARY TABLE IF NOT EXISTS oms_audit_moving (LIKE oms_meter_status_events) ON COMMIT DROP;
    WITH moved AS (
        DELETE FROM oms_meter_status_events_default WHERE created_at >= v_from AND created_at < v_to RETURNING *
    )
    INSERT INTO oms_audit_moving SELECT * FROM moved;
    EXECUTE format('CREATE TABLE %I PARTITION OF oms_meter_status_events FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
    INSERT INTO oms_meter_status_events SELECT * FROM oms_audit_moving WHERE created_at >= v_from AND created_at < v_to;
    DELETE FROM oms_audit_moving WHERE created_at >= v_from AND created_at < v_to;
    RETURN v_name;
END;
$$;
COMMENT ON FUNCTION oms_audit_partition_create(timestamptz) IS
    'Makes the audit trail''s partition of the (UTC) month holding p_month unless it exists, moving in rows the default partition holds for that month; its name.';

-- This month's partition and the next p_months_ahead months'; how many were made.
CREATE OR REPLACE FUNCTION oms_audit_partitions_ensure(p_months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_made  integer := 0;
    v_month timestamptz;
BEGIN
    IF p_months_ahead IS NULL OR p_months_ahead NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'months ahead must be 0 to 120, not %', p_months_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_month IN SELECT now() + make_interval(months => n) FROM generate_series(0, p_months_ahead) n LOOP
        IF to_regclass(format('public.%I', 'oms_meter_status_events_'
                              || to_char(v_month AT TIME ZONE 'UTC', '"y"YYYY"m"MM'))) IS NULL THEN
            PERFORM oms_audit_partition_create(v_month);
            v_made := v_made + 1;
        END IF;
    END LOOP;
    RETURN v_made;
END;
$$;
COMMENT ON FUNCTION oms_audit_partitions_ensure(integer) IS
    'Makes the audit trail''s partitions of this (UTC) month and the next p_months_ahead months that are missing; how many it made.';

-- Every monthly partition of the audit trail (not the default one), oldest first, with its rows.
CREATE OR REPLACE FUNCTION oms_audit_partitions()
RETURNS TABLE (partition_name text, month_start timestamptz, month_end timestamptz, row_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_partition record;
BEGIN
    FOR v_partition IN
        SELECT c.relname::text AS name,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)')) AS bounds
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'oms_meter_status_events'::regclass
         ORDER BY c.relname
    LOOP
        CONTINUE WHEN v_partition.bounds IS NULL;  -- the default partition
        partition_name := v_partition.name;
        month_start := v_partition.bounds[1]::timestamptz;
        month_end := v_partition.bounds[2]::timestamptz;
        EXECUTE format('SELECT count(*) FROM %I', v_partition.name) INTO row_count;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION oms_audit_partitions() IS
    'The audit trail''s monthly partitions (not the default one): name, the month''s start and end, rows (counted).';

-- Detaches and drops one monthly partition, if it holds exactly p_rows rows (what `oms archive`
-- wrote out): rows written since are never dropped unseen.
CREATE OR REPLACE FUNCTION oms_audit_partition_drop(p_name text, p_rows bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM oms_audit_partitions() p WHERE p.partition_name = p_name) THEN
        RAISE EXCEPTION 'no monthly partition of the audit trail is named "%"', p_name
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'partition';
    END IF;
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p_name);
    EXECUTE format('SELECT count(*) FROM %I', p_name) INTO v_rows;
    IF v_rows <> p_rows THEN
        RAISE EXCEPTION 'partition "%" holds % rows, not the % written out: nothing dropped', p_name, v_rows, p_rows
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'rows';
    END IF;
    EXECUTE format('ALTER TABLE oms_meter_status_events DETACH PARTITION %I', p_name);
    EXECUTE format('DROP TABLE %I', p_name);
END;
$$;
COMMENT ON FUNCTION oms_audit_partition_drop(text, bigint) IS
    'Detaches and drops a monthly partition of the audit trail if it holds exactly p_rows rows (what oms archive wrote out).';

-- Fails (22023, naming both counts) unless the partition holds exactly p_rows rows: the last
-- statement of `oms restore-archive`'s transaction, so that a file that loads fewer or more rows
-- than its manifest says loads nothing.
CREATE OR REPLACE FUNCTION oms_audit_partition_expect(p_name text, p_rows bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I', p_name) INTO v_rows;
    IF v_rows <> p_rows THEN
        RAISE EXCEPTION 'partition "%" holds % rows after the restore, not the % archived: nothing restored', p_name, v_rows, p_rows
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'rows';
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_audit_partition_expect(text, bigint) IS
    'Fails unless the partition holds exactly p_rows rows (the check that ends oms restore-archive''s transaction).';
