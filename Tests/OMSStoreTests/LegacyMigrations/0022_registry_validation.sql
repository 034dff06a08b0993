-- 0022 `oms validate` reports on how the registry was populated.
--
-- oms_validation_report() (0009) keeps its checks; this adds four, after them:
--   registry duplicates left     active meters whose numbers are the same once normalised
--                                (oms_meter_number_key, leading zeros per call_center.strip_leading_zeros),
--                                plus those the latest oms_migrate_registry() run left in place
--   registry conflicts open      facts the latest registry migration found its sources disagree on
--   meters without topology      active meters under no substation: SCADA checks and
--                                correlation cannot see them (import their topology, or run
--                                oms_link_meters_by_proximity())
--   topology explicit/inferred   how many links are explicit and how many inferred by
--                                proximity, with their distances (informational: always passes)
-- The first three fail while anything is left to resolve.
--
-- The 0009 function is kept under the name oms_validation_report_core(), so
-- its checks have one implementation.

ALTER FUNCTION oms_validation_report() RENAME TO oms_validation_report_core;
COMMENT ON FUNCTION oms_validation_report_core() IS
    'The checks of 0009 (registry, mappings, feeds, views, indexes); oms_validation_report() adds the registry-population checks.';

CREATE FUNCTION oms_validation_report()
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
