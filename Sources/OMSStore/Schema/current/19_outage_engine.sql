-- The outage engine: from evidence to the outages an operator works, naming the
-- device that failed. Evidence arrives through oms_link_feed_evidence()
-- (06_correlation.sql: last gasps, dying gasps, calls, power-ups) and device
-- states through oms_apply_device_state() (20_device_telemetry.sql); both end
-- here. Tables: oms_outage_events, oms_outage_meters, oms_event_sources,
-- oms_event_timeline (versioned/0100, 0102). Settings: predict.*, rollup.*,
-- restoration.*, outage.momentary_minutes, telemetry.reclose_seconds,
-- correlation.window_minutes, rollup.window_minutes.
--
-- Rules (each decision writes a timeline entry naming the rule, the setting and
-- the numbers that made it fire):
--   * An outage names one device: its distribution point, else feeder, else
--     substation. Evidence about meters nothing covers opens a "detected"
--     outage on the meters' distribution point (06_correlation.sql).
--   * Prediction: a detected outage becomes predicted when predict.dp_min_reports
--     of its meters reported, or predict.dp_report_share of the device's meters
--     able to report (AMI or ONU) did; a predicted device covers every active
--     meter under it (reported = false for those that said nothing).
--   * Roll-up: a feeder (then a substation) is predicted instead of its
--     children when at least rollup.min_children of its children are out
--     (predicted or confirmed) and they are rollup.children_share of its
--     children with meters, or when rollup.customer_share of its customers able
--     to report have reported, all first detected within rollup.window_minutes
--     (evidence further apart is another outage); repeated
--     upward until no rule fires. A device telemetry shows closed is never
--     predicted (its children stay). Outages an operator pinned, and outages
--     telemetry confirmed (a locked-out breaker failed on its own), stay.
--   * Merging keeps one truth (oms_merge_outages): the survivor takes the
--     feed rows' outage_event_id, oms_event_sources, the meters; the merged one
--     ends as status merged with merged_into_id, a timeline entry on both.
--   * Restoration by meters (oms_refresh_outages, 06_correlation.sql): power-ups
--     restore meters one by one (oms_outage_meters.restored_at, the steps); an
--     outage not held by telemetry is restored when restoration.meter_share of
--     its meters able to report are back, at the time of the first of them.
--   * Momentary: restored within outage.momentary_minutes of its start.
--   * Nested: meters still out when their outage is restored (a loss reported
--     after the restoration, with no power-up between) become an outage of their
--     own on their lowest common device, backdated to the original start and
--     removed from the parent, so that no customer minute counts twice.
--
-- Active outages: status not in ('restored', 'closed', 'cancelled', 'merged'),
-- spelled out in each query so that the partial indexes serve it.

-- ---------------------------------------------------------------------------
-- Devices and their meters.

-- The active meters under a device (a distribution point, else a feeder, else a
-- substation): feeders and substations through oms_supplied_meters (the meters a
-- SCADA check reads), distribution points through oms_meters' index.
CREATE OR REPLACE FUNCTION oms_device_meter_ids(p_substation_id uuid, p_feeder_id uuid, p_dp_id uuid)
RETURNS TABLE (meter_id uuid)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
    SELECT m.id FROM oms_meters m
     WHERE p_dp_id IS NOT NULL AND m.dp_id = p_dp_id AND m.status = 'active'
    UNION ALL
    SELECT s.meter_id FROM oms_supplied_meters(p_substation_id, p_feeder_id) s
     WHERE p_dp_id IS NULL AND (p_feeder_id IS NOT NULL OR p_substation_id IS NOT NULL)
$$;
COMMENT ON FUNCTION oms_device_meter_ids(uuid, uuid, uuid) IS
    'Active meters under a distribution point, else a feeder, else a substation.';

-- The same meters with their customer and whether they can report (AMI or ONU).
CREATE OR REPLACE FUNCTION oms_device_meters(p_substation_id uuid, p_feeder_id uuid, p_dp_id uuid)
RETURNS TABLE (meter_id uuid, customer_id uuid, capable boolean)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
    SELECT m.id, m.customer_id, oms_meter_can_report(m.asset_mrid, m.onu_id)
      FROM oms_device_meter_ids(p_substation_id, p_feeder_id, p_dp_id) d
      JOIN oms_meters m ON m.id = d.meter_id
$$;
COMMENT ON FUNCTION oms_device_meters(uuid, uuid, uuid) IS
    'Active meters under a distribution point, else a feeder, else a substation: customer and whether each can report (AMI or ONU).';

-- The devices each meter is under, for the outages covering them: its
-- distribution point (spec 1), its feeder and the feeders supplying it (2),
-- its substation and the substations supplying it (3). Lower spec: more specific.
-- The meter's own devices from its row, read once; the supply links entered by
-- hand from the link tables (their 'registry' rows repeat the meter's own
-- columns: 04_mappings.sql; versioned/0111_indexes_for_storm_writes.sql).
-- PL/pgSQL, as the two below, so that their plans are kept for the session: a
-- SQL function with settings is never inlined, and each of the three was planned
-- again at every call (0.3 ms each, three times for each batch of evidence).
CREATE OR REPLACE FUNCTION oms_meter_devices(p_meter_ids uuid[])
RETURNS TABLE (meter_id uuid, kind text, device_id uuid, spec integer)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT m.id, d.kind, d.device_id, d.spec
          FROM oms_meters m
         CROSS JOIN LATERAL (VALUES ('dp', m.dp_id, 1), ('feeder', m.feeder_id, 2), ('substation', m.substation_id, 3))
               AS d(kind, device_id, spec)
         WHERE m.id = ANY (p_meter_ids) AND d.device_id IS NOT NULL
        UNION
        SELECT l.meter_id, 'feeder', l.feeder_id, 2 FROM network_feeder_meters l
         WHERE l.meter_id = ANY (p_meter_ids) AND l.link_source = 'manual'
        UNION
        SELECT l.meter_id, 'substation', l.substation_id, 3 FROM network_substation_meters l
         WHERE l.meter_id = ANY (p_meter_ids) AND l.link_source = 'manual';
END;
$$;
COMMENT ON FUNCTION oms_meter_devices(uuid[]) IS
    'The devices each meter is under (distribution point, feeders, substations, supply links included), most specific first.';

-- The outages covering the meters by their devices (covers_device), in the
-- given statuses, with how specific the device is (oms_meter_devices.spec).
CREATE OR REPLACE FUNCTION oms_covering_outages(p_meter_ids uuid[], p_statuses text[])
RETURNS TABLE (meter_id uuid, outage_event_id uuid, spec integer)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH d AS MATERIALIZED (SELECT * FROM oms_meter_devices(p_meter_ids))
        SELECT d.meter_id, o.id, d.spec FROM d JOIN oms_outage_events o ON o.dp_id = d.device_id
         WHERE d.kind = 'dp' AND o.covers_device AND o.status = ANY (p_statuses)
        UNION ALL
        SELECT d.meter_id, o.id, d.spec FROM d JOIN oms_outage_events o ON o.feeder_id = d.device_id AND o.dp_id IS NULL
         WHERE d.kind = 'feeder' AND o.covers_device AND o.status = ANY (p_statuses)
        UNION ALL
        SELECT d.meter_id, o.id, d.spec FROM d
          JOIN oms_outage_events o ON o.substation_id = d.device_id AND o.feeder_id IS NULL AND o.dp_id IS NULL
         WHERE d.kind = 'substation' AND o.covers_device AND o.status = ANY (p_statuses);
END;
$$;
COMMENT ON FUNCTION oms_covering_outages(uuid[], text[]) IS
    'The outages in the given statuses that cover the meters by their devices, with how specific each device is.';

