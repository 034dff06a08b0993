-- 0107 The AMI and ONU feeds' events by month (issue 17, item 9; the seed's "Optimization
-- Tips": partition by month, archive what is old).
--
-- kaifa_events and onu_events are the feeds that grow with the network: a storm over a million
-- meters writes a last gasp and a power-up per meter on each. They become tables partitioned by
-- the month of the event's own time (event_timestamp, UTC months), one partition per month
-- (kaifa_events_yYYYYmMM, onu_events_yYYYYmMM) plus a default partition that only catches an
-- event whose month has no partition (made ahead by oms_partitions_ensure; a month archived
-- and dropped, or a clock far off).
--
-- Why the event's time and not the time of writing, as the audit trail (0106): a partitioned
-- table's unique indexes must hold its partition key, and the natural keys that find a repeat
-- of an event without an id end with event_timestamp. A repeat of an event with an id (mRID,
-- eventId) is found by oms_feed_event_ids, one row per event id of either feed, whatever its
-- month: (feed, source_event_id) is its primary key, kept by statement triggers on the two
-- tables (current/24_monthly_partitions.sql) for every writer, psql included, so an id is
-- stored once across all months, as before.
--
-- Not partitioned: scada_events (a few thousand breaker operations a year, and the rows that
-- scada_event_affected_meters and the device history refer to by id) and callcenter_tickets
-- (a ticket is one row per ticketId, whatever times it carries; thousands a storm).
--
-- The primary keys become (id, event_timestamp); nothing refers to these tables' ids. The rows
-- already there move into their months' partitions in this transaction, once. The per-table
-- unique index on source_event_id goes: oms_feed_event_ids holds the ids (one index write per
-- event, as before).

-- Views over the tables are made again by the current files after this file.
DROP VIEW IF EXISTS oms_unmatched_feed_events;
DROP VIEW IF EXISTS oms_registry_duplicates_left;

CREATE FUNCTION pg_temp.oms_partition_by_month(p_table text, p_key text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_old   text := p_table || '_unpartitioned';
    v_index record;
    v_month timestamp;
BEGIN
    EXECUTE format('ALTER TABLE %I RENAME TO %I', p_table, v_old);
    -- The old indexes keep their names for the new table: renamed out of the way.
    FOR v_index IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE i.indrelid = v_old::regclass LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', v_index.relname, 'old_' || v_index.relname);
    END LOOP;
    EXECUTE format(
        'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS,
                          CONSTRAINT %I PRIMARY KEY (id, %I),
                          FOREIGN KEY (meter_id) REFERENCES oms_meters (id) ON DELETE SET NULL,
                          FOREIGN KEY (outage_event_id) REFERENCES oms_outage_events (id) ON DELETE SET NULL)
         PARTITION BY RANGE (%I)', p_table, v_old, p_table || '_pkey', p_key, p_key);
    EXECUTE format('COMMENT ON TABLE %I IS %L', p_table,
                   obj_description(v_old::regclass, 'pg_class')
                   || format(' Partitioned by the (UTC) month of %s: %s_yYYYYmMM; oms archive writes past months to files and drops them.',
                             p_key, p_table));
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_table || '_default', p_table);
    FOR v_month IN
        EXECUTE format('SELECT DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'') FROM %I
                        UNION
                        SELECT date_trunc(''month'', now() AT TIME ZONE ''UTC'') + make_interval(months => n)
                          FROM generate_series(-1, 3) n', p_key, v_old)
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       p_table || '_' || to_char(v_month, '"y"YYYY"m"MM'), p_table,
                       v_month AT TIME ZONE 'UTC', (v_month + interval '1 month') AT TIME ZONE 'UTC');
    END LOOP;
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', p_table, v_old);
    EXECUTE format('DROP TABLE %I', v_old);
END;
$$;

SELECT pg_temp.oms_partition_by_month('kaifa_events', 'event_timestamp');
SELECT pg_temp.oms_partition_by_month('onu_events', 'event_timestamp');

-- Every event id of the AMI and ONU feeds, whatever the month of its event.
CREATE TABLE oms_feed_event_ids (
    feed             text NOT NULL CHECK (feed IN ('kaifa', 'onu')),
    source_event_id  text NOT NULL,
    event_id         uuid NOT NULL,
    event_timestamp  timestamptz NOT NULL,
    PRIMARY KEY (feed, source_event_id)
);
COMMENT ON TABLE oms_feed_event_ids IS
    'The event ids (mRID, eventId) of kaifa_events and onu_events, one row each whatever the event''s month: an id is stored once. Kept by statement triggers on the two tables; (event_id, event_timestamp) is the event''s key.';
INSERT INTO oms_feed_event_ids (feed, source_event_id, event_id, event_timestamp)
SELECT 'kaifa', source_event_id, id, event_timestamp FROM kaifa_events WHERE source_event_id IS NOT NULL
UNION ALL
SELECT 'onu', source_event_id, id, event_timestamp FROM onu_events WHERE source_event_id IS NOT NULL;

-- A repeat of an event without an id: the same identity, type and time.
CREATE UNIQUE INDEX kaifa_events_natural_key ON kaifa_events
    (coalesce(asset_mrid, ''), coalesce(usage_point_mrid, ''), coalesce(meter_number, ''), event_type_code, event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX kaifa_events_asset_mrid_idx       ON kaifa_events (asset_mrid);
CREATE INDEX kaifa_events_usage_point_mrid_idx ON kaifa_events (usage_point_mrid);
CREATE INDEX kaifa_events_time_idx    ON kaifa_events (event_timestamp DESC);
CREATE INDEX kaifa_events_meter_idx   ON kaifa_events (meter_id);
CREATE INDEX kaifa_events_outage_idx  ON kaifa_events (outage_event_id);
CREATE INDEX kaifa_events_meaning_idx ON kaifa_events (event_meaning, event_timestamp DESC);
CREATE INDEX kaifa_events_unmatched_idx ON kaifa_events (event_timestamp DESC) WHERE match_status = 'unmatched';

CREATE UNIQUE INDEX onu_events_natural_key ON onu_events
    (coalesce(onu_id, ''), coalesce(onu_serial, ''), event_type, coalesce(alarm_name, ''), event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX onu_events_onu_id_idx     ON onu_events (onu_id);
CREATE INDEX onu_events_onu_serial_idx ON onu_events (onu_serial);
CREATE INDEX onu_events_time_idx       ON onu_events (event_timestamp DESC);
CREATE INDEX onu_events_meter_idx      ON onu_events (meter_id);
CREATE INDEX onu_events_outage_idx     ON onu_events (outage_event_id);
CREATE INDEX onu_events_unmatched_idx  ON onu_events (event_timestamp DESC) WHERE match_status = 'unmatched';

-- The audit trail's partition functions of 0106 become those of every table kept by month
-- (current/24_monthly_partitions.sql: oms_partition_create(table, month), oms_partitions_ensure(),
-- oms_partitions(table), oms_partition_drop(table, name, rows), oms_partition_restored(table, name, rows)).
DROP FUNCTION IF EXISTS oms_audit_partition_create(timestamptz);
DROP FUNCTION IF EXISTS oms_audit_partitions_ensure(integer);
DROP FUNCTION IF EXISTS oms_audit_partitions();
DROP FUNCTION IF EXISTS oms_audit_partition_drop(text, bigint);
DROP FUNCTION IF EXISTS oms_audit_partition_expect(text, bigint);
