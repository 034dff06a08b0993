-- 0106 The audit trail by month (issue 17, item 9; the seed's "Optimization Tips" 1 and 3:
-- "Archive oms_meter_status_events older than 6 months", "Partition oms_meter_status_events by
-- month if > 1M rows/month").
--
-- oms_meter_status_events becomes a table partitioned by the month a row was written
-- (created_at), one partition per month (oms_meter_status_events_yYYYYmMM), plus a default
-- partition that only catches a row whose month has no partition yet (oms_audit_partitions_ensure
-- creates the coming months ahead; `oms serve` and `oms migrate` call it). Why created_at and not
-- event_timestamp: a row is always written in the current month, whatever time its event
-- claims (feeds deliver late and out of order), so a month once past never gets new rows and
-- can be archived and dropped whole (`oms archive`), and a late event never needs a partition
-- that was archived. The seed's queries read the table by its name as before; the status
-- history of one meter reads each month's index (meter_id, event_timestamp DESC) and merges.
--
-- The primary key becomes (id, created_at): a partitioned table's unique keys include its
-- partition key. Nothing refers to this table's id.
--
-- The rows already there are moved into their months' partitions in this transaction: time
-- proportional to the table (about 10 s per million rows on two cores), once.

ALTER TABLE oms_meter_status_events RENAME TO oms_meter_status_events_unpartitioned;
ALTER INDEX oms_meter_status_events_pkey RENAME TO oms_meter_status_events_unpartitioned_pkey;
ALTER INDEX oms_meter_status_events_meter_time_idx RENAME TO oms_meter_status_events_unpartitioned_meter_time_idx;
ALTER INDEX oms_meter_status_events_time_idx RENAME TO oms_meter_status_events_unpartitioned_time_idx;
ALTER INDEX oms_meter_status_events_source_idx RENAME TO oms_meter_status_events_unpartitioned_source_idx;
DROP TRIGGER IF EXISTS oms_meter_status_events_notify ON oms_meter_status_events_unpartitioned;

-- The same columns, defaults, checks and column comments; the key with the month; the meter's foreign key.
CREATE TABLE oms_meter_status_events (
    LIKE oms_meter_status_events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS,
    CONSTRAINT oms_meter_status_events_pkey PRIMARY KEY (id, created_at),
    FOREIGN KEY (meter_id) REFERENCES oms_meters (id) ON DELETE CASCADE
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE oms_meter_status_events IS
    'Audit trail of every meter status change from every source (insert-only), partitioned by the month the row was written (created_at): oms_meter_status_events_yYYYYmMM; oms archive writes past months to files and drops them.';
COMMENT ON COLUMN oms_meter_status_events.created_at IS
    'When the row was written: the partition key (a month per partition).';

CREATE INDEX oms_meter_status_events_meter_time_idx ON oms_meter_status_events (meter_id, event_timestamp DESC);
CREATE INDEX oms_meter_status_events_time_idx       ON oms_meter_status_events (event_timestamp DESC);
CREATE INDEX oms_meter_status_events_source_idx     ON oms_meter_status_events (source_type, source_event_id);

-- Rows of a month without a partition (none, while partitions are made ahead).
CREATE TABLE oms_meter_status_events_default PARTITION OF oms_meter_status_events DEFAULT;

-- A partition for each month the old rows were written in, and for this month and the next three.
-- Months are UTC months, whatever the session's time zone.
DO $$
DECLARE
    v_month timestamp;
BEGIN
    FOR v_month IN
        SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') FROM oms_meter_status_events_unpartitioned
        UNION
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => n) FROM generate_series(0, 3) n
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF oms_meter_status_events FOR VALUES FROM (%L) TO (%L)',
                       'oms_meter_status_events_' || to_char(v_month, '"y"YYYY"m"MM'),
                       v_month AT TIME ZONE 'UTC', (v_month + interval '1 month') AT TIME ZONE 'UTC');
    END LOOP;
END;
$$;

INSERT INTO oms_meter_status_events SELECT * FROM oms_meter_status_events_unpartitioned;
DROP TABLE oms_meter_status_events_unpartitioned;
