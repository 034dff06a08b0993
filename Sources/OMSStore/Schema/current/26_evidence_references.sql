-- What the foreign keys dropped by versioned/0118 did when a meter or an outage is deleted, done
-- once per statement instead of checked once per row written.
--
-- The evidence rows (a meter's status audit, an outage's meters, evidence and timeline, a feed
-- event's outage) are written only by this schema's functions, with ids taken from rows the same
-- statement read, locked or wrote; a foreign key checked each of them again (five checks per last
-- gasp). Deleting a meter or an outage is rare (the service never deletes a meter: it goes
-- inactive), so the cascade the keys declared is done here, set-based, from the deleted rows:
--
--   a meter deleted     its audit rows and its rows in outages deleted   (was ON DELETE CASCADE)
--   an outage deleted   its meters, evidence and timeline deleted        (was ON DELETE CASCADE)
--                       AMI and ONU events that named it name none       (was ON DELETE SET NULL)
--   TRUNCATE of either  the same for every row (TRUNCATE ... CASCADE no longer reaches the AMI
--                       and ONU events through an outage: their outage ids are cleared instead)
--
-- oms_validation_report() checks that every such reference still resolves ("evidence references
-- resolve"), for rows written by hand.

-- Truncates those of the tables that hold rows. A table the same TRUNCATE statement named is
-- empty by the time its AFTER TRUNCATE triggers run, and truncating it again from a trigger is
-- refused ("being used by active queries in this session"), so it is skipped.
CREATE OR REPLACE FUNCTION oms_truncate_unless_empty(p_tables regclass[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_table   regclass;
    v_holding regclass[] := ARRAY[]::regclass[];
    v_rows    boolean;
BEGIN
    FOREACH v_table IN ARRAY p_tables LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', v_table) INTO v_rows;
        IF v_rows THEN
            v_holding := v_holding || v_table;
        END IF;
    END LOOP;
    IF cardinality(v_holding) > 0 THEN
        EXECUTE 'TRUNCATE ' || array_to_string(v_holding::text[], ', ');
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_truncate_unless_empty(regclass[]) IS
    'TRUNCATE of those of the tables that hold rows (a trigger''s cascade: the tables its statement truncated are skipped).';

CREATE OR REPLACE FUNCTION oms_meters_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM oms_meter_status_events e USING deleted_meters d WHERE e.meter_id = d.id;
    DELETE FROM oms_outage_meters om USING deleted_meters d WHERE om.meter_id = d.id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_meters_deleted() IS
    'Statement trigger: deletes the audit rows and outage rows of the meters deleted (the cascade of the keys 0118 dropped).';
CREATE OR REPLACE TRIGGER oms_meters_deleted AFTER DELETE ON oms_meters
    REFERENCING OLD TABLE AS deleted_meters FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_deleted();

CREATE OR REPLACE FUNCTION oms_meters_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_truncate_unless_empty(ARRAY['oms_meter_status_events', 'oms_outage_meters']::regclass[]);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_meters_truncated() IS
    'Statement trigger: empties the audit trail and the outages'' meter rows when the registry is truncated.';
CREATE OR REPLACE TRIGGER oms_meters_truncated AFTER TRUNCATE ON oms_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_meters_truncated();

CREATE OR REPLACE FUNCTION oms_outage_events_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM oms_outage_meters om USING deleted_outages d WHERE om.outage_event_id = d.id;
    DELETE FROM oms_event_sources s USING deleted_outages d WHERE s.outage_event_id = d.id;
    DELETE FROM oms_event_timeline t USING deleted_outages d WHERE t.outage_event_id = d.id;
    UPDATE kaifa_events e SET outage_event_id = NULL FROM deleted_outages d WHERE e.outage_event_id = d.id;
    UPDATE onu_events e SET outage_event_id = NULL FROM deleted_outages d WHERE e.outage_event_id = d.id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_outage_events_deleted() IS
    'Statement trigger: deletes the meters, evidence and timeline of the outages deleted and clears the AMI and ONU events'' references to them.';
CREATE OR REPLACE TRIGGER oms_outage_events_deleted AFTER DELETE ON oms_outage_events
    REFERENCING OLD TABLE AS deleted_outages FOR EACH STATEMENT EXECUTE FUNCTION oms_outage_events_deleted();

CREATE OR REPLACE FUNCTION oms_outage_events_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oms_truncate_unless_empty(ARRAY['oms_outage_meters', 'oms_event_sources', 'oms_event_timeline']::regclass[]);
    UPDATE kaifa_events SET outage_event_id = NULL WHERE outage_event_id IS NOT NULL;
    UPDATE onu_events SET outage_event_id = NULL WHERE outage_event_id IS NOT NULL;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_outage_events_truncated() IS
    'Statement trigger: empties the outages'' meters, evidence and timeline and clears the AMI and ONU events'' outage ids when the outages are truncated.';
CREATE OR REPLACE TRIGGER oms_outage_events_truncated AFTER TRUNCATE ON oms_outage_events
    FOR EACH STATEMENT EXECUTE FUNCTION oms_outage_events_truncated();
