-- Reliability indices (IEEE 1366-2022), computed from the outages' restoration
-- steps: `oms reliability` and GET /api/v1/reliability call oms_reliability().
--
-- Definitions (N_i customers of interruption i, r_i its duration, N_T
-- customers served, CN distinct customers interrupted, T minutes in the period):
--   SAIFI = ΣN_i / N_T        SAIDI = Σ r_i·N_i / N_T (minutes)
--   CAIDI = SAIDI / SAIFI     CAIFI = ΣN_i / CN
--   ASAI  = 1 − Σ r_i·N_i / (N_T·T)
--   MAIFI = Σ N_mi over momentary interruptions (each interruption of a
--           reclosing sequence) / N_T;  MAIFIe: each sequence once.
-- Choices:
--   * An interruption belongs to the period (and to the day, for major event
--     days) in which it started (first_detected_at). Cancelled and merged
--     outages are excluded; a nested outage counts its own customers from the
--     original start (they left its parent).
--   * A customer's minutes in an outage run from its start to the latest
--     restoration of the customer's meters in it (restored_at, else the
--     outage's restoration, else the end of the period: still out), and never
--     past now (a period that ends in the future counts minutes so far).
--   * N_T: customers with an active meter in scope, now (the registry keeps
--     no history of customers served).
--   * Scope: a substation or a feeder selects the outages on it and the
--     customers under it.
--   * Major event days: the 2.5 beta method over the daily SAIDI history that
--     exists (every day with SAIDI > 0 up to the end of the period):
--     α, β = mean and sample standard deviation of ln(daily SAIDI),
--     T_MED = exp(α + 2.5β); a day with SAIDI > T_MED is a major event day.
--     Fewer than two days of history: no threshold, no major event days.

-- The sustained and momentary interruptions in scope that started in
-- [p_from, p_to): per outage, its customers and customer minutes.
CREATE OR REPLACE FUNCTION oms_reliability_interruptions(p_from timestamptz, p_to timestamptz, p_substation uuid,
                                                        p_feeder uuid)
RETURNS TABLE (outage_id uuid, started timestamptz, momentary boolean, interruptions integer, customers bigint,
               customer_minutes numeric)
LANGUAGE sql STABLE AS $$
    SELECT o.id, o.first_detected_at, o.momentary, o.interruptions, count(c.customer_id),
           coalesce(sum(extract(epoch FROM c.back - o.first_detected_at) / 60), 0)::numeric
      FROM oms_outage_events o
      LEFT JOIN LATERAL (
          SELECT m.customer_id,
                 max(least(coalesce(om.restored_at, o.actual_restoration_time, p_to), p_to,
                           greatest(now(), o.first_detected_at))) AS back
            FROM oms_outage_covered_meters(o.id) om JOIN oms_meters m ON m.id = om.meter_id
           WHERE m.customer_id IS NOT NULL
           GROUP BY m.customer_id) c ON true
     WHERE o.first_detected_at >= p_from AND o.first_detected_at < p_to
       AND o.status NOT IN ('cancelled', 'merged')
       AND (p_substation IS NULL OR o.substation_id = p_substation)
       AND (p_feeder IS NULL OR o.feeder_id = p_feeder)
     GROUP BY o.id
$$;
COMMENT ON FUNCTION oms_reliability_interruptions(timestamptz, timestamptz, uuid, uuid) IS
    'The interruptions in scope that started in [p_from, p_to): customers and customer minutes of each (oms_reliability).';

