-- The operator console (issue 16): its sessions and the reads its pages make.
-- The console (static files served by `oms serve` at /) calls these through
-- /api/v1/console/*; psql users can call them too.
--
-- Sessions (the table is in ../versioned/0105_console_sessions.sql): an
-- operator signs in with an API key once; the service makes a random token,
-- opens a session for the key and sets the token as an HttpOnly cookie. A
-- session grants its key's scopes while the key is in force, until it expires
-- or is signed out. Signing out is announced on channel oms_events
-- ({"type": "console_session.ended", "session_id"}) so that every instance
-- forgets the session at once, as key revocations are (14_api_keys.sql).
--
-- The reads are shaped for a page that must stay fast on a 1,000,000-meter
-- registry: the network is sent per view (substations; feeders as lines
-- through their distribution points, fewer points the further out the view;
-- distribution points only when zoomed in), never meter by meter; an outage's
-- meters only for that outage, and at most a page of them.

-- The CSRF token of a session: derived from its token (SHA-256, hex), so it is
-- never stored, and only a page that can read the service's answers learns it.
-- The page sends it with every action (X-CSRF-Token); the service compares.
CREATE OR REPLACE FUNCTION oms_console_csrf_token(p_token text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to('oms-console-csrf:' || p_token, 'UTF8')), 'hex')
$$;
COMMENT ON FUNCTION oms_console_csrf_token(text) IS
    'The CSRF token of a console session, derived from its token (never stored).';

-- Opens a session for the key p_key with the token p_token (made by the
-- caller: at least 32 characters of random text) for p_hours hours. No row when
-- the key is not one in force.
CREATE OR REPLACE FUNCTION oms_console_session_open(p_key text, p_token text, p_hours numeric, p_client text DEFAULT '')
RETURNS TABLE (session_id uuid, key_id uuid, name text, scopes text[], expires_at timestamptz, csrf_token text)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_token IS NULL OR length(p_token) < 32 THEN
        RAISE EXCEPTION 'a session token must be at least 32 characters of random text'
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_token';
    END IF;
    IF p_hours IS NULL OR p_hours <= 0 OR p_hours > 168 THEN
        RAISE EXCEPTION 'a session lasts more than 0 and at most 168 hours, not %', coalesce(p_hours::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_hours';
    END IF;
    RETURN QUERY
        WITH k AS (SELECT a.key_id, a.name, a.scopes FROM oms_api_key_authenticate(p_key) a),
        opened AS (
            INSERT INTO oms_console_sessions AS s (token_sha256, key_id, client, expires_at)
            SELECT sha256(convert_to(p_token, 'UTF8')), k.key_id, left(coalesce(p_client, ''), 200),
                   now() + p_hours * interval '1 hour'
              FROM k
            RETURNING s.id, s.key_id, s.expires_at)
        SELECT o.id, o.key_id, k.name, k.scopes, o.expires_at, oms_console_csrf_token(p_token)
          FROM opened o JOIN k ON k.key_id = o.key_id;
END;
$$;
COMMENT ON FUNCTION oms_console_session_open(text, text, numeric, text) IS
    'Opens a console session for an API key in force (no row otherwise): the token''s SHA-256 is kept, the session lasts p_hours.';

-- The session p_token is, with its key's id, name and scopes, if it is open:
-- not signed out, not expired, its key in force. No row otherwise.
CREATE OR REPLACE FUNCTION oms_console_session_authenticate(p_token text)
RETURNS TABLE (session_id uuid, key_id uuid, name text, scopes text[], expires_at timestamptz, csrf_token text)
LANGUAGE sql STABLE AS $$
    SELECT s.id, k.id, k.name, k.scopes, s.expires_at, oms_console_csrf_token(p_token)
      FROM oms_console_sessions s JOIN oms_api_keys k ON k.id = s.key_id
     WHERE s.token_sha256 = sha256(convert_to(p_token, 'UTF8'))
       AND s.ended_at IS NULL AND s.expires_at > now() AND k.revoked_at IS NULL
$$;
COMMENT ON FUNCTION oms_console_session_authenticate(text) IS
    'The open console session a token is (with its key''s id, name and scopes, its end and CSRF token); no row when signed out, expired or its key revoked.';

-- Signs a session out; false when it was not open. Announced on oms_events.
CREATE OR REPLACE FUNCTION oms_console_session_close(p_token text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    UPDATE oms_console_sessions SET ended_at = now()
     WHERE token_sha256 = sha256(convert_to(p_token, 'UTF8')) AND ended_at IS NULL
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('oms_events', json_build_object('type', 'console_session.ended', 'session_id', v_id)::text);
    RETURN true;
END;
$$;
COMMENT ON FUNCTION oms_console_session_close(text) IS
    'Signs a console session out (announced on oms_events); false when it was not open.';

-- The network for a map view: the box (degrees) and the zoom level (0-22).
-- {"substations": [{id, name, lat, lng, status, state}],
--  "feeders": [{id, substation, state, path: [[lat, lng], ...]}],
--  "dps": [{id, feeder, lat, lng, meters}], "dps_shown", "dps_total_in_view"}
-- Every substation with a location (a utility has at most a few hundred). The
-- feeders that reach into the box, each a line from its substation through its
-- distribution points in order of distance from the substation, thinned to 8
-- points below zoom 11 and 24 below zoom 13. Distribution points only from
-- zoom 14, those in the box, at most 5,000 (the page says how many it was not
-- sent). state: the device's state from telemetry (oms_device_states), NULL
-- when none was reported.
CREATE OR REPLACE FUNCTION oms_console_network(p_west double precision, p_south double precision,
                                               p_east double precision, p_north double precision, p_zoom integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    v_points   integer := CASE WHEN p_zoom < 11 THEN 8 WHEN p_zoom < 13 THEN 24 ELSE 100000 END;
    v_dp_limit integer := 5000;
    v_dps      jsonb;
BEGIN
    IF p_west IS NULL OR p_south IS NULL OR p_east IS NULL OR p_north IS NULL
       OR p_west < -180 OR p_east > 180 OR p_south < -90 OR p_north > 90 OR p_west >= p_east OR p_south >= p_north THEN
        RAISE EXCEPTION 'bbox: west,south,east,north in degrees with west < east and south < north, not %,%,%,%',
            p_west, p_south, p_east, p_north USING ERRCODE = 'invalid_parameter_value', COLUMN = 'bbox';
    END IF;
    IF p_zoom IS NULL OR p_zoom NOT BETWEEN 0 AND 22 THEN
        RAISE EXCEPTION 'zoom: a whole number from 0 to 22, not %', coalesce(p_zoom::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'zoom';
    END IF;
    -- The distribution points in the box, and how many there are, from one scan (the count is
    -- taken before the limit).
    SELECT jsonb_build_object(
               'dps', coalesce(jsonb_agg(jsonb_build_object(
                          'id', d.dp_id, 'feeder', d.feeder, 'lat', d.location_lat, 'lng', d.location_lng, 'meters', d.meters)
                          ORDER BY d.dp_id), '[]'::jsonb),
               'total', coalesce(max(d.total), 0))
      INTO v_dps
      FROM (SELECT dp.dp_id, f.feeder_id AS feeder, dp.location_lat, dp.location_lng, sz.meters, count(*) OVER () AS total
              FROM network_distribution_points dp
              JOIN network_feeders f ON f.id = dp.feeder_id
              LEFT JOIN oms_device_sizes sz ON sz.device_kind = 'dp' AND sz.device_id = dp.id
             WHERE p_zoom >= 14 AND dp.location_lat IS NOT NULL AND dp.location_lng IS NOT NULL
               AND point(dp.location_lng, dp.location_lat) <@ box(point(p_west, p_south), point(p_east, p_north))
             ORDER BY dp.dp_id
             LIMIT v_dp_limit) d;
    RETURN jsonb_build_object(
        'substations', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', s.substation_id, 'name', s.name, 'lat', s.location_lat, 'lng', s.location_lng,
                       'status', s.status, 'state', ds.state) ORDER BY s.substation_id), '[]'::jsonb)
              FROM network_substations s
              LEFT JOIN oms_device_states ds ON ds.device_kind = 'substation' AND ds.device_id = s.id
             WHERE s.location_lat IS NOT NULL AND s.location_lng IS NOT NULL),
        'feeders', (
            WITH points AS (
                SELECT dp.feeder_id, dp.location_lat AS lat, dp.location_lng AS lng,
                       row_number() OVER w AS k, count(*) OVER (PARTITION BY dp.feeder_id) AS n
                  FROM network_distribution_points dp
                  JOIN network_feeders f ON f.id = dp.feeder_id
                  JOIN network_substations s ON s.id = f.substation_id
                 WHERE dp.location_lat IS NOT NULL AND dp.location_lng IS NOT NULL
                WINDOW w AS (PARTITION BY dp.feeder_id
                             ORDER BY (dp.location_lat - coalesce(s.location_lat, dp.location_lat)) ^ 2
                                      + ((dp.location_lng - coalesce(s.location_lng, dp.location_lng))
                                         * cos(radians(dp.location_lat))) ^ 2, dp.dp_id)
            ),
            in_view AS (
                SELECT p.feeder_id FROM points p GROUP BY p.feeder_id
                HAVING max(p.lat) >= p_south AND min(p.lat) <= p_north AND max(p.lng) >= p_west AND min(p.lng) <= p_east
            ),
            lines AS (
                SELECT p.feeder_id,
                       jsonb_agg(jsonb_build_array(round(p.lat::numeric, 6), round(p.lng::numeric, 6)) ORDER BY p.k) AS path
                  FROM points p JOIN in_view v ON v.feeder_id = p.feeder_id
                 WHERE p.n <= v_points OR p.k = p.n OR p.k % ceil(p.n::numeric / v_points)::integer = 0
                 GROUP BY p.feeder_id
            )
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', f.feeder_id, 'substation', s.substation_id, 'state', ds.state,
                       'path', CASE WHEN s.location_lat IS NULL OR s.location_lng IS NULL THEN l.path
                                    ELSE jsonb_build_array(jsonb_build_array(s.location_lat, s.location_lng)) || l.path END)
                       ORDER BY f.feeder_id), '[]'::jsonb)
              FROM lines l
              JOIN network_feeders f ON f.id = l.feeder_id
              JOIN network_substations s ON s.id = f.substation_id
              LEFT JOIN oms_device_states ds ON ds.device_kind = 'feeder' AND ds.device_id = f.id),
        'dps', v_dps -> 'dps',
        'dps_total_in_view', v_dps -> 'total',
        'dps_from_zoom', 14);
END;
$$;
COMMENT ON FUNCTION oms_console_network(double precision, double precision, double precision, double precision, integer) IS
    'The network for a map view (box, zoom): substations, feeders as lines thinned by zoom, distribution points from zoom 14 (at most 5,000).';

-- The outages the console lists and maps: the active ones and those restored
-- or closed within the last p_recent_minutes (NULL: active only), newest first,
-- at most p_limit; or, with p_event_ids, exactly those (whatever their status:
-- the page refetches what the live stream says changed). Each with its device,
-- a location to draw it at (its own, else its device's), the feeds that gave
-- evidence, its calls, crew and ETR.
CREATE OR REPLACE FUNCTION oms_console_outages(p_event_ids text[] DEFAULT NULL, p_recent_minutes integer DEFAULT 60,
                                               p_limit integer DEFAULT 2000)
RETURNS jsonb
LANGUAGE sql STABLE
SET jit = off
AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.first_detected_at DESC, x.event_id), '[]'::jsonb)
      FROM (
        SELECT o.event_id, o.status, o.momentary, o.basis, o.confidence_score, o.customers_out, o.meters_out,
               o.affected_customers_count, o.affected_meters_count, o.interruptions,
               CASE WHEN o.dp_id IS NOT NULL THEN 'dp' WHEN o.feeder_id IS NOT NULL THEN 'feeder'
                    WHEN o.substation_id IS NOT NULL THEN 'substation' ELSE 'meters' END AS device_kind,
               coalesce(dp.dp_id, nf.feeder_id, ns.substation_id) AS device,
               ns.substation_id AS substation, nf.feeder_id AS feeder, dp.dp_id AS dp,
               coalesce(o.event_latitude, dp.location_lat, nf.location_lat, ns.location_lat) AS lat,
               coalesce(o.event_longitude, dp.location_lng, nf.location_lng, ns.location_lng) AS lng,
               o.first_detected_at, o.last_updated_at, o.acknowledged_at, o.acknowledged_by, o.crew,
               o.estimated_restoration_time AS etr, o.actual_restoration_time AS restored_at, o.cause_code,
               (SELECT p.event_id FROM oms_outage_events p WHERE p.id = o.parent_outage_id) AS parent_outage,
               (SELECT m.event_id FROM oms_outage_events m WHERE m.id = o.merged_into_id) AS merged_into,
               ARRAY(SELECT t.feed FROM unnest(ARRAY['scada', 'kaifa', 'onu', 'call_center']) t(feed)
                      WHERE EXISTS (SELECT 1 FROM oms_event_sources es
                                     WHERE es.outage_event_id = o.id AND es.source_type = t.feed)) AS feeds,
               (SELECT count(*) FROM oms_event_sources es
                 WHERE es.outage_event_id = o.id AND es.source_type = 'call_center') AS calls
          FROM oms_outage_events o
          LEFT JOIN network_substations ns ON ns.id = o.substation_id
          LEFT JOIN network_feeders nf ON nf.id = o.feeder_id
          LEFT JOIN network_distribution_points dp ON dp.id = o.dp_id
         WHERE o.id IN (
                SELECT a.id FROM oms_outage_events a
                 WHERE p_event_ids IS NULL AND a.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
                UNION ALL
                SELECT r.id FROM oms_outage_events r
                 WHERE p_event_ids IS NULL AND p_recent_minutes IS NOT NULL
                   AND r.actual_restoration_time >= now() - p_recent_minutes * interval '1 minute'
                   AND r.status IN ('restored', 'closed')
                UNION ALL
                SELECT e.id FROM oms_outage_events e WHERE e.event_id = ANY (p_event_ids))
         ORDER BY o.first_detected_at DESC, o.event_id
         LIMIT greatest(1, least(coalesce(p_limit, 2000), 10000))) x
$$;
COMMENT ON FUNCTION oms_console_outages(text[], integer, integer) IS
    'The console''s outages: active and recently restored (or exactly p_event_ids), with device, location, feeds, calls, crew, ETR.';

-- The storm at a glance: customers and meters out now (active outages, each
-- counting only its own customers: nested and held-apart outages are not in
-- their parent's counts), outages by status, and the substations with the
-- most customers out.
CREATE OR REPLACE FUNCTION oms_console_summary() RETURNS jsonb
LANGUAGE sql STABLE
SET jit = off
AS $$
    WITH active AS (
        SELECT o.status, o.momentary, o.customers_out, o.meters_out, o.substation_id
          FROM oms_outage_events o WHERE o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
    )
    SELECT jsonb_build_object(
        'customers_out', (SELECT coalesce(sum(a.customers_out), 0) FROM active a),
        'meters_out', (SELECT coalesce(sum(a.meters_out), 0) FROM active a),
        'active_outages', (SELECT count(*) FROM active),
        'by_status', (SELECT coalesce(jsonb_object_agg(b.status, b.n), '{}'::jsonb)
                        FROM (SELECT a.status, count(*) AS n FROM active a GROUP BY a.status) b),
        'by_substation', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                     'substation', b.substation, 'outages', b.n, 'customers_out', b.customers_out)
                                     ORDER BY b.customers_out DESC, b.substation), '[]'::jsonb)
                            FROM (SELECT coalesce(s.substation_id, '(none)') AS substation, count(*) AS n,
                                         sum(a.customers_out) AS customers_out
                                    FROM active a LEFT JOIN network_substations s ON s.id = a.substation_id
                                   GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 20) b),
        'at', now())
$$;
COMMENT ON FUNCTION oms_console_summary() IS
    'Customers and meters out now, active outages by status, and the 20 substations with the most customers out.';

-- One outage as its console page shows it: the row oms_console_outages gives,
-- its evidence (the newest 200), its timeline (the newest 500), its meters (at
-- most p_meter_limit, the ones still out first, with their location), how many
-- meters it has, its nested outages and the outages merged into it, its
-- restoration steps (meters back, by minute), the actions its status allows
-- (oms_outage_actions) and the cause codes it may be closed with. NULL when
-- there is no such outage.
CREATE OR REPLACE FUNCTION oms_console_outage(p_event_id text, p_meter_limit integer DEFAULT 500)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    v_outage oms_outage_events;
    v_limit  integer := greatest(0, least(coalesce(p_meter_limit, 500), 5000));
    v_meters jsonb;
BEGIN
    SELECT * INTO v_outage FROM oms_outage_events o WHERE o.event_id = p_event_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Its meters are read once (a substation's outage covers thousands): the page, the count and
    -- the restoration steps all come from that one reading.
    WITH covered AS MATERIALIZED (
        SELECT cm.meter_id, cm.reported, cm.source_type, cm.restored_at FROM oms_outage_covered_meters(v_outage.id) cm
    )
    SELECT jsonb_build_object(
        'meters', (SELECT coalesce(jsonb_agg(to_jsonb(m) ORDER BY m.restored_at NULLS FIRST, m.meter_number), '[]'::jsonb)
                     FROM (SELECT mt.meter_number, mt.power_status, mt.communication_status,
                                  round(mt.location_lat::numeric, 6) AS lat, round(mt.location_lng::numeric, 6) AS lng,
                                  c.reported, c.source_type, c.restored_at
                             FROM covered c JOIN oms_meters mt ON mt.id = c.meter_id
                            ORDER BY c.restored_at NULLS FIRST, mt.meter_number
                            LIMIT v_limit) m),
        'meters_total', (SELECT count(*) FROM covered),
        'restoration_steps', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', r.minute, 'meters', r.n) ORDER BY r.minute),
                                              '[]'::jsonb)
                                FROM (SELECT date_trunc('minute', c.restored_at) AS minute, count(*) AS n
                                        FROM covered c
                                       WHERE c.restored_at IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 500) r))
      INTO v_meters;
    RETURN (oms_console_outages(ARRAY[p_event_id]) -> 0) || v_meters || jsonb_build_object(
        'description', v_outage.description,
        'remark', v_outage.remark,
        'sources', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.detected_at DESC), '[]'::jsonb)
                      FROM (SELECT es.source_type, es.source_event_id, es.evidence, es.correlation_weight, es.detected_at
                              FROM oms_event_sources es WHERE es.outage_event_id = v_outage.id
                             ORDER BY es.detected_at DESC LIMIT 200) s),
        'sources_total', (SELECT count(*) FROM oms_event_sources es WHERE es.outage_event_id = v_outage.id),
        'timeline', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t."timestamp" DESC), '[]'::jsonb)
                       FROM (SELECT et.event_type, et.status, et.description, et.source, et."timestamp", et.metadata
                               FROM oms_event_timeline et WHERE et.outage_event_id = v_outage.id
                              ORDER BY et."timestamp" DESC, et.id DESC LIMIT 500) t),
        'nested', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                              'event_id', n.event_id, 'status', n.status, 'customers_out', n.customers_out,
                              'first_detected_at', n.first_detected_at, 'relation', n.relation)
                              ORDER BY n.first_detected_at), '[]'::jsonb)
                     FROM (SELECT c.event_id, c.status, c.customers_out, c.first_detected_at,
                                  CASE WHEN c.parent_outage_id = v_outage.id THEN 'nested'
                                       WHEN c.merged_into_id = v_outage.id THEN 'merged'
                                       ELSE 'within' END AS relation
                             FROM oms_outage_events c
                            WHERE c.parent_outage_id = v_outage.id OR c.merged_into_id = v_outage.id
                               OR c.within_outage_id = v_outage.id
                            LIMIT 500) n),
        'actions', (SELECT coalesce(jsonb_agg(a.action ORDER BY a.action), '[]'::jsonb)
                      FROM oms_outage_actions() a WHERE v_outage.status = ANY (a.allowed_from)),
        'cause_codes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', c.code, 'description', c.description)
                                                  ORDER BY c.code), '[]'::jsonb)
                          FROM oms_cause_codes c WHERE c.active));
END;
$$;
COMMENT ON FUNCTION oms_console_outage(text, integer) IS
    'One outage for the console''s page: its row, evidence, timeline, meters (a page), nested and merged outages, restoration steps, allowed actions.';

-- Daily SAIDI and SAIFI (IEEE 1366, minutes; as oms_reliability counts them:
-- sustained interruptions by the UTC day they started) for a period and scope,
-- one row per day of the period, zero on days without interruptions.
CREATE OR REPLACE FUNCTION oms_reliability_daily(
    p_from        timestamptz DEFAULT NULL,   -- default: 30 days before p_to
    p_to          timestamptz DEFAULT NULL,   -- default: now
    p_substation  text DEFAULT NULL,
    p_feeder      text DEFAULT NULL
) RETURNS TABLE (day date, saidi numeric, saifi numeric, customers_interrupted bigint)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    v_to         timestamptz := coalesce(p_to, now());
    v_from       timestamptz := coalesce(p_from, coalesce(p_to, now()) - interval '30 days');
    v_substation uuid;
    v_feeder     uuid;
    v_served     bigint;
BEGIN
    IF v_to - v_from > interval '3700 days' THEN
        RAISE EXCEPTION 'invalid period: at most 3700 days, not %', v_to - v_from
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'from';
    END IF;
    SELECT sc.substation, sc.feeder, sc.customers_served INTO v_substation, v_feeder, v_served
      FROM oms_reliability_scope(v_from, v_to, p_substation, p_feeder) sc;
    RETURN QUERY
        SELECT d.day::date,
               round(coalesce(sum(i.customer_minutes), 0) / greatest(v_served, 1)::numeric, 6),
               round(coalesce(sum(i.customers), 0) / greatest(v_served, 1)::numeric, 6),
               coalesce(sum(i.customers), 0)::bigint
          FROM generate_series((v_from AT TIME ZONE 'UTC')::date, ((v_to - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
                               interval '1 day') d(day)
          LEFT JOIN oms_reliability_interruptions(v_from, v_to, v_substation, v_feeder) i
                 ON NOT i.momentary AND (i.started AT TIME ZONE 'UTC')::date = d.day::date
         GROUP BY d.day
         ORDER BY d.day;
END;
$$;
COMMENT ON FUNCTION oms_reliability_daily(timestamptz, timestamptz, text, text) IS
    'Daily SAIDI (minutes) and SAIFI of sustained interruptions, by the UTC day they started, for a period and scope.';
