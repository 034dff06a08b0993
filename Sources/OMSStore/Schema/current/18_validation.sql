-- The seed's "Validation Checklist" as named checks, and how the registry was
-- populated.
--
--   SELECT * FROM oms_validation_report();
--
-- One row per check: check_name, passed, detail. `oms validate` prints the
-- same rows and exits non-zero when one fails.
--
--   oms_validation_report_core()  the checklist: registry and mappings populated
--                                 and consistent, meters linked per feed identity,
--                                 feeds referencing oms_meters, evidence references
--                                 resolving (versioned/0118), views answering,
--                                 foreign keys indexed
--   oms_validation_report()       the core checks, then:
--     registry duplicates left     active meters whose numbers are the same once normalised
--                                  (oms_meter_number_key, leading zeros per call_center.strip_leading_zeros),
--                                  plus those the latest oms_migrate_registry() run left in place
--     registry conflicts open      facts the latest registry migration found its sources disagree on
--     meters without topology      active meters under no substation: SCADA checks and
--                                  correlation cannot see them (import their topology, or run
--                                  oms_link_meters_by_proximity())
--     topology explicit/inferred   how many links are explicit and how many inferred by
--                                  proximity, with their distances (informational: always passes)
--   The first three fail while anything is left to resolve.

-- The checklist.
CREATE OR REPLACE FUNCTION oms_validation_report_core()
RETURNS TABLE (check_name text, passed boolean, detail text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_active_meters      bigint;
    v_count              bigint;
    v_missing            bigint;
    v_stale              bigint;
    v_orphaned           bigint;
    v_view               text;
    v_reference          record;
    v_problems           text[] := ARRAY[]::text[];
BEGIN
    SELECT count(*) INTO v_active_meters FROM oms_meters WHERE status = 'active';
    check_name := 'registry populated';
    passed := v_active_meters > 0;
    detail := format('%s active meters in oms_meters', v_active_meters);
    RETURN NEXT;

    SELECT count(*) INTO v_count FROM network_substation_meters;
    check_name := 'substation mapping populated';
    passed := v_count > 0;
    detail := format('%s rows in network_substation_meters', v_count);
    RETURN NEXT;

    SELECT count(*) INTO v_count FROM network_feeder_meters;
    check_name := 'feeder mapping populated';
    passed := v_count > 0;
    detail := format('%s rows in network_feeder_meters', v_count);
    RETURN NEXT;

    -- Consistency: every active meter with a parent has its registry link; no
    -- registry link disagrees with the meter; no link points at an inactive meter.
    SELECT count(*) INTO v_missing FROM oms_meters m
     WHERE m.status = 'active' AND m.substation_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM network_substation_meters l
                        WHERE l.meter_id = m.id AND l.substation_id = m.substation_id);
    SELECT count(*) INTO v_stale FROM network_substation_meters l JOIN oms_meters m ON m.id = l.meter_id
     WHERE l.link_source = 'registry' AND l.substation_id IS DISTINCT FROM m.substation_id;
    SELECT count(*) INTO v_orphaned FROM network_substation_meters l JOIN oms_meters m ON m.id = l.meter_id
     WHERE m.status <> 'active';
    check_name := 'substation mapping consistent with registry';
    passed := v_missing + v_stale + v_orphaned = 0;
    detail := format('%s meters missing their link, %s links disagreeing with the meter, %s links to inactive meters',
                     v_missing, v_stale, v_orphaned);
    RETURN NEXT;

    SELECT count(*) INTO v_missing FROM oms_meters m
     WHERE m.status = 'active' AND m.feeder_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM network_feeder_meters l
                        WHERE l.meter_id = m.id AND l.feeder_id = m.feeder_id);
    SELECT count(*) INTO v_stale FROM network_feeder_meters l JOIN oms_meters m ON m.id = l.meter_id
     WHERE l.link_source = 'registry' AND l.feeder_id IS DISTINCT FROM m.feeder_id;
    SELECT count(*) INTO v_orphaned FROM network_feeder_meters l JOIN oms_meters m ON m.id = l.meter_id
     WHERE m.status <> 'active';
    check_name := 'feeder mapping consistent with registry';
    passed := v_missing + v_stale + v_orphaned = 0;
    detail := format('%s meters missing their link, %s links disagreeing with the meter, %s links to inactive meters',
                     v_missing, v_stale, v_orphaned);
    RETURN NEXT;

    -- The seed's validation query, one check per column.
    SELECT count(*) INTO v_count FROM oms_meters WHERE status = 'active' AND onu_id IS NOT NULL;
    check_name := 'meters linked to ONU';
    passed := v_count > 0;
    detail := format('%s of %s active meters have an onu_id', v_count, v_active_meters);
    RETURN NEXT;

    SELECT count(*) INTO v_count FROM oms_meters WHERE status = 'active' AND asset_mrid IS NOT NULL;
    check_name := 'meters linked to KAIFA';
    passed := v_count > 0;
    detail := format('%s of %s active meters have an asset_mrid', v_count, v_active_meters);
    RETURN NEXT;

    SELECT count(*) INTO v_count FROM oms_meters WHERE status = 'active' AND customer_id IS NOT NULL;
    check_name := 'meters linked to a customer';
    passed := v_count > 0;
    detail := format('%s of %s active meters have a customer (call-center lookup by phone)', v_count, v_active_meters);
    RETURN NEXT;

    SELECT count(*) INTO v_count FROM oms_meters WHERE status = 'active' AND substation_id IS NOT NULL;
    check_name := 'meters linked to a substation';
    passed := v_count > 0;
    detail := format('%s of %s active meters have a substation (%s without)',
                     v_count, v_active_meters, v_active_meters - v_count);
    RETURN NEXT;

    -- "All four services link to oms_meters": each feed table references it;
    -- SCADA's checked meters by the meter ids its check reads from oms_meters
    -- (scada_event_checks, an array per check: versioned/0108).
    SELECT array_agg(t ORDER BY t) INTO v_problems
      FROM unnest(ARRAY['onu_events', 'kaifa_events', 'callcenter_tickets']) AS t
     WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c
                        WHERE c.contype = 'f' AND c.conrelid = to_regclass(t)
                          AND c.confrelid = 'oms_meters'::regclass);
    IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = to_regclass('scada_event_affected_meters') AND a.attname = 'meter_id'
                      AND NOT a.attisdropped) THEN
        v_problems := array_prepend('scada_event_affected_meters', v_problems);
    END IF;
    check_name := 'feeds link to oms_meters';
    passed := v_problems IS NULL;
    detail := CASE WHEN v_problems IS NULL
                   THEN 'onu_events, kaifa_events and callcenter_tickets reference oms_meters; '
                        || 'scada_event_affected_meters holds the ids of the meters each SCADA check read from it'
                   ELSE 'no reference to oms_meters from: ' || array_to_string(v_problems, ', ') END;
    RETURN NEXT;

    -- The evidence rows' references that no foreign key checks (versioned/0118: their writers
    -- take the ids from rows they hold; 26_evidence_references.sql cascades deletions): rows
    -- written by hand could name a meter or an outage that does not exist.
    v_problems := NULL;
    FOR v_reference IN
        SELECT * FROM (VALUES ('oms_event_sources', 'outage_event_id', 'oms_outage_events'),
                              ('oms_event_timeline', 'outage_event_id', 'oms_outage_events'),
                              ('oms_meter_status_events', 'meter_id', 'oms_meters'),
                              ('oms_outage_meters', 'meter_id', 'oms_meters'),
                              ('oms_outage_meters', 'outage_event_id', 'oms_outage_events'),
                              ('kaifa_events', 'outage_event_id', 'oms_outage_events'),
                              ('onu_events', 'outage_event_id', 'oms_outage_events'))
               AS r(table_name, column_name, referenced)
    LOOP
        EXECUTE format('SELECT count(*) FROM %I t WHERE t.%I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %I p WHERE p.id = t.%I)',
                       v_reference.table_name, v_reference.column_name, v_reference.referenced, v_reference.column_name)
           INTO v_count;
        IF v_count > 0 THEN
            v_problems := array_append(v_problems, format('%s.%s (%s rows)', v_reference.table_name,
                                                          v_reference.column_name, v_count));
        END IF;
    END LOOP;
    check_name := 'evidence references resolve';
    passed := v_problems IS NULL;
    detail := CASE WHEN passed
                   THEN 'every status audit row, outage meter, evidence and timeline row and feed event names an existing meter and outage'
                   ELSE 'references to no row: ' || array_to_string(v_problems, ', ') END;
    RETURN NEXT;

    -- Views answer.
    v_problems := ARRAY[]::text[];
    FOREACH v_view IN ARRAY ARRAY['network_substations_with_meters', 'network_feeders_with_meters',
                                  'oms_meters_with_topology', 'oms_active_outages'] LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM %I', v_view) INTO v_count;
        EXCEPTION WHEN OTHERS THEN
            v_problems := v_problems || format('%s (%s)', v_view, SQLERRM);
        END;
    END LOOP;
    check_name := 'views answer';
    passed := cardinality(v_problems) = 0;
    detail := CASE WHEN passed THEN '4 views return rows without error'
                   ELSE 'failing: ' || array_to_string(v_problems, '; ') END;
    RETURN NEXT;

    -- Every foreign key is the leading part of some index on its table.
    SELECT array_agg(format('%s(%s)', c.conrelid::regclass,
                            (SELECT string_agg(a.attname, ', ' ORDER BY k.n)
                               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum))
                     ORDER BY 1)
      INTO v_problems
      FROM pg_constraint c
      JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE c.contype = 'f'
       AND n.nspname = current_schema()
       AND NOT EXISTS (
             SELECT 1 FROM pg_index i
              WHERE i.indrelid = c.conrelid
                AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey);
    check_name := 'foreign keys indexed';
    passed := v_problems IS NULL;
    detail := CASE WHEN passed THEN 'every foreign key has an index that starts with its columns'
                   ELSE 'no index for: ' || array_to_string(v_problems, ', ') END;
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION oms_validation_report_core() IS
    'The seed''s validation checklist (registry, mappings, feeds, views, indexes); oms_validation_report() adds the registry-population checks.';