-- The outages in the given statuses holding each meter: by a row of their own
-- (spec 0) or covering one of its devices (oms_covering_outages' spec), and
-- whether the meter's power-up restored it there. What evidence about a meter
-- looks up first (oms_link_evidence: the outage it joins, a late loss's
-- outage, a restoration's, a nested outage's parent).
CREATE OR REPLACE FUNCTION oms_meter_holders(p_meter_ids uuid[], p_statuses text[])
RETURNS TABLE (meter_id uuid, outage_event_id uuid, spec integer, powered_up boolean)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT om.meter_id, om.outage_event_id, 0, om.restored_by IS NOT DISTINCT FROM 'power_up'
          FROM oms_outage_meters om JOIN oms_outage_events o ON o.id = om.outage_event_id
         WHERE om.meter_id = ANY (p_meter_ids) AND o.status = ANY (p_statuses)
        UNION ALL
        SELECT c.meter_id, c.outage_event_id, c.spec,
               EXISTS (SELECT 1 FROM oms_outage_meters om
                        WHERE om.outage_event_id = c.outage_event_id AND om.meter_id = c.meter_id
                          AND om.restored_by = 'power_up')
          FROM oms_covering_outages(p_meter_ids, p_statuses) c;
END;
$$;
COMMENT ON FUNCTION oms_meter_holders(uuid[], text[]) IS
    'The outages in the given statuses holding each meter (a row of its own, or covering its device), most specific first by spec.';

-- How a device is named in timelines: "distribution point DP001", "feeder FD002",
-- "substation SS001" (the lowest level given).
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_device_name(p_substation_id uuid, p_feeder_id uuid, p_dp_id uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (coalesce((SELECT 'distribution point ' || d.dp_id FROM network_distribution_points d WHERE d.id = p_dp_id),
                    (SELECT 'feeder ' || f.feeder_id FROM network_feeders f WHERE f.id = p_feeder_id),
                    (SELECT 'substation ' || s.substation_id FROM network_substations s WHERE s.id = p_substation_id),
                    'no device'));
END;
$$;
COMMENT ON FUNCTION oms_device_name(uuid, uuid, uuid) IS
    'A device''s name for timelines: its distribution point, else feeder, else substation.';

-- How an outage's device is named in its timeline.
CREATE OR REPLACE FUNCTION oms_outage_device_name(p_outage oms_outage_events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT oms_device_name(p_outage.substation_id, p_outage.feeder_id, p_outage.dp_id)
$$;
COMMENT ON FUNCTION oms_outage_device_name(oms_outage_events) IS
    'The device an outage names, for its timeline: its distribution point, else feeder, else substation.';

-- The kind of device an outage or a meter's lowest device is, as
-- oms_device_sizes names it (inlined: no SET clause).
CREATE OR REPLACE FUNCTION oms_device_kind(p_feeder_id uuid, p_dp_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_dp_id IS NOT NULL THEN 'dp' WHEN p_feeder_id IS NOT NULL THEN 'feeder' ELSE 'substation' END
$$;
COMMENT ON FUNCTION oms_device_kind(uuid, uuid) IS
    'dp, feeder or substation: the lowest of the given devices (oms_device_sizes.device_kind).';

-- A device's size (oms_device_sizes): its active meters, customers, those able
-- to report, and its children with meters (distribution points of a feeder,
-- feeders of a substation), counted once per registry version
-- (oms_registry_version moves when the registry changes: oms_registry_changed).
CREATE OR REPLACE FUNCTION oms_device_size(p_substation_id uuid, p_feeder_id uuid, p_dp_id uuid)
RETURNS oms_device_sizes
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_kind    text := oms_device_kind(p_feeder_id, p_dp_id);
    v_id      uuid := coalesce(p_dp_id, p_feeder_id, p_substation_id);
    v_version bigint := (SELECT r.version FROM oms_registry_version r);
    v_size    oms_device_sizes;
BEGIN
    SELECT * INTO v_size FROM oms_device_sizes s
     WHERE s.device_kind = v_kind AND s.device_id = v_id AND s.registry_version = v_version;
    IF FOUND THEN
        RETURN v_size;
    END IF;
    SELECT v_kind, v_id, v_version, count(*), count(DISTINCT d.customer_id), count(*) FILTER (WHERE d.capable),
           count(DISTINCT d.customer_id) FILTER (WHERE d.capable),
           CASE v_kind
               WHEN 'feeder' THEN (SELECT count(*) FROM network_distribution_points x
                                    WHERE x.feeder_id = v_id
                                      AND EXISTS (SELECT 1 FROM oms_meters m WHERE m.dp_id = x.id AND m.status = 'active'))
               WHEN 'substation' THEN (SELECT count(*) FROM network_feeders f
                                        WHERE f.substation_id = v_id
                                          AND EXISTS (SELECT 1 FROM oms_meters m WHERE m.feeder_id = f.id AND m.status = 'active'))
               ELSE 0 END
      INTO v_size
      FROM oms_device_meters(p_substation_id, p_feeder_id, p_dp_id) d;
    -- Kept by one writer at a time, without waiting: another that is storing it now
    -- (uncommitted) would make this one wait on its row, perhaps in a circle.
    IF pg_try_advisory_xact_lock(oms_device_lock_key('size.' || v_kind, v_id)) THEN
        INSERT INTO oms_device_sizes AS s VALUES (v_size.*)
        ON CONFLICT (device_kind, device_id) DO UPDATE
           SET registry_version = excluded.registry_version, meters = excluded.meters, customers = excluded.customers,
               capable_meters = excluded.capable_meters, capable_customers = excluded.capable_customers,
               children = excluded.children
         WHERE s.registry_version <= excluded.registry_version;
    END IF;
    RETURN v_size;
END;
$$;
COMMENT ON FUNCTION oms_device_size(uuid, uuid, uuid) IS
    'A device''s active meters, customers, those able to report and children with meters, cached per registry version.';

-- Counts ahead the sizes the registry's current version lacks, so that a storm
-- does not count them on its way: the first storm in an area otherwise counts
-- each distribution point and feeder it touches, inside its requests (325
-- counts, 0.5 ms each, in the 46 requests that rolled a 10,000-meter substation
-- up). Distribution points in one statement over the meters (their rule is
-- their meters' dp_id, as oms_device_meter_ids reads it); feeders and
-- substations, a few thousand at most, through oms_device_size itself (their
-- meters come through the supply links). Called by `oms import` once the files
-- are in; a registry changed later is counted again as the engine meets it.
-- Returns the devices counted.
CREATE OR REPLACE FUNCTION oms_device_sizes_warm() RETURNS integer
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
    v_version bigint := (SELECT r.version FROM oms_registry_version r);
    v_dps     integer;
    v_others  integer;
BEGIN
    INSERT INTO oms_device_sizes AS s (device_kind, device_id, registry_version, meters, customers, capable_meters,
                                       capable_customers, children)
    SELECT 'dp', m.dp_id, v_version, count(*), count(DISTINCT m.customer_id),
           count(*) FILTER (WHERE oms_meter_can_report(m.asset_mrid, m.onu_id)),
           count(DISTINCT m.customer_id) FILTER (WHERE oms_meter_can_report(m.asset_mrid, m.onu_id)), 0
      FROM oms_meters m
     WHERE m.status = 'active' AND m.dp_id IS NOT NULL
     GROUP BY m.dp_id
    ON CONFLICT (device_kind, device_id) DO UPDATE
       SET registry_version = excluded.registry_version, meters = excluded.meters, customers = excluded.customers,
           capable_meters = excluded.capable_meters, capable_customers = excluded.capable_customers,
           children = excluded.children
     WHERE s.registry_version < excluded.registry_version;
    GET DIAGNOSTICS v_dps = ROW_COUNT;
    SELECT count(oms_device_size(d.substation_id, d.feeder_id, NULL)) INTO v_others
      FROM (SELECT f.substation_id, f.id AS feeder_id FROM network_feeders f
            UNION ALL
            SELECT s.id, NULL::uuid FROM network_substations s) d
     WHERE NOT EXISTS (SELECT 1 FROM oms_device_sizes z
                        WHERE z.device_kind = CASE WHEN d.feeder_id IS NULL THEN 'substation' ELSE 'feeder' END
                          AND z.device_id = coalesce(d.feeder_id, d.substation_id) AND z.registry_version = v_version);
    RETURN v_dps + v_others;
END;
$$;
COMMENT ON FUNCTION oms_device_sizes_warm() IS
    'Counts ahead every device size the registry''s current version lacks (oms_device_sizes), so that storms find them; returns how many.';

-- Moves the registry's version (device sizes are counted again). Before each
-- statement that may change the registry, so that the version's row is the
-- first lock such a transaction takes. The supply links that oms_meters'
-- own triggers keep (04_mappings.sql) move with a statement on oms_meters that
-- moved the version already: a link statement from inside a trigger does not
-- (every status update of a meter runs one, usually on no row).
CREATE OR REPLACE FUNCTION oms_registry_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME <> 'oms_meters' AND pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    UPDATE oms_registry_version SET version = version + 1;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION oms_registry_changed() IS
    'Statement trigger: the registry changed, device sizes (oms_device_sizes) are stale.';
CREATE OR REPLACE TRIGGER oms_meters_registry
    BEFORE INSERT OR DELETE OR TRUNCATE OR UPDATE OF status, substation_id, feeder_id, dp_id, customer_id, asset_mrid, onu_id
    ON oms_meters FOR EACH STATEMENT EXECUTE FUNCTION oms_registry_changed();
CREATE OR REPLACE TRIGGER network_feeder_meters_registry
    BEFORE INSERT OR DELETE OR TRUNCATE OR UPDATE ON network_feeder_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_registry_changed();
CREATE OR REPLACE TRIGGER network_substation_meters_registry
    BEFORE INSERT OR DELETE OR TRUNCATE OR UPDATE ON network_substation_meters
    FOR EACH STATEMENT EXECUTE FUNCTION oms_registry_changed();

-- The meters an outage leaves to the outages held apart from it: those below
-- its device when it covered it (within_outage_id) and its nested ones
-- (parent_outage_id), with their meters and devices.
CREATE OR REPLACE FUNCTION oms_outage_apart_meters(p_outage_id uuid) RETURNS TABLE (meter_id uuid)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
    WITH apart AS MATERIALIZED (
        SELECT c.id, c.covers_device, c.substation_id, c.feeder_id, c.dp_id FROM oms_outage_events c
         WHERE c.within_outage_id = p_outage_id AND c.status <> 'merged'
        UNION
        SELECT c.id, c.covers_device, c.substation_id, c.feeder_id, c.dp_id FROM oms_outage_events c
         WHERE c.parent_outage_id = p_outage_id AND c.status <> 'merged'
    )
    SELECT om.meter_id FROM apart a JOIN oms_outage_meters om ON om.outage_event_id = a.id
    UNION
    SELECT d.meter_id FROM apart a CROSS JOIN LATERAL oms_device_meter_ids(a.substation_id, a.feeder_id, a.dp_id) d
     WHERE a.covers_device
$$;
COMMENT ON FUNCTION oms_outage_apart_meters(uuid) IS
    'The meters of the outages held apart from an outage (below its device when it covered it, or nested under it).';

-- Whether outages are held apart from this one (oms_outage_apart_meters).
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_outage_holds_apart(p_outage_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (EXISTS (SELECT 1 FROM oms_outage_events c WHERE c.within_outage_id = p_outage_id AND c.status <> 'merged')
        OR EXISTS (SELECT 1 FROM oms_outage_events c WHERE c.parent_outage_id = p_outage_id AND c.status <> 'merged'));
END;
$$;
COMMENT ON FUNCTION oms_outage_holds_apart(uuid) IS
    'Whether outages below its device or nested under it keep meters apart from this outage.';

-- Every meter an outage covers, one row each: its own rows (oms_outage_meters:
-- the meters with evidence of their own), and when it covers its device
-- (covers_device) every other active meter under it but those held apart
-- (oms_outage_apart_meters), as covered by the device: no evidence of its own,
-- back when the outage was restored (restored_by 'outage').
CREATE OR REPLACE FUNCTION oms_outage_covered_meters(p_outage_id uuid)
RETURNS TABLE (meter_id uuid, reported boolean, source_type text, first_evidence_at timestamptz,
               last_evidence_at timestamptz, restored_at timestamptz, restored_by text)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET jit = off
AS $$
    SELECT om.meter_id, om.reported, om.source_type, om.first_evidence_at, om.last_evidence_at, om.restored_at,
           om.restored_by
      FROM oms_outage_meters om WHERE om.outage_event_id = p_outage_id
    UNION ALL
    SELECT d.meter_id, false, 'system', o.first_detected_at, o.first_detected_at,
           CASE WHEN o.status IN ('restored', 'closed') THEN o.actual_restoration_time
                WHEN o.status = 'cancelled' THEN o.last_updated_at END,
           CASE WHEN o.status IN ('restored', 'closed', 'cancelled') THEN 'outage' END
      FROM oms_outage_events o
      CROSS JOIN LATERAL oms_device_meter_ids(o.substation_id, o.feeder_id, o.dp_id) d
     WHERE o.id = p_outage_id AND o.covers_device AND o.status <> 'merged'
       AND NOT EXISTS (SELECT 1 FROM oms_outage_meters om WHERE om.outage_event_id = o.id AND om.meter_id = d.meter_id)
       AND NOT EXISTS (SELECT 1 FROM oms_outage_apart_meters(p_outage_id) a WHERE a.meter_id = d.meter_id)
$$;
COMMENT ON FUNCTION oms_outage_covered_meters(uuid) IS
    'Every meter an outage covers: its own rows, and the rest of its device when it covers it (but the meters held apart).';

-- An outage's size: meters and customers it interrupted, and those out now.
-- Covering a device without outages held apart: the device's cached size and
-- the outage's own rows (those back), without reading the device's meters; a
-- customer counts back when one of its meters is. Otherwise from the meters it
-- covers (oms_outage_covered_meters). One row, and said so (ROWS 1): with the
-- default guess of 1,000, oms_refresh_outages planned its outages as thousands
-- and joined them to the whole outage table (a feeder trip read every outage
-- ever recorded, 3,081 rows, twice).
CREATE OR REPLACE FUNCTION oms_outage_size(p_outage oms_outage_events)
RETURNS TABLE (meters bigint, meters_out bigint, customers bigint, customers_out bigint)
LANGUAGE plpgsql
ROWS 1
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_size oms_device_sizes;
    v_rows bigint;
    v_out  bigint;
BEGIN
    IF p_outage.covers_device AND NOT oms_outage_holds_apart(p_outage.id) THEN
        v_size := oms_device_size(p_outage.substation_id, p_outage.feeder_id, p_outage.dp_id);
        v_rows := (SELECT count(*) FROM oms_outage_meters om WHERE om.outage_event_id = p_outage.id);
        v_out := (SELECT count(*) FROM oms_outage_meters om WHERE om.outage_event_id = p_outage.id AND om.restored_at IS NULL);
        RETURN QUERY
        SELECT v_size.meters::bigint, (v_size.meters - (v_rows - v_out))::bigint, v_size.customers::bigint,
               CASE WHEN v_rows = v_out THEN v_size.customers::bigint
                    ELSE v_size.customers - (SELECT count(DISTINCT m.customer_id) FROM oms_outage_meters om
                                               JOIN oms_meters m ON m.id = om.meter_id
                                              WHERE om.outage_event_id = p_outage.id AND om.restored_at IS NOT NULL) END;
    ELSE
        -- (oms_refresh_outages counts many evidence-only outages, a few rows each, in
        -- one statement the same way.)
        RETURN QUERY
        SELECT count(*), count(*) FILTER (WHERE c.restored_at IS NULL), count(DISTINCT m.customer_id),
               count(DISTINCT m.customer_id) FILTER (WHERE c.restored_at IS NULL)
          FROM oms_outage_covered_meters(p_outage.id) c JOIN oms_meters m ON m.id = c.meter_id;
    END IF;
END;
$$;
COMMENT ON FUNCTION oms_outage_size(oms_outage_events) IS
    'An outage''s meters and customers interrupted and out now: by its device''s cached size when it covers it, else from its meters.';

-- The outages cover every active meter under their devices from now on
-- (covers_device); the active outages below each keep theirs (within_outage_id:
-- the most specific covering one when two cover one). One statement for any
-- number of outages: a prediction covers many distribution points at once.
CREATE OR REPLACE FUNCTION oms_outage_cover(p_outage_ids uuid[]) RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
BEGIN
    UPDATE oms_outage_events SET covers_device = true WHERE id = ANY (p_outage_ids) AND NOT covers_device;
    WITH covering AS MATERIALIZED (
        SELECT o.id, o.dp_id, o.feeder_id, o.substation_id FROM oms_outage_events o WHERE o.id = ANY (p_outage_ids)
    ),
    below AS (
        -- By the index of each kind of device.
        SELECT DISTINCT ON (b.id) b.id, b.held_by
          FROM (SELECT c.id, p.id AS held_by, 1 AS spec FROM covering p JOIN oms_outage_events c ON c.dp_id = p.dp_id
                 WHERE p.dp_id IS NOT NULL AND c.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                UNION ALL
                SELECT c.id, p.id, 2 FROM covering p JOIN oms_outage_events c ON c.feeder_id = p.feeder_id
                 WHERE p.dp_id IS NULL AND p.feeder_id IS NOT NULL
                   AND c.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                UNION ALL
                SELECT c.id, p.id, 3 FROM covering p JOIN oms_outage_events c ON c.substation_id = p.substation_id
                 WHERE p.dp_id IS NULL AND p.feeder_id IS NULL
                   AND c.status NOT IN ('restored', 'closed', 'cancelled', 'merged')) b
         WHERE b.id <> ALL (p_outage_ids)
         ORDER BY b.id, b.spec
    )
    UPDATE oms_outage_events c SET within_outage_id = b.held_by
      FROM below b
     WHERE c.id = b.id AND c.within_outage_id IS DISTINCT FROM b.held_by
       AND c.parent_outage_id IS DISTINCT FROM b.held_by;
END;
$$;
COMMENT ON FUNCTION oms_outage_cover(uuid[]) IS
    'The outages cover every active meter under their devices (the active outages below keep theirs).';

-- Writes a row for every meter the outage covers by its device and stops
-- covering by device: before an operator merges or splits it, which move
-- meters one by one. Returns the rows written.
CREATE OR REPLACE FUNCTION oms_outage_materialize(p_outage_id uuid) RETURNS integer
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_written integer := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM oms_outage_events o WHERE o.id = p_outage_id AND o.covers_device) THEN
        INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at,
                                       reported, restored_at, restored_by)
        SELECT p_outage_id, c.meter_id, c.source_type, c.first_evidence_at, c.last_evidence_at, c.reported, c.restored_at,
               c.restored_by
          FROM oms_outage_covered_meters(p_outage_id) c
        ON CONFLICT (outage_event_id, meter_id) DO NOTHING;
        GET DIAGNOSTICS v_written = ROW_COUNT;
        UPDATE oms_outage_events SET covers_device = false WHERE id = p_outage_id;
    END IF;
    RETURN v_written;
END;
$$;
COMMENT ON FUNCTION oms_outage_materialize(uuid) IS
    'Writes a row for each meter an outage covers by its device and stops covering by device (before an operator moves meters).';

-- ---------------------------------------------------------------------------
-- Merging.

-- The survivor a merge gives an outage: p_into at p_outage's position in p_merged (which has
-- no repeats). Inlined where it is used, so that a merge finds the rows naming its merged
-- outages by index (= ANY) and needs no join to the pairs.
CREATE OR REPLACE FUNCTION oms_survivor_of(p_merged uuid[], p_into uuid[], p_outage uuid) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_into[array_position(p_merged, p_outage)]
$$;
COMMENT ON FUNCTION oms_survivor_of(uuid[], uuid[], uuid) IS
    'The survivor of a merged outage among merge pairs given as two arrays (merged, survivors).';

-- Folds outages into survivors, many at once: p_merged[i] into p_into[i], for
-- p_reasons[i]. The feed rows, the evidence and the meters move to the
-- survivor, its start is the earliest of theirs, and each merged outage ends as
-- status merged pointing at it (outages merged into them earlier too). A
-- timeline entry on both sides says which rule merged them. One statement per
-- step for all the pairs (a storm's roll-up folds hundreds of distribution
-- points into their feeders at once). Returns how many were merged.
CREATE OR REPLACE FUNCTION oms_merge_outage_pairs(p_merged uuid[], p_into uuid[], p_reasons text[], p_rule text,
                                                  p_time timestamptz, p_source text DEFAULT 'system')
RETURNS integer
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_merged uuid[];
    v_into   uuid[];
    v_reason text[];
BEGIN
    -- The pairs still to merge (not into itself, not ended), by survivor, oldest first.
    SELECT array_agg(o.id ORDER BY p.survivor, o.first_detected_at), array_agg(p.survivor ORDER BY p.survivor, o.first_detected_at),
           array_agg(p.reason ORDER BY p.survivor, o.first_detected_at)
      INTO v_merged, v_into, v_reason
      FROM (SELECT DISTINCT ON (x.merged) x.merged, x.survivor, x.reason
              FROM unnest(p_merged, p_into, p_reasons) AS x(merged, survivor, reason)
             WHERE x.merged IS NOT NULL AND x.survivor IS NOT NULL) p
      JOIN oms_outage_events o ON o.id = p.merged
     WHERE o.id <> p.survivor AND o.status NOT IN ('merged', 'cancelled');
    IF v_merged IS NULL THEN
        RETURN 0;
    END IF;

    -- The rows naming a merged outage are found by index (outage_event_id = ANY), each given its
    -- survivor by position (oms_survivor_of), not by a join to the pairs: the planner turned that
    -- join into a hash join over the whole index of the table (with enable_seqscan off, its scan of
    -- every row), so that each merge read every feed row the storm had stored (19,367 KAIFA rows,
    -- 20 ms to move none, by a storm's 17,000th message).
    UPDATE scada_events t SET outage_event_id = oms_survivor_of(v_merged, v_into, t.outage_event_id)
     WHERE t.outage_event_id = ANY (v_merged);
    UPDATE onu_events t SET outage_event_id = oms_survivor_of(v_merged, v_into, t.outage_event_id)
     WHERE t.outage_event_id = ANY (v_merged);
    UPDATE kaifa_events t SET outage_event_id = oms_survivor_of(v_merged, v_into, t.outage_event_id)
     WHERE t.outage_event_id = ANY (v_merged);
    UPDATE callcenter_tickets t SET outage_event_id = oms_survivor_of(v_merged, v_into, t.outage_event_id)
     WHERE t.outage_event_id = ANY (v_merged);
    UPDATE oms_device_state_history t SET outage_event_id = oms_survivor_of(v_merged, v_into, t.outage_event_id)
     WHERE t.outage_event_id = ANY (v_merged);

    INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table, correlation_weight,
                                   detected_at, evidence)
    SELECT oms_survivor_of(v_merged, v_into, s.outage_event_id), s.source_type, s.source_event_id, s.source_table,
           s.correlation_weight, s.detected_at, s.evidence
      FROM oms_event_sources s
     WHERE s.outage_event_id = ANY (v_merged)
    ON CONFLICT (outage_event_id, source_type, source_event_id) DO NOTHING;
    DELETE FROM oms_event_sources WHERE outage_event_id = ANY (v_merged);

    INSERT INTO oms_outage_meters AS om (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at,
                                         reported, restored_at, restored_by)
    SELECT DISTINCT ON (w.survivor, m.meter_id) w.survivor, m.meter_id, m.source_type, m.first_evidence_at,
           m.last_evidence_at, m.reported, m.restored_at, m.restored_by
      FROM oms_outage_meters m
     CROSS JOIN LATERAL (SELECT oms_survivor_of(v_merged, v_into, m.outage_event_id) AS survivor) w
     WHERE m.outage_event_id = ANY (v_merged)
     ORDER BY w.survivor, m.meter_id, m.reported DESC, m.first_evidence_at
    ON CONFLICT (outage_event_id, meter_id) DO UPDATE
       SET first_evidence_at = least(om.first_evidence_at, excluded.first_evidence_at),
           last_evidence_at = greatest(om.last_evidence_at, excluded.last_evidence_at),
           reported = om.reported OR excluded.reported,
           source_type = CASE WHEN om.reported THEN om.source_type ELSE excluded.source_type END;
    DELETE FROM oms_outage_meters WHERE outage_event_id = ANY (v_merged);

    UPDATE oms_outage_events o SET merged_into_id = oms_survivor_of(v_merged, v_into, o.merged_into_id)
     WHERE o.merged_into_id = ANY (v_merged);
    UPDATE oms_outage_events o SET parent_outage_id = oms_survivor_of(v_merged, v_into, o.parent_outage_id)
     WHERE o.parent_outage_id = ANY (v_merged);
    UPDATE oms_outage_events o SET within_outage_id = oms_survivor_of(v_merged, v_into, o.within_outage_id)
     WHERE o.within_outage_id = ANY (v_merged);

    UPDATE oms_outage_events o SET first_detected_at = x.start, last_updated_at = now()
      FROM (SELECT w.survivor, min(m.first_detected_at) AS start
              FROM unnest(v_merged, v_into) AS w(merged, survivor)
              JOIN oms_outage_events m ON m.id = w.merged
             GROUP BY w.survivor) x
     WHERE o.id = x.survivor AND o.first_detected_at > x.start;

    WITH pairs AS (
        SELECT w.merged, w.survivor, w.reason, s.event_id AS survivor_code, s.status AS survivor_status
          FROM unnest(v_merged, v_into, v_reason) AS w(merged, survivor, reason)
          JOIN oms_outage_events s ON s.id = w.survivor
    ),
    ended AS (
        UPDATE oms_outage_events o
           SET status = 'merged', merged_into_id = p.survivor, meters_out = 0, customers_out = 0,
               last_updated_at = now()
          FROM pairs p
         WHERE o.id = p.merged
     RETURNING o.id, o.event_id, o.first_detected_at, p.survivor, p.survivor_code, p.survivor_status, p.reason
    )
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT e.id, 'merged', 'merged',
           format('Merged into %s (%s): %s', e.survivor_code, p_rule, e.reason), p_source, p_time,
           jsonb_build_object('rule', p_rule, 'merged_into', e.survivor_code)
      FROM ended e
    UNION ALL
    SELECT e.survivor, 'outages_merged', min(e.survivor_status),
           format('Took in %s (%s): %s', string_agg(e.event_id, ', ' ORDER BY e.first_detected_at, e.event_id), p_rule,
                  min(e.reason)),
           p_source, p_time,
           jsonb_build_object('rule', p_rule, 'merged', jsonb_agg(e.event_id ORDER BY e.first_detected_at, e.event_id))
      FROM ended e
     GROUP BY e.survivor;

    RETURN cardinality(v_merged);
END;
$$;
COMMENT ON FUNCTION oms_merge_outage_pairs(uuid[], uuid[], text[], text, timestamptz, text) IS
    'Folds outages into survivors, many pairs at once: feed rows, evidence and meters move; each merged one ends as status merged pointing at its survivor.';

-- Folds outages into one survivor (oms_merge_outage_pairs with one survivor).
CREATE OR REPLACE FUNCTION oms_merge_outages(p_survivor uuid, p_merged uuid[], p_rule text, p_reason text,
                                             p_time timestamptz, p_source text DEFAULT 'system')
RETURNS integer
LANGUAGE sql AS $$
    SELECT oms_merge_outage_pairs(p_merged, array_fill(p_survivor, ARRAY[coalesce(cardinality(p_merged), 0)]),
                                  array_fill(p_reason, ARRAY[coalesce(cardinality(p_merged), 0)]), p_rule, p_time,
                                  p_source)
$$;
COMMENT ON FUNCTION oms_merge_outages(uuid, uuid[], text, text, timestamptz, text) IS
    'Folds outages into a survivor: feed rows, evidence and meters move; each merged one ends as status merged pointing at it.';

-- ---------------------------------------------------------------------------
-- Prediction and roll-up.

-- Finds the active outage of a feeder or substation as a whole (the newest,
-- should there be two). (plpgsql: its two plans are kept by the session; a SQL
-- function with SET is planned again at each call.) All of the device's are read
-- and the newest kept, without a LIMIT: with LIMIT 1 the session's plan could walk
-- every active outage of the network looking for one of this device (2,000 rows
-- of a storm elsewhere, ~0.5 ms a feeder trip).
CREATE OR REPLACE FUNCTION oms_device_outage(p_substation_id uuid, p_feeder_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
BEGIN
    IF p_feeder_id IS NOT NULL THEN
        RETURN (SELECT (array_agg(o.id ORDER BY o.first_detected_at DESC))[1] FROM oms_outage_events o
                 WHERE o.feeder_id = p_feeder_id AND o.dp_id IS NULL
                   AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged'));
    END IF;
    RETURN (SELECT (array_agg(o.id ORDER BY o.first_detected_at DESC))[1] FROM oms_outage_events o
             WHERE o.substation_id = p_substation_id AND o.feeder_id IS NULL AND o.dp_id IS NULL
               AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged'));
END;
$$;
COMMENT ON FUNCTION oms_device_outage(uuid, uuid) IS
    'The active outage naming a feeder (p_feeder_id) or a substation as a whole, if any.';

-- Whether telemetry shows a device closed (energized): then it is never predicted out.
-- (PL/pgSQL so that its plan is kept per session: a SQL function with sub-selects is
-- never inlined, and was planned again at every call, ~0.05-0.15 ms.)
CREATE OR REPLACE FUNCTION oms_device_shown_closed(p_kind text, p_device_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (coalesce((SELECT s.state = 'closed' FROM oms_device_states s
                      WHERE s.device_kind = p_kind AND s.device_id = p_device_id), false));
END;
$$;
COMMENT ON FUNCTION oms_device_shown_closed(text, uuid) IS
    'Whether the device''s state in force, from telemetry, is closed (energized): a ceiling for prediction.';

-- The prediction rule: a distribution point is predicted out at
-- predict.dp_min_reports reports or predict.dp_report_share of its meters able
-- to report; a feeder or substation at rollup.customer_share of them. The rule
-- itself, with the settings' values given (a set-based statement reads them once,
-- not once per device: oms_setting is a query of its own):
CREATE OR REPLACE FUNCTION oms_prediction_rule(p_kind text, p_reports bigint, p_capable bigint, p_min_reports numeric,
                                               p_report_share numeric, p_customer_share numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_kind = 'dp'
                THEN p_reports >= p_min_reports OR p_reports >= p_report_share * greatest(p_capable, 1)
                ELSE p_reports >= p_customer_share * greatest(p_capable, 1) END
$$;
COMMENT ON FUNCTION oms_prediction_rule(text, bigint, bigint, numeric, numeric, numeric) IS
    'The prediction rule with the values of predict.dp_min_reports, predict.dp_report_share and rollup.customer_share given.';

-- ... and with the settings in force.
CREATE OR REPLACE FUNCTION oms_prediction_passes(p_kind text, p_reports bigint, p_capable bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT oms_prediction_rule(p_kind, p_reports, p_capable, oms_setting_numeric('predict.dp_min_reports'),
                               oms_setting_numeric('predict.dp_report_share'), oms_setting_numeric('rollup.customer_share'))
$$;
COMMENT ON FUNCTION oms_prediction_passes(text, bigint, bigint) IS
    'The prediction rule (predict.*): whether p_reports of p_capable meters able to report predict a device of kind p_kind out.';

-- Predicts the detected outages among p_outage_ids whose evidence passes the
-- threshold, then rolls up: feeders over their distribution points, then
-- substations over their feeders, until no rule fires. Returns every outage it
-- changed (survivors), for oms_refresh_outages.
CREATE OR REPLACE FUNCTION oms_engine_evaluate(p_outage_ids uuid[], p_time timestamptz) RETURNS uuid[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_min_reports    integer := oms_setting_numeric('predict.dp_min_reports');
    v_report_share   numeric := oms_setting_numeric('predict.dp_report_share');
    v_customer_share numeric := oms_setting_numeric('rollup.customer_share');
    v_version        bigint := (SELECT r.version FROM oms_registry_version r);
    v_changed        uuid[] := ARRAY[]::uuid[];
    v_feeders        uuid[];
    v_substations    uuid[];
BEGIN
    -- 1. Prediction of the detected outages touched, all in one statement: each
    -- passing one is predicted, then they cover their devices (oms_outage_cover).
    -- The devices' sizes counted first where the cache lacks them (once per device
    -- and registry version), then read from it with the outages.
    PERFORM oms_device_size(o.substation_id, o.feeder_id, o.dp_id)
       FROM oms_outage_events o
      WHERE o.id = ANY (p_outage_ids) AND o.status = 'detected'
        AND NOT EXISTS (SELECT 1 FROM oms_device_sizes z
                         WHERE z.device_kind = oms_device_kind(o.feeder_id, o.dp_id)
                           AND z.device_id = coalesce(o.dp_id, o.feeder_id, o.substation_id)
                           AND z.registry_version = v_version);
    WITH passing AS MATERIALIZED (
        SELECT o.id, o.dp_id, o.feeder_id, o.substation_id, c.reports, z.capable_meters AS capable, z.meters,
               oms_outage_device_name(o) AS device
          FROM oms_outage_events o
          -- (The cached row; counted here only if another writer is storing it just now.)
          CROSS JOIN LATERAL (SELECT c.* FROM oms_device_sizes c
                               WHERE c.device_kind = oms_device_kind(o.feeder_id, o.dp_id)
                                 AND c.device_id = coalesce(o.dp_id, o.feeder_id, o.substation_id)
                                 AND c.registry_version = v_version
                              UNION ALL
                              SELECT (oms_device_size(o.substation_id, o.feeder_id, o.dp_id)).*
                              LIMIT 1) z
          CROSS JOIN LATERAL (SELECT count(*) AS reports FROM oms_outage_meters om
                               WHERE om.outage_event_id = o.id AND om.reported) c
         WHERE o.id = ANY (p_outage_ids) AND o.status = 'detected'
           AND oms_prediction_rule(oms_device_kind(o.feeder_id, o.dp_id), c.reports, z.capable_meters, v_min_reports,
                                   v_report_share, v_customer_share)
    ),
    predicted AS (
        -- Covering its device from now on in the same row version (oms_outage_cover below
        -- then only places the outages beneath: a second update of each predicted row cost
        -- a new version and its index entries, ~90 us an outage in a storm).
        UPDATE oms_outage_events o SET status = 'predicted', basis = 'prediction', covers_device = true,
                                       last_updated_at = now()
          FROM passing p WHERE o.id = p.id
        RETURNING o.id
    ),
    logged AS (
        INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
        SELECT p.id, 'predicted', 'predicted',
               CASE WHEN p.dp_id IS NOT NULL
                    THEN format('%s of %s meters able to report on %s reported a loss; predict.dp_min_reports = %s, predict.dp_report_share = %s -> %s predicted; covers its %s meters',
                                p.reports, p.capable, p.device, v_min_reports, v_report_share, p.device, p.meters)
                    ELSE format('%s of %s meters able to report on %s reported a loss; rollup.customer_share = %s -> %s predicted; covers its %s meters',
                                p.reports, p.capable, p.device, v_customer_share, p.device, p.meters) END,
               'system', p_time,
               jsonb_build_object('rule', 'predict', 'reports', p.reports, 'capable', p.capable,
                                  'predict.dp_min_reports', v_min_reports, 'predict.dp_report_share', v_report_share)
          FROM passing p
    )
    SELECT coalesce(array_agg(p.id), ARRAY[]::uuid[]) INTO v_changed
      FROM predicted p;
    PERFORM oms_outage_cover(v_changed);

    -- 2. Roll-up to feeders, then to substations: the parents of the outages
    -- whose state changed (a parent's numbers move only when a child is
    -- predicted; evaluating it on every report would cost a count of its
    -- customers each time).
    SELECT array_agg(DISTINCT o.feeder_id) FILTER (WHERE o.dp_id IS NOT NULL AND o.feeder_id IS NOT NULL),
           array_agg(DISTINCT o.substation_id) FILTER (WHERE o.dp_id IS NULL AND o.feeder_id IS NOT NULL)
      INTO v_feeders, v_substations
      FROM oms_outage_events o
     WHERE o.id = ANY (v_changed)
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.basis <> 'telemetry';

    v_changed := v_changed || oms_engine_rollup(v_feeders, v_substations, p_time);

    RETURN ARRAY(SELECT DISTINCT u FROM unnest(v_changed) u);
END;
$$;
COMMENT ON FUNCTION oms_engine_evaluate(uuid[], timestamptz) IS
    'Predicts detected outages whose evidence passes predict.*, then rolls up to feeders and substations (rollup.*); returns the outages changed.';

-- The active outages of a device and below it first detected since p_since: a
-- feeder's (p_feeder_id) own and its distribution points', or a substation's
-- (p_feeder_id NULL) own, its feeders' and their distribution points'. Each level
-- is read by its own index of active outages (a substation's distribution points
-- through its feeders: a distribution point's outage names its feeder, which the
-- registry derives), and the window is written as a difference, which no index
-- serves: one plan for every level, or one reading by time, read every outage of
-- the window, a storm's (3,081 rows a feeder trip in oms_device_out; ~1 ms a
-- feeder in the roll-up). SQL without settings, so that it is inlined and the
-- caller's plan skips the other device's branches by their one-time filters.
CREATE OR REPLACE FUNCTION oms_active_outages_under(p_substation_id uuid, p_feeder_id uuid, p_since timestamptz)
RETURNS TABLE (id uuid, status text, basis text, operator_pinned boolean, feeder_id uuid, dp_id uuid)
LANGUAGE sql STABLE AS $$
    SELECT o.id, o.status, o.basis, o.operator_pinned, o.feeder_id, o.dp_id FROM oms_outage_events o
     WHERE p_feeder_id IS NOT NULL AND o.feeder_id = p_feeder_id AND o.dp_id IS NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.first_detected_at - p_since >= interval '0'
    UNION ALL
    SELECT o.id, o.status, o.basis, o.operator_pinned, o.feeder_id, o.dp_id FROM oms_outage_events o
     WHERE p_feeder_id IS NOT NULL AND o.feeder_id = p_feeder_id AND o.dp_id IS NOT NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.first_detected_at - p_since >= interval '0'
    UNION ALL
    SELECT o.id, o.status, o.basis, o.operator_pinned, o.feeder_id, o.dp_id FROM oms_outage_events o
     WHERE p_feeder_id IS NULL AND o.substation_id = p_substation_id AND o.feeder_id IS NULL AND o.dp_id IS NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.first_detected_at - p_since >= interval '0'
    UNION ALL
    SELECT o.id, o.status, o.basis, o.operator_pinned, o.feeder_id, o.dp_id FROM oms_outage_events o
     WHERE p_feeder_id IS NULL AND o.substation_id = p_substation_id AND o.feeder_id IS NOT NULL AND o.dp_id IS NULL
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.first_detected_at - p_since >= interval '0'
    UNION ALL
    SELECT o.id, o.status, o.basis, o.operator_pinned, o.feeder_id, o.dp_id FROM oms_outage_events o
     WHERE p_feeder_id IS NULL
       AND o.feeder_id = ANY (ARRAY(SELECT f.id FROM network_feeders f WHERE f.substation_id = p_substation_id))
       AND o.dp_id IS NOT NULL AND o.substation_id = p_substation_id
       AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged') AND o.first_detected_at - p_since >= interval '0'
$$;
COMMENT ON FUNCTION oms_active_outages_under(uuid, uuid, timestamptz) IS
    'The active outages of a feeder or substation and below it since a time, each level by its own index.';

-- What the roll-up counts under a feeder (its distribution points' outages)
-- or a substation (its feeders' outages, and outages below them), among the
-- active ones not confirmed by telemetry first detected since p_since: the
-- children out (predicted or further; for a substation, feeder outages), the
-- outages it would take in (not pinned by an operator), and the customers
-- whose meters reported under them. p_arriving_out and p_arriving_customers add
-- the children (distribution points of a feeder, feeders of a substation) and the
-- customers that evidence arriving now, before any outage is opened for it, puts
-- out (oms_engine_rollup_arriving); each child and customer counts once.
CREATE OR REPLACE FUNCTION oms_rollup_children(p_kind text, p_device_id uuid, p_since timestamptz,
                                               p_arriving_out uuid[] DEFAULT NULL,
                                               p_arriving_customers uuid[] DEFAULT NULL)
RETURNS TABLE (out_children bigint, out_ids uuid[], reporting bigint)
LANGUAGE sql STABLE AS $$
    -- The levels below the device (oms_active_outages_under: each by its own index).
    WITH children AS MATERIALIZED (
        SELECT o.id, o.status, o.operator_pinned, o.dp_id, o.feeder_id
          FROM oms_active_outages_under(CASE WHEN p_kind = 'substation' THEN p_device_id END,
                                        CASE WHEN p_kind = 'feeder' THEN p_device_id END, p_since) o
         WHERE CASE p_kind WHEN 'feeder' THEN o.dp_id IS NOT NULL ELSE o.feeder_id IS NOT NULL END
           AND o.basis <> 'telemetry'
    )
    SELECT (SELECT count(DISTINCT x.child)
              FROM (SELECT CASE p_kind WHEN 'feeder' THEN c.dp_id ELSE c.feeder_id END AS child FROM children c
                     WHERE c.status IN ('predicted', 'confirmed', 'in_progress') AND (p_kind = 'feeder' OR c.dp_id IS NULL)
                    UNION ALL
                    SELECT a.child FROM unnest(p_arriving_out) AS a(child)) x),
           (SELECT array_agg(c.id) FROM children c WHERE NOT c.operator_pinned),
           (SELECT count(DISTINCT x.customer_id)
              FROM (SELECT m.customer_id FROM children c
                      JOIN oms_outage_meters om ON om.outage_event_id = c.id AND om.reported
                      JOIN oms_meters m ON m.id = om.meter_id
                    UNION ALL
                    SELECT a.customer_id FROM unnest(p_arriving_customers) AS a(customer_id)) x)
$$;
COMMENT ON FUNCTION oms_rollup_children(text, uuid, timestamptz, uuid[], uuid[]) IS
    'Under a feeder or substation: the children out, the outages a roll-up would take in, the customers reporting (rollup.*), with what evidence arriving now adds.';

-- The roll-up rule with the values of rollup.min_children, rollup.children_share and
-- rollup.customer_share given (read once by a set-based statement; oms_rollup_passes below
-- reads them itself).
CREATE OR REPLACE FUNCTION oms_rollup_rule(p_children_out bigint, p_children bigint, p_reporting bigint,
                                           p_capable_customers bigint, p_min_children numeric, p_children_share numeric,
                                           p_customer_share numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_children_out >= p_min_children AND p_children_out >= p_children_share * p_children)
           OR (p_capable_customers > 0 AND p_reporting >= p_customer_share * p_capable_customers)
$$;
COMMENT ON FUNCTION oms_rollup_rule(bigint, bigint, bigint, bigint, numeric, numeric, numeric) IS
    'The roll-up rule with the values of rollup.min_children, rollup.children_share and rollup.customer_share given.';

-- The roll-up rule: a feeder (or substation) is predicted when p_children_out of
-- its p_children children with meters are out (at least rollup.min_children and
-- rollup.children_share of them), or when p_reporting of its p_capable_customers
-- customers able to report reported (rollup.customer_share).
CREATE OR REPLACE FUNCTION oms_rollup_passes(p_children_out bigint, p_children bigint, p_reporting bigint,
                                             p_capable_customers bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT oms_rollup_rule(p_children_out, p_children, p_reporting, p_capable_customers,
                           oms_setting_numeric('rollup.min_children'), oms_setting_numeric('rollup.children_share'),
                           oms_setting_numeric('rollup.customer_share'))
$$;
COMMENT ON FUNCTION oms_rollup_passes(bigint, bigint, bigint, bigint) IS
    'The roll-up rule (rollup.*): whether a feeder or substation with these children out and customers reporting is predicted.';

-- The roll-up's working set (a session's temp table): the devices of one level that roll up.
CREATE OR REPLACE FUNCTION oms_rollup_work_ready() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.oms_rollup_work') IS NULL THEN
        CREATE TEMP TABLE oms_rollup_work (substation_id uuid, feeder_id uuid, code text, children_ids uuid[],
                                           reason text, numbers jsonb, outage_id uuid, opened boolean) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_rollup_work');
END;
$$;
COMMENT ON FUNCTION oms_rollup_work_ready() IS
    'Creates (once per session) and empties the roll-up''s working set oms_rollup_work.';

-- Why a feeder or substation rolls up, for its timeline entry: the rule's numbers and
-- settings (the reason) and the numbers alone (the entry's metadata). p_arriving_out: the
-- children predicted on the evidence arriving now (oms_engine_rollup_arriving), said too.
CREATE OR REPLACE FUNCTION oms_rollup_explained(p_kind text, p_code text, p_children_out bigint, p_children bigint,
                                                p_reporting bigint, p_capable_customers bigint,
                                                p_arriving_out integer DEFAULT NULL,
                                                OUT reason text, OUT numbers jsonb)
LANGUAGE sql STABLE AS $$
    SELECT format('%s of %s %s of %s %s out, %s of %s customers able to report reported, within %s%s; rollup.min_children = %s, rollup.children_share = %s, rollup.customer_share = %s -> %s %s predicted',
                  p_children_out, p_children, x.children, p_kind, p_code, p_reporting, p_capable_customers,
                  oms_setting_interval_minutes('rollup.window_minutes'),
                  CASE WHEN p_arriving_out IS NOT NULL
                       THEN format(', counting the evidence arriving now (%s %s predicted on it: predict.dp_min_reports = %s, predict.dp_report_share = %s)',
                                   p_arriving_out, x.children, oms_setting_numeric('predict.dp_min_reports')::integer,
                                   oms_setting_numeric('predict.dp_report_share'))
                       ELSE '' END,
                  oms_setting_numeric('rollup.min_children')::integer, oms_setting_numeric('rollup.children_share'),
                  oms_setting_numeric('rollup.customer_share'), p_kind, p_code),
           jsonb_build_object('rule', 'rollup', 'children', p_children, 'children_out', p_children_out,
                              'customers', p_capable_customers, 'customers_reporting', p_reporting)
           || CASE WHEN p_arriving_out IS NOT NULL THEN jsonb_build_object('arriving_children_out', p_arriving_out)
                   ELSE '{}'::jsonb END
      FROM (SELECT CASE p_kind WHEN 'feeder' THEN 'distribution points' ELSE 'feeders' END AS children) x
$$;
COMMENT ON FUNCTION oms_rollup_explained(text, text, bigint, bigint, bigint, bigint, integer) IS
    'The reason (numbers and settings) and metadata of a roll-up''s timeline entry; with what the evidence arriving now added.';

-- The roll-up (oms_engine_evaluate's second step, and oms_engine_sweep's):
-- feeders over their distribution points, then substations over their feeders,
-- each only with the device's lock exclusive (oms_engine_lock_or_defer: a
-- device another writer holds is deferred, not waited for). All the devices of
-- a level whose rule fires roll up together (oms_rollup_devices). Returns the
-- outages it changed.
--
-- Its statements, and oms_engine_rollup_arriving's, are planned once per session
-- (plan_cache_mode = force_generic_plan): each serves both levels (v_kind), so a
-- custom plan, which drops the other level's branch, always looked cheaper than
-- the generic one, and each call planned them again: 1.1 ms a plan for a
-- statement that runs in microseconds, twice a call. Their sets are a batch's
-- few devices, for which the generic plan is as good; the merges and covers they
-- call run with generic plans too (the 1M storm and the SCADA benchmarks did not
-- move, the latency window's database time fell 5-10%).
CREATE OR REPLACE FUNCTION oms_engine_rollup(p_feeders uuid[], p_substations uuid[], p_time timestamptz)
RETURNS uuid[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_window         interval := oms_setting_interval_minutes('rollup.window_minutes');
    v_min_children   numeric := oms_setting_numeric('rollup.min_children');
    v_children_share numeric := oms_setting_numeric('rollup.children_share');
    v_customer_share numeric := oms_setting_numeric('rollup.customer_share');
    v_changed        uuid[] := ARRAY[]::uuid[];
    v_substations    uuid[] := coalesce(p_substations, ARRAY[]::uuid[]);
    v_locked         uuid[];
    v_kind           text;
    v_feeder_outages uuid[];
    v_merged         uuid[];
    v_into           uuid[];
    v_reasons        text[];
BEGIN
    -- Feeders first (their roll-ups make substations to evaluate), then substations.
    FOREACH v_kind IN ARRAY ARRAY['feeder', 'substation'] LOOP
        v_locked := oms_engine_lock_or_defer(v_kind, CASE v_kind WHEN 'feeder' THEN p_feeders ELSE v_substations END,
                                             p_time);
        -- Working set (a session's temp table, emptied at each level): the devices that roll up.
        PERFORM oms_rollup_work_ready();
        INSERT INTO oms_rollup_work (substation_id, feeder_id, code, children_ids, reason, numbers)
        SELECT d.substation_id, d.feeder_id, d.code, k.out_ids, e.reason, e.numbers
          FROM (SELECT f.substation_id, f.id AS feeder_id, f.feeder_id AS code FROM network_feeders f
                 WHERE v_kind = 'feeder' AND f.id = ANY (v_locked)
                UNION ALL
                SELECT s.id, NULL::uuid, s.substation_id FROM network_substations s
                 WHERE v_kind = 'substation' AND s.id = ANY (v_locked)) d
          CROSS JOIN LATERAL oms_device_size(d.substation_id, d.feeder_id, NULL) z
          CROSS JOIN LATERAL oms_rollup_children(v_kind, coalesce(d.feeder_id, d.substation_id), p_time - v_window) k
          CROSS JOIN LATERAL oms_rollup_explained(v_kind, d.code, k.out_children, z.children, k.reporting,
                                                  z.capable_customers) e
         WHERE NOT oms_device_shown_closed(v_kind, coalesce(d.feeder_id, d.substation_id))
           AND oms_rollup_rule(k.out_children, z.children, k.reporting, z.capable_customers, v_min_children,
                               v_children_share, v_customer_share);
        IF FOUND AND v_kind = 'feeder' THEN
            -- The feeders' outages are opened (predicted) now and take in their
            -- distribution points' outages only after the substations' turn: a
            -- substation rolling up in the same call takes those outages itself
            -- (they are its children too), so their meters, evidence and feed rows
            -- move once, not through the feeder. (A storm predicts a substation's
            -- feeders and the substation in one batch.)
            v_feeder_outages := oms_rollup_devices(p_time, false);
            v_changed := v_changed || v_feeder_outages;
            SELECT array_agg(c.id), array_agg(w.outage_id), array_agg(w.reason) INTO v_merged, v_into, v_reasons
              FROM oms_rollup_work w CROSS JOIN LATERAL unnest(w.children_ids) AS c(id);
            v_substations := v_substations || ARRAY(SELECT w.substation_id FROM oms_rollup_work w);
        ELSIF FOUND THEN
            v_changed := v_changed || oms_rollup_devices(p_time);
        END IF;
    END LOOP;

    IF v_feeder_outages IS NOT NULL THEN
        -- What the substations did not take: each distribution point's outage into its
        -- feeder's (or, if a substation took the feeder's, into that survivor; the
        -- pairs already merged are skipped), then the feeders' outages still active
        -- cover their meters.
        PERFORM oms_merge_outage_pairs(v_merged,
                                       ARRAY(SELECT coalesce(o.merged_into_id, o.id)
                                               FROM unnest(v_into) WITH ORDINALITY AS i(id, n)
                                               JOIN oms_outage_events o ON o.id = i.id ORDER BY i.n),
                                       v_reasons, 'rollup', p_time);
        PERFORM oms_outage_cover(ARRAY(SELECT o.id FROM oms_outage_events o
                                        WHERE o.id = ANY (v_feeder_outages)
                                          AND o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')));
    END IF;

    RETURN ARRAY(SELECT DISTINCT u FROM unnest(v_changed) u);
END;
$$;
COMMENT ON FUNCTION oms_engine_rollup(uuid[], uuid[], timestamptz) IS
    'Roll-up: feeders over their distribution points, then substations over their feeders (rollup.*), each under its exclusive lock or deferred; returns the outages changed.';

-- The devices among p_ids (feeders or substations) whose lock this
-- transaction gets exclusive at once (it may hold it shared already); the
-- others are deferred to oms_engine_sweep (oms_engine_pending, evaluated at
-- p_time). Never waits: a batch holding the device shared must not wait for
-- another that does too.
CREATE OR REPLACE FUNCTION oms_engine_lock_or_defer(p_kind text, p_ids uuid[], p_time timestamptz) RETURNS uuid[]
LANGUAGE plpgsql AS $$
DECLARE
    v_locked uuid[] := ARRAY[]::uuid[];
    v_id     uuid;
BEGIN
    FOR v_id IN SELECT DISTINCT u FROM unnest(p_ids) u WHERE u IS NOT NULL ORDER BY 1 LOOP
        IF pg_try_advisory_xact_lock(oms_device_lock_key(p_kind, v_id)) THEN
            v_locked := v_locked || v_id;
        ELSIF pg_try_advisory_xact_lock(oms_device_lock_key('pending.' || p_kind, v_id)) THEN
            -- (Only one writer records it at a time: none waits on another's row.)
            INSERT INTO oms_engine_pending AS p (device_kind, device_id, due_at)
            VALUES (p_kind, v_id, p_time)
            ON CONFLICT (device_kind, device_id) DO UPDATE SET due_at = greatest(p.due_at, excluded.due_at);
        END IF;
    END LOOP;
    RETURN v_locked;
END;
$$;
COMMENT ON FUNCTION oms_engine_lock_or_defer(text, uuid[], timestamptz) IS
    'The feeders or substations whose engine lock this transaction gets exclusive at once; the others deferred to oms_engine_sweep.';

-- Does one deferred roll-up, in the caller's transaction: the oldest whose
-- device's locks it gets at once (taken in the hierarchy's order); one
-- deferred longer than p_patience waits for them (the writers holding the
-- device finish; new ones queue behind the sweep). Returns 1, or 0 when
-- nothing is pending that it can do now. The service calls it a few times a
-- second, one transaction each, until it returns 0.
CREATE OR REPLACE FUNCTION oms_engine_sweep(p_patience interval DEFAULT interval '2 seconds') RETURNS integer
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_pending    oms_engine_pending;
    v_substation uuid;
    v_changed    uuid[];
    v_wait       boolean;
    v_got        boolean;
BEGIN
    FOR v_pending IN SELECT * FROM oms_engine_pending p ORDER BY p.deferred_at, p.device_kind, p.device_id LOOP
        v_wait := v_pending.deferred_at < clock_timestamp() - p_patience;
        IF v_pending.device_kind = 'feeder' THEN
            SELECT f.substation_id INTO v_substation FROM network_feeders f WHERE f.id = v_pending.device_id;
        ELSE
            v_substation := v_pending.device_id;
        END IF;
        -- First the lock a writer holds while it records this device (it never waits
        -- for it), then the device's: whatever a writer deferred is committed before
        -- the roll-up reads it, and none records it again meanwhile.
        IF v_wait THEN
            PERFORM pg_advisory_xact_lock(oms_device_lock_key('pending.' || v_pending.device_kind, v_pending.device_id));
            PERFORM oms_lock_device(v_substation, CASE WHEN v_pending.device_kind = 'feeder' THEN v_pending.device_id END);
            v_got := true;
        ELSE
            v_got := pg_try_advisory_xact_lock(oms_device_lock_key('pending.' || v_pending.device_kind, v_pending.device_id))
                 AND CASE WHEN v_pending.device_kind = 'feeder'
                          THEN pg_try_advisory_xact_lock_shared(oms_device_lock_key('substation', v_substation))
                               AND pg_try_advisory_xact_lock(oms_device_lock_key('feeder', v_pending.device_id))
                          ELSE pg_try_advisory_xact_lock(oms_device_lock_key('substation', v_substation)) END;
        END IF;
        IF v_got THEN
            v_changed := oms_engine_rollup(
                CASE WHEN v_pending.device_kind = 'feeder' THEN ARRAY[v_pending.device_id] END,
                CASE WHEN v_pending.device_kind = 'substation' THEN ARRAY[v_pending.device_id] END, v_pending.due_at);
            DELETE FROM oms_engine_pending p
             WHERE p.device_kind = v_pending.device_kind AND p.device_id = v_pending.device_id;
            IF cardinality(v_changed) > 0 THEN
                PERFORM oms_refresh_outages(v_changed, v_pending.due_at, false);
            END IF;
            RETURN 1;
        END IF;
        -- (A lock tried and got stays held to the end of the transaction: end it,
        -- the caller tries again at its next tick.)
        RETURN 0;
    END LOOP;
    RETURN 0;
END;
$$;
COMMENT ON FUNCTION oms_engine_sweep(interval) IS
    'Does the oldest deferred roll-up whose device it can lock now (waiting for one deferred longer than p_patience); 1, or 0 when none can be done now.';

-- The roll-up's step, for the devices in the working set oms_rollup_work
-- (filled by oms_engine_rollup, one level at a time): each device's outage
-- (found, or opened as predicted) takes in the outages below it and covers
-- every meter under it. A fixed number of statements however many devices roll
-- up. Returns the devices' outages. Without p_merge, the outages are only
-- found or opened (predicted, with their timeline entries): the caller merges
-- and covers later (oms_engine_rollup, when the level above may take the
-- outages below at once).
CREATE OR REPLACE FUNCTION oms_rollup_devices(p_time timestamptz, p_merge boolean DEFAULT true) RETURNS uuid[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_outages uuid[];
BEGIN
    PERFORM oms_work_table_analyze('pg_temp.oms_rollup_work');  -- (a temp table has no statistics of its own)
    -- The device's active outage, if it has one.
    UPDATE oms_rollup_work w SET outage_id = oms_device_outage(w.substation_id, w.feeder_id), opened = false;

    -- The others opened as predicted, starting with their earliest child; their
    -- confidence the children's best (from the children by primary key: a min()
    -- over "id = ANY" let the planner walk the whole start-time index instead).
    WITH starts AS (
        SELECT w.substation_id, w.feeder_id, w.reason, coalesce(min(o.first_detected_at), p_time) AS start,
               max(o.confidence_score) AS confidence
          FROM oms_rollup_work w
          LEFT JOIN LATERAL unnest(w.children_ids) AS c(id) ON true
          LEFT JOIN oms_outage_events o ON o.id = c.id
         WHERE w.outage_id IS NULL
         GROUP BY w.substation_id, w.feeder_id, w.reason
    ),
    opened AS (
        -- (Covering its device from the start when it takes in its children now: oms_outage_cover
        -- below then only places the outages beneath, without a second version of the row.)
        INSERT INTO oms_outage_events (event_id, event_type, status, basis, severity, confidence_score, root_cause,
                                       description, substation_id, feeder_id, event_latitude, event_longitude,
                                       first_detected_at, covers_device)
        SELECT format('OMS_ROLLUP_%s_%s', floor(extract(epoch FROM x.start))::bigint,
                      left(md5(coalesce(x.feeder_id, x.substation_id)::text || '/' || x.start::text), 8)),
               'outage', 'predicted', 'rollup', 'high', coalesce(x.confidence, 0.5),
               format('Predicted outage of %s', oms_device_name(x.substation_id, x.feeder_id, NULL)), x.reason,
               x.substation_id, x.feeder_id,
               coalesce(f.location_lat, s.location_lat), coalesce(f.location_lng, s.location_lng), x.start, p_merge
          FROM starts x
          JOIN network_substations s ON s.id = x.substation_id
          LEFT JOIN network_feeders f ON f.id = x.feeder_id
        RETURNING id, substation_id, feeder_id
    )
    UPDATE oms_rollup_work w SET outage_id = o.id, opened = true
      FROM opened o
     WHERE w.outage_id IS NULL AND o.substation_id = w.substation_id
       AND o.feeder_id IS NOT DISTINCT FROM w.feeder_id;

    -- An outage found: predicted now if it was only detected.
    UPDATE oms_outage_events o SET status = 'predicted', basis = 'rollup', last_updated_at = now()
      FROM oms_rollup_work w
     WHERE o.id = w.outage_id AND NOT w.opened AND o.status = 'detected';
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT w.outage_id, CASE WHEN w.opened THEN 'predicted' ELSE 'rolled_up' END, o.status, w.reason, 'system', p_time,
           w.numbers
      FROM oms_rollup_work w JOIN oms_outage_events o ON o.id = w.outage_id;

    v_outages := ARRAY(SELECT w.outage_id FROM oms_rollup_work w WHERE w.outage_id IS NOT NULL);
    IF p_merge THEN
        PERFORM oms_merge_outage_pairs(array_agg(c.id), array_agg(w.outage_id), array_agg(w.reason), 'rollup', p_time)
           FROM oms_rollup_work w CROSS JOIN LATERAL unnest(w.children_ids) AS c(id);
        PERFORM oms_outage_cover(v_outages);
    END IF;
    RETURN v_outages;
END;
$$;
COMMENT ON FUNCTION oms_rollup_devices(timestamptz, boolean) IS
    'Roll-up of the devices in oms_rollup_work: each device''s outage (found or opened as predicted) takes in the outages below and covers every meter under it (or, without p_merge, is only found or opened).';

-- Roll-up of evidence arriving now, before any outage is opened for it
-- (oms_link_feed_evidence calls it for the evidence nothing covers, in its working
-- set oms_link_work). The distribution points that evidence would open are judged
-- by the prediction rule as if opened (oms_prediction_passes); where one passes,
-- its feeder is judged by the roll-up rule (oms_rollup_passes) over the outages
-- open below it and what arrives now (oms_rollup_children), then the substations
-- of the feeders that roll up, the same way. Each device the rule predicts gets its
-- outage at once (oms_rollup_devices: found or opened as predicted, taking in the
-- outages open below it, covering its meters; a substation's takes its feeders'
-- share), and the arriving evidence under it is linked to that outage: the
-- distribution points' outages, which oms_engine_evaluate would predict and at
-- once merge into it, are never opened. (A storm's last gasps from both meter
-- feeds of an area arrive together through the feed intake: opening and merging a
-- thousand such outages a batch took most of the correlators' time.) The locks
-- and deferral are oms_engine_rollup's (oms_engine_lock_or_defer); what the rules
-- do not roll up is opened per distribution point as before. Returns the outages
-- the evidence was linked to.
CREATE OR REPLACE FUNCTION oms_engine_rollup_arriving(p_time timestamptz) RETURNS uuid[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_window         interval := oms_setting_interval_minutes('rollup.window_minutes');
    v_min_reports    numeric := oms_setting_numeric('predict.dp_min_reports');
    v_report_share   numeric := oms_setting_numeric('predict.dp_report_share');
    v_min_children   numeric := oms_setting_numeric('rollup.min_children');
    v_children_share numeric := oms_setting_numeric('rollup.children_share');
    v_customer_share numeric := oms_setting_numeric('rollup.customer_share');
    v_version        bigint := (SELECT r.version FROM oms_registry_version r);
    v_kind           text;
    v_locked         uuid[];
    v_outages        uuid[] := ARRAY[]::uuid[];
BEGIN
    -- Working set (a session's temp table, emptied at each call): the devices judged, and for
    -- those that roll up, the outages open below them that they take in (children_ids).
    IF to_regclass('pg_temp.oms_rollup_arriving_work') IS NULL THEN
        CREATE TEMP TABLE oms_rollup_arriving_work (kind text, substation_id uuid, feeder_id uuid, dp_id uuid, code text,
                                                    reports bigint, capable bigint, passes boolean, customers uuid[],
                                                    children_ids uuid[], reason text, numbers jsonb, outage_id uuid) ON COMMIT DELETE ROWS;
    END IF;
    PERFORM oms_work_table_clear('pg_temp.oms_rollup_arriving_work');

    -- 1. The distribution points the evidence would open, judged as if opened.
    INSERT INTO oms_rollup_arriving_work (kind, substation_id, feeder_id, dp_id, reports, capable, passes, customers)
    -- (Each distribution point's size from the cache, joined; counted, and kept, only where
    -- the cache lacks it.)
    SELECT 'dp', d.substation_id, d.feeder_id, d.dp_id, d.reports, z.capable_meters,
           oms_prediction_rule('dp', d.reports, z.capable_meters, v_min_reports, v_report_share, v_customer_share),
           d.customers
      FROM (SELECT l.substation_id, l.feeder_id, l.dp_id, count(DISTINCT l.meter_id) AS reports,
                   coalesce(array_agg(DISTINCT l.customer_id) FILTER (WHERE l.customer_id IS NOT NULL),
                            ARRAY[]::uuid[]) AS customers
              FROM oms_link_work l
             WHERE l.evidence = 'outage' AND l.outage_event_id IS NULL AND l.dp_id IS NOT NULL
               AND l.feeder_id IS NOT NULL AND l.substation_id IS NOT NULL
             GROUP BY l.substation_id, l.feeder_id, l.dp_id) d
      LEFT JOIN oms_device_sizes c ON c.device_kind = 'dp' AND c.device_id = d.dp_id AND c.registry_version = v_version
      CROSS JOIN LATERAL (SELECT coalesce(c.capable_meters,
                                          (oms_device_size(d.substation_id, d.feeder_id, d.dp_id)).capable_meters)
                                     AS capable_meters) z;
    IF NOT EXISTS (SELECT 1 FROM oms_rollup_arriving_work w WHERE w.passes) THEN
        RETURN v_outages;
    END IF;
    PERFORM oms_work_table_analyze('pg_temp.oms_rollup_arriving_work');  -- (a temp table has no statistics of its own)

    -- 2. The feeders of the distribution points that pass, then the substations of the feeders
    -- that roll up: the rule over what is open below each and what arrives now.
    FOREACH v_kind IN ARRAY ARRAY['feeder', 'substation'] LOOP
        v_locked := oms_engine_lock_or_defer(v_kind, ARRAY(
                        SELECT DISTINCT CASE v_kind WHEN 'feeder' THEN w.feeder_id ELSE w.substation_id END
                          FROM oms_rollup_arriving_work w
                         WHERE (v_kind = 'feeder' AND w.kind = 'dp' AND w.passes) OR (v_kind = 'substation' AND w.kind = 'feeder')),
                        p_time);
        INSERT INTO oms_rollup_arriving_work (kind, substation_id, feeder_id, code, passes, children_ids, reason, numbers)
        SELECT v_kind, a.substation_id, a.feeder_id, a.code, true, k.out_ids, e.reason, e.numbers
          FROM (SELECT d.substation_id, d.feeder_id, d.code, coalesce(o.out_ids, ARRAY[]::uuid[]) AS out_ids,
                       coalesce(c.customers, ARRAY[]::uuid[]) AS customers
                  FROM (SELECT f.substation_id, f.id AS feeder_id, f.feeder_id AS code FROM network_feeders f
                         WHERE v_kind = 'feeder' AND f.id = ANY (v_locked)
                        UNION ALL
                        SELECT s.id, NULL::uuid, s.substation_id FROM network_substations s
                         WHERE v_kind = 'substation' AND s.id = ANY (v_locked)) d
                  -- What arrives under each: the children out (distribution points that pass, or
                  -- feeders that rolled up) and the customers reporting, grouped once.
                  LEFT JOIN (SELECT CASE v_kind WHEN 'feeder' THEN w.feeder_id ELSE w.substation_id END AS device_id,
                                    array_agg(CASE v_kind WHEN 'feeder' THEN w.dp_id ELSE w.feeder_id END) AS out_ids
                               FROM oms_rollup_arriving_work w
                              WHERE w.passes AND w.kind = CASE v_kind WHEN 'feeder' THEN 'dp' ELSE 'feeder' END
                              GROUP BY 1) o ON o.device_id = coalesce(d.feeder_id, d.substation_id)
                  LEFT JOIN (SELECT CASE v_kind WHEN 'feeder' THEN w.feeder_id ELSE w.substation_id END AS device_id,
                                    array_agg(DISTINCT u.customer_id) AS customers
                               FROM oms_rollup_arriving_work w CROSS JOIN LATERAL unnest(w.customers) AS u(customer_id)
                              WHERE w.kind = 'dp'
                              GROUP BY 1) c ON c.device_id = coalesce(d.feeder_id, d.substation_id)) a0
          CROSS JOIN LATERAL (SELECT a0.*, cardinality(a0.out_ids) AS arriving_out) a
          CROSS JOIN LATERAL oms_device_size(a.substation_id, a.feeder_id, NULL) z
          CROSS JOIN LATERAL oms_rollup_children(v_kind, coalesce(a.feeder_id, a.substation_id), p_time - v_window,
                                                 a.out_ids, a.customers) k
          CROSS JOIN LATERAL oms_rollup_explained(v_kind, a.code, k.out_children, z.children, k.reporting,
                                                  z.capable_customers, a.arriving_out) e
         WHERE NOT oms_device_shown_closed(v_kind, coalesce(a.feeder_id, a.substation_id))
           AND oms_rollup_rule(k.out_children, z.children, k.reporting, z.capable_customers, v_min_children,
                               v_children_share, v_customer_share);
        EXIT WHEN NOT FOUND;
    END LOOP;

    -- 3. Their outages: the substations' first (they take in what is open under their
    -- feeders too), then the feeders' not under one. Each found or opened as predicted,
    -- taking in the outages open below it (not pinned by an operator: step 2's count of
    -- them), covering its meters.
    FOREACH v_kind IN ARRAY ARRAY['substation', 'feeder'] LOOP
        PERFORM oms_rollup_work_ready();
        INSERT INTO oms_rollup_work (substation_id, feeder_id, code, children_ids, reason, numbers)
        SELECT w.substation_id, w.feeder_id, w.code, w.children_ids, w.reason, w.numbers
          FROM oms_rollup_arriving_work w
         WHERE w.kind = v_kind
           AND NOT (v_kind = 'feeder' AND EXISTS (SELECT 1 FROM oms_rollup_arriving_work s
                                                   WHERE s.kind = 'substation' AND s.substation_id = w.substation_id));
        CONTINUE WHEN NOT FOUND;
        v_outages := v_outages || oms_rollup_devices(p_time);
        UPDATE oms_rollup_arriving_work w SET outage_id = r.outage_id
          FROM oms_rollup_work r
         WHERE w.kind = v_kind AND r.substation_id = w.substation_id AND r.feeder_id IS NOT DISTINCT FROM w.feeder_id;
    END LOOP;

    -- 4. The evidence under them (every piece nothing covered, of a distribution point or not) linked to them.
    UPDATE oms_link_work l SET outage_event_id = s.outage_id
      FROM oms_rollup_arriving_work s
     WHERE s.kind = 'substation' AND s.outage_id IS NOT NULL AND s.substation_id = l.substation_id
       AND l.evidence = 'outage' AND l.outage_event_id IS NULL;
    UPDATE oms_link_work l SET outage_event_id = f.outage_id
      FROM oms_rollup_arriving_work f
     WHERE f.kind = 'feeder' AND f.outage_id IS NOT NULL AND f.feeder_id = l.feeder_id
       AND l.evidence = 'outage' AND l.outage_event_id IS NULL;
    RETURN v_outages;
END;
$$;
COMMENT ON FUNCTION oms_engine_rollup_arriving(timestamptz) IS
    'Roll-up of the evidence arriving now that nothing covers (oms_link_work): feeders and substations the rules predict on it get their outage at once, the evidence linked to it; returns those outages.';

-- ---------------------------------------------------------------------------
-- Restoration.

-- Ends an outage as restored at p_time: its meters still out are restored then
-- (restored_by p_how), except those that reported a loss after p_time, which
-- become a nested outage; the momentary verdict is written with the numbers.
CREATE OR REPLACE FUNCTION oms_restore_outage(p_outage_id uuid, p_time timestamptz, p_how text, p_reason text,
                                              p_source text DEFAULT 'system')
RETURNS void
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_outage     oms_outage_events;
    v_momentary  numeric := oms_setting_numeric('outage.momentary_minutes');
    v_still_out  uuid[];
    v_restored   integer;
    v_minutes    numeric;
BEGIN
    SELECT * INTO v_outage FROM oms_outage_events WHERE id = p_outage_id FOR UPDATE;
    IF v_outage.status IN ('restored', 'closed', 'cancelled', 'merged') THEN
        RETURN;
    END IF;
    SELECT array_agg(om.meter_id) INTO v_still_out
      FROM oms_outage_meters om
     WHERE om.outage_event_id = p_outage_id AND om.restored_at IS NULL AND om.last_evidence_at > p_time;
    IF v_still_out IS NOT NULL THEN
        PERFORM oms_nest_meters(p_outage_id, v_still_out, p_time,
            format('%s meters reported a loss after %s was restored at %s', cardinality(v_still_out),
                   v_outage.event_id, p_time));
    END IF;
    UPDATE oms_outage_meters SET restored_at = p_time, restored_by = p_how
     WHERE outage_event_id = p_outage_id AND restored_at IS NULL;
    GET DIAGNOSTICS v_restored = ROW_COUNT;
    v_minutes := round((extract(epoch FROM p_time - v_outage.first_detected_at) / 60)::numeric, 2);
    UPDATE oms_outage_events
       SET status = 'restored', actual_restoration_time = p_time,
           momentary = v_minutes <= v_momentary, last_updated_at = now()
     WHERE id = p_outage_id;
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    VALUES (p_outage_id, 'restored', 'restored',
            format('Restored: %s; %s meters restored at once; out %s min, outage.momentary_minutes = %s -> %s',
                   p_reason, v_restored, v_minutes, v_momentary,
                   CASE WHEN v_minutes <= v_momentary THEN 'momentary' ELSE 'sustained' END),
            p_source, p_time,
            jsonb_build_object('rule', 'restore', 'how', p_how, 'minutes', v_minutes,
                               'momentary', v_minutes <= v_momentary, 'meters_restored', v_restored));
END;
$$;
COMMENT ON FUNCTION oms_restore_outage(uuid, timestamptz, text, text, text) IS
    'Restores an outage at a time: meters still out restored then, those with a later loss nested; momentary verdict.';

-- Moves meters that are still out when their outage is restored into an
-- outage of their own on their lowest common device, backdated to the
-- parent's start (parent_outage_id); they leave the parent, so no customer
-- minute counts twice. Returns the nested outage.
CREATE OR REPLACE FUNCTION oms_nest_meters(p_parent uuid, p_meter_ids uuid[], p_time timestamptz, p_reason text)
RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_parent  oms_outage_events;
    v_dp      uuid;
    v_feeder  uuid;
    v_sub     uuid;
    v_nested  uuid;
BEGIN
    SELECT * INTO v_parent FROM oms_outage_events WHERE id = p_parent;
    SELECT CASE WHEN count(DISTINCT m.dp_id) = 1 AND bool_and(m.dp_id IS NOT NULL) THEN min(m.dp_id::text)::uuid END,
           CASE WHEN count(DISTINCT m.feeder_id) = 1 AND bool_and(m.feeder_id IS NOT NULL) THEN min(m.feeder_id::text)::uuid END,
           CASE WHEN count(DISTINCT m.substation_id) = 1 THEN min(m.substation_id::text)::uuid END
      INTO v_dp, v_feeder, v_sub
      FROM oms_meters m WHERE m.id = ANY (p_meter_ids);
    INSERT INTO oms_outage_events (event_id, event_type, status, basis, severity, confidence_score, root_cause,
                                   description, substation_id, feeder_id, dp_id, first_detected_at, parent_outage_id)
    VALUES (format('OMS_NESTED_%s_%s', floor(extract(epoch FROM v_parent.first_detected_at))::bigint,
                   left(md5(p_parent::text || '/' || p_time::text), 8)),
            'outage', CASE WHEN v_parent.status IN ('confirmed', 'in_progress') THEN 'confirmed' ELSE 'predicted' END,
            'evidence', v_parent.severity, v_parent.confidence_score,
            format('Nested under %s', v_parent.event_id), p_reason,
            coalesce(v_sub, v_parent.substation_id), v_feeder, v_dp, v_parent.first_detected_at, p_parent)
    RETURNING id INTO v_nested;
    INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at, reported)
    SELECT v_nested, om.meter_id, om.source_type, om.first_evidence_at, om.last_evidence_at, om.reported
      FROM oms_outage_meters om WHERE om.outage_event_id = p_parent AND om.meter_id = ANY (p_meter_ids);
    DELETE FROM oms_outage_meters WHERE outage_event_id = p_parent AND meter_id = ANY (p_meter_ids);
    INSERT INTO oms_event_timeline (outage_event_id, event_type, status, description, source, "timestamp", metadata)
    SELECT v_nested, 'nested', o.status,
           format('Nested outage, backdated to the start of %s: %s', v_parent.event_id, p_reason), 'system', p_time,
           jsonb_build_object('rule', 'nested', 'parent', v_parent.event_id, 'meters', cardinality(p_meter_ids))
      FROM oms_outage_events o WHERE o.id = v_nested
    UNION ALL
    SELECT p_parent, 'meters_nested', v_parent.status,
           format('%s meters moved to nested outage %s: %s', cardinality(p_meter_ids), o.event_id, p_reason), 'system',
           p_time, jsonb_build_object('rule', 'nested', 'nested', o.event_id, 'meters', cardinality(p_meter_ids))
      FROM oms_outage_events o WHERE o.id = v_nested;
    PERFORM oms_refresh_outages(ARRAY[v_nested, p_parent], p_time, false);
    RETURN v_nested;
END;
$$;
COMMENT ON FUNCTION oms_nest_meters(uuid, uuid[], timestamptz, text) IS
    'Moves meters still out after their outage''s restoration into a nested outage, backdated to its start.';
