-- The tables kept by month (0106, 0107): partitions made ahead, listed, archived and brought back.
--
--   oms_monthly_tables()                           the tables kept by month and their partition key:
--                                                  oms_meter_status_events (created_at, the month a row
--                                                  was written), kaifa_events and onu_events
--                                                  (event_timestamp, the month of the event)
--   oms_partitions_ensure(months_ahead)            this month's and the next months' partitions of each
--   oms_partition_create(table, month)             one month's partition (rows the default partition
--                                                  holds for that month move into it)
--   oms_partitions(table)                          a table's monthly partitions, oldest first
--   oms_partition_drop(table, name, rows)          detaches and drops a partition `oms archive` wrote
--                                                  out, if it still holds exactly that many rows
--   oms_partition_restored(table, name, rows)      fails unless a partition holds that many rows, and
--                                                  registers its event ids (the statement that ends
--                                                  `oms restore-archive`'s transaction)
--
-- And the event ids of the AMI and ONU feeds (oms_feed_event_ids, 0107), one row per id whatever
-- the month of its event, kept by statement triggers on kaifa_events and onu_events.
--
-- Partitions are named <table>_yYYYYmMM; months are UTC months. `oms serve` ensures the partitions
-- at start and every hour, `oms migrate` after migrating; a row of a month without its partition
-- goes to <table>_default and is moved into the month's partition when it is made.

-- The tables kept by month, in archive order, and the column each is partitioned on.
CREATE OR REPLACE FUNCTION oms_monthly_tables()
RETURNS TABLE (table_name text, partition_key text)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text, a.attname::text
      FROM unnest(ARRAY['oms_meter_status_events', 'kaifa_events', 'onu_events']) WITH ORDINALITY AS t(name, position)
      JOIN pg_class c ON c.oid = to_regclass(format('public.%I', t.name))
      JOIN pg_partitioned_table p ON p.partrelid = c.oid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
     ORDER BY t.position
$$;
COMMENT ON FUNCTION oms_monthly_tables() IS
    'The tables kept by month (a partition per UTC month) and the column each is partitioned on.';

-- The partition key of a table kept by month; refuses any other table (22023).
CREATE OR REPLACE FUNCTION oms_monthly_table_key(p_table text)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_key text := (SELECT t.partition_key FROM oms_monthly_tables() t WHERE t.table_name = p_table);
BEGIN
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'table "%" is not kept by month (the tables are: %)', p_table,
            (SELECT string_agg(t.table_name, ', ') FROM oms_monthly_tables() t)
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'table';
    END IF;
    RETURN v_key;
END;
$$;
COMMENT ON FUNCTION oms_monthly_table_key(text) IS
    'The partition key of a table kept by month; refuses any other table (SQLSTATE 22023).';

-- The partition of p_table for the month holding p_month (made if missing); its name.
CREATE OR REPLACE FUNCTION oms_partition_create(p_table text, p_month timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_key    text := oms_monthly_table_key(p_table);
    v_start  timestamp := date_trunc('month', p_month AT TIME ZONE 'UTC');
    v_from   timestamptz := v_start AT TIME ZONE 'UTC';
    v_to     timestamptz := (v_start + interval '1 month') AT TIME ZONE 'UTC';
    v_name   text := p_table || '_' || to_char(v_start, '"y"YYYY"m"MM');
    v_moving text := 'oms_partition_moving_' || p_table;
BEGIN
    IF to_regclass(format('public.%I', v_name)) IS NOT NULL THEN
        RETURN v_name;
    END IF;
    -- A partition cannot be made while the default partition holds rows of its range: they
    -- move out first, and into the new partition, in this transaction.
    EXECUTE format('CREATE TEMPORARY TABLE IF NOT EXISTS %I (LIKE %I) ON COMMIT DROP', v_moving, p_table);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                   p_table || '_default', v_key, v_key, v_moving) USING v_from, v_to;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', v_name, p_table, v_from, v_to);
    -- Into the partition itself: the rows are not new (the parent's statement triggers, which
    -- register the feeds' event ids, must not see them again).
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', v_name, v_moving);
    EXECUTE format('TRUNCATE %I', v_moving);
    RETURN v_name;
END;
$$;
COMMENT ON FUNCTION oms_partition_create(text, timestamptz) IS
    'Makes the partition of a table kept by month for the (UTC) month holding p_month unless it exists, moving in rows the default partition holds for that month; its name.';

-- This month's partition and the next p_months_ahead months' of every table kept by month;
-- how many were made.
CREATE OR REPLACE FUNCTION oms_partitions_ensure(p_months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_made  integer := 0;
    v_table text;
    v_month timestamptz;
BEGIN
    IF p_months_ahead IS NULL OR p_months_ahead NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'months ahead must be 0 to 120, not %', p_months_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_table IN SELECT t.table_name FROM oms_monthly_tables() t LOOP
        FOR v_month IN SELECT now() + make_interval(months => n) FROM generate_series(0, p_months_ahead) n LOOP
            IF to_regclass(format('public.%I', v_table || '_' || to_char(v_month AT TIME ZONE 'UTC', '"y"YYYY"m"MM'))) IS NULL THEN
                PERFORM oms_partition_create(v_table, v_month);
                v_made := v_made + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN v_made;
END;
$$;
COMMENT ON FUNCTION oms_partitions_ensure(integer) IS
    'Makes the missing partitions of this (UTC) month and the next p_months_ahead months of every table kept by month; how many it made.';

-- The monthly partitions of p_table (not the default one), oldest first. Rows are not counted
-- (a count reads the whole partition): pg_class's estimate is given.
CREATE OR REPLACE FUNCTION oms_partitions(p_table text)
RETURNS TABLE (partition_name text, month_start timestamptz, month_end timestamptz, estimated_rows bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM oms_monthly_table_key(p_table);
    RETURN QUERY
        SELECT c.relname::text, b.bounds[1]::timestamptz, b.bounds[2]::timestamptz, greatest(c.reltuples, 0)::bigint
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid,
               LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS bounds) b
         WHERE i.inhparent = to_regclass(format('public.%I', p_table)) AND b.bounds IS NOT NULL
         ORDER BY 2;
END;
$$;
COMMENT ON FUNCTION oms_partitions(text) IS
    'The monthly partitions of a table kept by month (not the default one): name, the month''s start and end, pg_class''s estimate of its rows.';

-- Detaches and drops one monthly partition of p_table, if it holds exactly p_rows rows (what
-- `oms archive` wrote out): rows written since are never dropped unseen.
CREATE OR REPLACE FUNCTION oms_partition_drop(p_table text, p_name text, p_rows bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    PERFORM oms_monthly_table_key(p_table);
    IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = to_regclass(format('public.%I', p_table)) AND c.relname = p_name
                      AND p_name <> p_table || '_default') THEN
        RAISE EXCEPTION 'no monthly partition of % is named "%"', p_table, p_name
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'partition';
    END IF;
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p_name);
    EXECUTE format('SELECT count(*) FROM %I', p_name) INTO v_rows;
    IF v_rows <> p_rows THEN
        RAISE EXCEPTION 'partition "%" holds % rows, not the % written out: nothing dropped', p_name, v_rows, p_rows
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'rows';
    END IF;
    PERFORM oms_feed_event_ids_forget(p_table, p_name);
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', p_table, p_name);
    EXECUTE format('DROP TABLE %I', p_name);
END;
$$;
COMMENT ON FUNCTION oms_partition_drop(text, text, bigint) IS
    'Detaches and drops a monthly partition of a table kept by month if it holds exactly p_rows rows (what oms archive wrote out).';

-- Fails (22023, naming both counts) unless the partition holds exactly p_rows rows, then
-- registers the event ids of its rows (a restored month of kaifa_events or onu_events; an id
-- stored again since it was archived fails, 23505): the last statement of `oms restore-archive`'s
-- transaction, so that a file that loads fewer or more rows than its manifest says loads nothing.
CREATE OR REPLACE FUNCTION oms_partition_restored(p_table text, p_name text, p_rows bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
    v_feed text := oms_feed_of(p_table);
BEGIN
    PERFORM oms_monthly_table_key(p_table);
    EXECUTE format('SELECT count(*) FROM %I', p_name) INTO v_rows;
    IF v_rows <> p_rows THEN
        RAISE EXCEPTION 'partition "%" holds % rows after the restore, not the % archived: nothing restored', p_name, v_rows, p_rows
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'rows';
    END IF;
    IF v_feed IS NOT NULL THEN
        EXECUTE format('INSERT INTO oms_feed_event_ids (feed, source_event_id, event_id, event_timestamp)
                        SELECT %L, source_event_id, id, event_timestamp FROM %I WHERE source_event_id IS NOT NULL',
                       v_feed, p_name);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_partition_restored(text, text, bigint) IS
    'Fails unless the partition holds exactly p_rows rows, then registers its event ids (the statement that ends oms restore-archive''s transaction).';

-- The feed whose event ids a table's rows carry ('kaifa', 'onu'), or NULL.
CREATE OR REPLACE FUNCTION oms_feed_of(p_table text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_table WHEN 'kaifa_events' THEN 'kaifa' WHEN 'onu_events' THEN 'onu' END
$$;
COMMENT ON FUNCTION oms_feed_of(text) IS 'The feed of oms_feed_event_ids whose ids a table''s rows carry (kaifa, onu), or NULL.';

-- Forgets the event ids of one partition's rows (before it is dropped).
CREATE OR REPLACE FUNCTION oms_feed_event_ids_forget(p_table text, p_name text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_feed text := oms_feed_of(p_table);
BEGIN
    IF v_feed IS NOT NULL THEN
        EXECUTE format('DELETE FROM oms_feed_event_ids k USING %I e
                         WHERE k.feed = %L AND k.source_event_id = e.source_event_id AND k.event_id = e.id',
                       p_name, v_feed);
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_feed_event_ids_forget(text, text) IS
    'Removes the event ids of a partition''s rows from oms_feed_event_ids (before the partition is dropped).';

-- Statement triggers: the ids of the rows an INSERT wrote are registered (a second row with an id
-- already stored fails the statement, 23505 on oms_feed_event_ids_pkey), those of the rows a
-- DELETE removed are forgotten, a TRUNCATE forgets the feed's ids. TG_ARGV[0] is the feed.
CREATE OR REPLACE FUNCTION oms_feed_event_ids_inserted()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oms_feed_event_ids (feed, source_event_id, event_id, event_timestamp)
    SELECT TG_ARGV[0], n.source_event_id, n.id, n.event_timestamp FROM inserted n WHERE n.source_event_id IS NOT NULL;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_feed_event_ids_inserted() IS
    'Statement trigger: registers the event ids of the rows inserted (an id stored already fails the statement).';

CREATE OR REPLACE FUNCTION oms_feed_event_ids_deleted()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM oms_feed_event_ids WHERE feed = TG_ARGV[0];
    ELSE
        DELETE FROM oms_feed_event_ids k USING deleted d
         WHERE k.feed = TG_ARGV[0] AND k.source_event_id = d.source_event_id AND k.event_id = d.id;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_feed_event_ids_deleted() IS
    'Statement trigger: forgets the event ids of the rows deleted (or of the whole feed, on TRUNCATE).';

CREATE OR REPLACE TRIGGER kaifa_events_ids_inserted AFTER INSERT ON kaifa_events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_inserted('kaifa');
CREATE OR REPLACE TRIGGER kaifa_events_ids_deleted AFTER DELETE ON kaifa_events
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_deleted('kaifa');
CREATE OR REPLACE TRIGGER kaifa_events_ids_truncated AFTER TRUNCATE ON kaifa_events
    FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_deleted('kaifa');
CREATE OR REPLACE TRIGGER onu_events_ids_inserted AFTER INSERT ON onu_events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_inserted('onu');
CREATE OR REPLACE TRIGGER onu_events_ids_deleted AFTER DELETE ON onu_events
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_deleted('onu');
CREATE OR REPLACE TRIGGER onu_events_ids_truncated AFTER TRUNCATE ON onu_events
    FOR EACH STATEMENT EXECUTE FUNCTION oms_feed_event_ids_deleted('onu');