-- The scope of a reliability query, checked: the period (from before to), the
-- substation's and feeder's ids from their business ids (NULL: the whole
-- network), and N_T, the customers with an active meter in scope. A bad period
-- or an unknown device is refused naming the parameter (SQLSTATE 22023).
CREATE OR REPLACE FUNCTION oms_reliability_scope(p_from timestamptz, p_to timestamptz, p_substation text, p_feeder text,
                                                 OUT substation uuid, OUT feeder uuid, OUT customers_served bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_from >= p_to THEN
        RAISE EXCEPTION 'invalid period: from (%) must be before to (%)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'from';
    END IF;
    IF p_substation IS NOT NULL THEN
        SELECT s.id INTO substation FROM network_substations s WHERE s.substation_id = p_substation;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no substation %', quote_literal(p_substation)
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'substation';
        END IF;
    END IF;
    IF p_feeder IS NOT NULL THEN
        SELECT f.id INTO feeder FROM network_feeders f WHERE f.feeder_id = p_feeder;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no feeder %', quote_literal(p_feeder) USING ERRCODE = 'invalid_parameter_value', COLUMN = 'feeder';
        END IF;
    END IF;
    SELECT count(DISTINCT m.customer_id) INTO customers_served FROM oms_meters m
     WHERE m.status = 'active' AND m.customer_id IS NOT NULL
       AND (substation IS NULL OR m.substation_id = substation) AND (feeder IS NULL OR m.feeder_id = feeder);
END;
$$;
COMMENT ON FUNCTION oms_reliability_scope(timestamptz, timestamptz, text, text) IS
    'A reliability query''s checked scope: the substation''s and feeder''s ids and the customers served (N_T) in it.';

-- IEEE 1366 indices for a period and a scope (NULL: the whole network).
CREATE OR REPLACE FUNCTION oms_reliability(
    p_from        timestamptz DEFAULT NULL,   -- default: a year before p_to
    p_to          timestamptz DEFAULT NULL,   -- default: now
    p_substation  text DEFAULT NULL,          -- a substation's business id
    p_feeder      text DEFAULT NULL           -- a feeder's business id
) RETURNS TABLE (period_from timestamptz, period_to timestamptz, customers_served bigint, customers_interrupted bigint,
                 distinct_customers_interrupted bigint, customer_minutes numeric, sustained_interruptions bigint,
                 momentary_events bigint, momentary_interruptions bigint, saifi numeric, saidi numeric, caidi numeric,
                 caifi numeric, asai numeric, maifi numeric, maifie numeric, major_event_days date[], t_med numeric,
                 saifi_excluding_med numeric, saidi_excluding_med numeric)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    v_to         timestamptz := coalesce(p_to, now());
    v_from       timestamptz := coalesce(p_from, coalesce(p_to, now()) - interval '1 year');
    v_substation uuid;
    v_feeder     uuid;
    v_served     bigint;
    v_alpha      numeric;
    v_beta       numeric;
    v_days       integer;
    v_med        date[];
BEGIN
    SELECT sc.substation, sc.feeder, sc.customers_served INTO v_substation, v_feeder, v_served
      FROM oms_reliability_scope(v_from, v_to, p_substation, p_feeder) sc;

    -- Major event days over the daily SAIDI history up to the end of the period.
    WITH days AS (
        SELECT (i.started AT TIME ZONE 'UTC')::date AS day, sum(i.customer_minutes) / greatest(v_served, 1) AS saidi
          FROM oms_reliability_interruptions('-infinity', v_to, v_substation, v_feeder) i
         WHERE NOT i.momentary
         GROUP BY 1 HAVING sum(i.customer_minutes) > 0
    ),
    stats AS (SELECT avg(ln(d.saidi)) AS alpha, stddev_samp(ln(d.saidi)) AS beta, count(*) AS n FROM days d)
    SELECT s.alpha, s.beta, s.n,
           ARRAY(SELECT d.day FROM days d
                  WHERE s.n >= 2 AND d.saidi > exp(s.alpha + 2.5 * s.beta)
                    AND d.day >= (v_from AT TIME ZONE 'UTC')::date AND d.day <= (v_to AT TIME ZONE 'UTC')::date
                  ORDER BY d.day)
      INTO v_alpha, v_beta, v_days, v_med
      FROM stats s;

    RETURN QUERY
    WITH i AS (SELECT * FROM oms_reliability_interruptions(v_from, v_to, v_substation, v_feeder)),
    med AS (SELECT unnest(v_med) AS day),
    sustained AS (SELECT * FROM i WHERE NOT i.momentary),
    interrupted AS (
        SELECT count(DISTINCT m.customer_id) AS n
          FROM sustained s CROSS JOIN LATERAL oms_outage_covered_meters(s.outage_id) om
          JOIN oms_meters m ON m.id = om.meter_id
    ),
    totals AS (
        SELECT coalesce(sum(s.customers), 0)::bigint AS ci, coalesce(sum(s.customer_minutes), 0) AS cmi,
               count(*) AS n_sustained,
               coalesce(sum(s.customers) FILTER (WHERE (s.started AT TIME ZONE 'UTC')::date NOT IN (SELECT day FROM med)), 0) AS ci_x,
               coalesce(sum(s.customer_minutes) FILTER (WHERE (s.started AT TIME ZONE 'UTC')::date NOT IN (SELECT day FROM med)), 0) AS cmi_x
          FROM sustained s
    ),
    momentary AS (
        SELECT count(*) AS events, coalesce(sum(i.interruptions), 0)::bigint AS interruptions,
               coalesce(sum(i.customers * i.interruptions), 0) AS cmi_n, coalesce(sum(i.customers), 0) AS ce_n
          FROM i WHERE i.momentary
    )
    SELECT v_from, v_to, v_served, t.ci, (SELECT n FROM interrupted), round(t.cmi, 3), t.n_sustained,
           mo.events, mo.interruptions,
           round(t.ci / greatest(v_served, 1)::numeric, 6),
           round(t.cmi / greatest(v_served, 1)::numeric, 6),
           CASE WHEN t.ci > 0 THEN round(t.cmi / t.ci, 6) END,
           CASE WHEN (SELECT n FROM interrupted) > 0 THEN round(t.ci / (SELECT n FROM interrupted)::numeric, 6) END,
           round(1 - t.cmi / (greatest(v_served, 1) * extract(epoch FROM v_to - v_from) / 60)::numeric, 9),
           round(mo.cmi_n / greatest(v_served, 1)::numeric, 6),
           round(mo.ce_n / greatest(v_served, 1)::numeric, 6),
           coalesce((SELECT array_agg(day ORDER BY day) FROM med), ARRAY[]::date[]),
           CASE WHEN v_days >= 2 THEN round(exp(v_alpha + 2.5 * v_beta), 6) END,
           round(t.ci_x / greatest(v_served, 1)::numeric, 6),
           round(t.cmi_x / greatest(v_served, 1)::numeric, 6)
      FROM totals t CROSS JOIN momentary mo;
END;
$$;
COMMENT ON FUNCTION oms_reliability(timestamptz, timestamptz, text, text) IS
    'IEEE 1366 indices (SAIFI, SAIDI, CAIDI, CAIFI, ASAI, MAIFI, MAIFIe) for a period and scope, with major event days (2.5 beta) and the indices without them.';