-- The checklist and the registry-population checks, after it.
CREATE OR REPLACE FUNCTION oms_validation_report()
RETURNS TABLE (check_name text, passed boolean, detail text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_strip         boolean := coalesce((oms_setting('call_center.strip_leading_zeros') #>> '{}')::boolean, false);
    v_groups        bigint;
    v_meters        bigint;
    v_examples      text;
    v_left          bigint;
    v_count         bigint;
    v_active        bigint;
    v_explicit      bigint;
    v_inferred      bigint;
    v_mean_km       double precision;
    v_max_km        double precision;
BEGIN
    RETURN QUERY SELECT * FROM oms_validation_report_core();

    SELECT count(*), coalesce(sum(g.n), 0),
           string_agg(g.numbers, '; ' ORDER BY g.numbers) FILTER (WHERE g.rank <= 5)
      INTO v_groups, v_meters, v_examples
      FROM (SELECT count(*) AS n, string_agg(m.meter_number, ' = ' ORDER BY m.meter_number) AS numbers,
                   row_number() OVER (ORDER BY min(m.meter_number)) AS rank
              FROM oms_meters m
             WHERE m.status = 'active'
             GROUP BY oms_meter_number_key(m.meter_number, v_strip)
            HAVING count(*) > 1) g;
    SELECT count(*) INTO v_left FROM oms_registry_duplicates_left;
    check_name := 'registry duplicates left';
    passed := v_groups = 0 AND v_left = 0;
    detail := format('%s groups of active meters share a normalised meter number (%s meters)%s; %s left in place by the latest registry migration (oms_registry_duplicates_left)',
                     v_groups, v_meters, coalesce(': ' || v_examples, ''), v_left);
    RETURN NEXT;

    SELECT count(*), string_agg(DISTINCT c.field, ', ') INTO v_count, v_examples FROM oms_registry_open_conflicts c;
    check_name := 'registry conflicts open';
    passed := v_count = 0;
    detail := format('%s facts the sources disagree on%s (oms_registry_open_conflicts; never overwritten)',
                     v_count, coalesce(', in ' || v_examples, ''));
    RETURN NEXT;

    SELECT count(*), count(*) FILTER (WHERE m.substation_id IS NULL),
           count(*) FILTER (WHERE m.topology_source = 'explicit'),
           count(*) FILTER (WHERE m.topology_source = 'inferred'),
           avg(m.topology_distance_km) FILTER (WHERE m.topology_source = 'inferred'),
           max(m.topology_distance_km) FILTER (WHERE m.topology_source = 'inferred')
      INTO v_active, v_count, v_explicit, v_inferred, v_mean_km, v_max_km
      FROM oms_meters m WHERE m.status = 'active';
    check_name := 'meters without topology';
    passed := v_count = 0;
    detail := format('%s of %s active meters are under no substation%s', v_count, v_active,
                     CASE WHEN v_count > 0
                          THEN ': import their topology or run oms_link_meters_by_proximity()' ELSE '' END);
    RETURN NEXT;

    check_name := 'topology explicit/inferred';
    passed := true;
    detail := format('%s explicit, %s inferred by proximity%s', v_explicit, v_inferred,
                     CASE WHEN v_inferred > 0
                          THEN format(' (distance mean %s km, max %s km)', round(v_mean_km::numeric, 3),
                                      round(v_max_km::numeric, 3)) ELSE '' END);
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION oms_validation_report() IS
    'The seed''s validation checklist plus how the registry was populated: one row per check (check_name, passed, detail).';
