-- Views: the seed's four, the feed events whose meter is unknown, and what the
-- latest registry migration left for people. A view's columns can only be
-- added at the end by CREATE OR REPLACE VIEW; removing, renaming or retyping
-- one is a versioned file that drops the view (../README.md).
--
-- ---------------------------------------------------------------------------
-- The seed's views.
--
-- Meter counts follow oms_classify_meter() without a freshness test:
--   online_meters   power on and communicating
--   offline_meters  power off, or not communicating
--   unknown_meters  everything else (e.g. never heard from)
-- Only active meters count. Business ids of the network appear as
-- *_code columns next to the uuid references of oms_meters and
-- oms_outage_events (e.g. substation_code = 'SS001').
CREATE OR REPLACE VIEW network_substations_with_meters AS
SELECT ns.id,
       ns.substation_id,
       ns.name,
       ns.region_code,
       ns.voltage_level,
       ns.status,
       ns.location_lat,
       ns.location_lng,
       (SELECT count(*) FROM network_feeders f WHERE f.substation_id = ns.id) AS feeder_count,
       count(m.id)                                                             AS total_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'online')  AS online_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'offline') AS offline_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'unknown') AS unknown_meters,
       count(m.id) FILTER (WHERE m.power_status = 'off')                       AS power_off_meters
  FROM network_substations ns
  LEFT JOIN network_substation_meters nsm ON nsm.substation_id = ns.id
  LEFT JOIN oms_meters m ON m.id = nsm.meter_id AND m.status = 'active'
 GROUP BY ns.id;
COMMENT ON VIEW network_substations_with_meters IS
    'Each substation with its total / online / offline / unknown meter counts (active meters).';

CREATE OR REPLACE VIEW network_feeders_with_meters AS
SELECT nf.id,
       nf.feeder_id,
       nf.name,
       nf.status,
       nf.location_lat,
       nf.location_lng,
       nf.substation_id,
       ns.substation_id                                                        AS substation_code,
       ns.name                                                                 AS substation_name,
       count(m.id)                                                             AS total_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'online')  AS online_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'offline') AS offline_meters,
       count(m.id) FILTER (WHERE oms_classify_meter(m.power_status, m.communication_status) = 'unknown') AS unknown_meters,
       count(m.id) FILTER (WHERE m.power_status = 'off')                       AS power_off_meters
  FROM network_feeders nf
  JOIN network_substations ns ON ns.id = nf.substation_id
  LEFT JOIN network_feeder_meters nfm ON nfm.feeder_id = nf.id
  LEFT JOIN oms_meters m ON m.id = nfm.meter_id AND m.status = 'active'
 GROUP BY nf.id, ns.id;
COMMENT ON VIEW network_feeders_with_meters IS
    'Each feeder, its substation (substation_code, substation_name) and its total / online / offline / unknown meter counts.';

CREATE OR REPLACE VIEW oms_meters_with_topology AS
SELECT m.id,
       m.meter_number,
       m.meter_type,
       m.status,
       m.power_status,
       m.communication_status,
       oms_classify_meter(m.power_status, m.communication_status) AS check_status,
       m.last_communication,
       m.last_power_change,
       m.last_status_change,
       m.location_lat,
       m.location_lng,
       m.asset_mrid,
       m.usage_point_mrid,
       m.onu_id,
       m.onu_serial_no,
       m.customer_id,
       c.customer_id   AS customer_code,
       c.name          AS customer_name,
       c.phone         AS customer_phone,
       c.address       AS customer_address,
       m.substation_id,
       ns.substation_id AS substation_code,
       ns.name          AS substation_name,
       m.feeder_id,
       nf.feeder_id     AS feeder_code,
       nf.name          AS feeder_name,
       m.dp_id,
       dp.dp_id         AS dp_code,
       dp.name          AS dp_name,
       m.created_at,
       m.updated_at
  FROM oms_meters m
  LEFT JOIN oms_customers c                  ON c.id = m.customer_id
  LEFT JOIN network_substations ns           ON ns.id = m.substation_id
  LEFT JOIN network_feeders nf               ON nf.id = m.feeder_id
  LEFT JOIN network_distribution_points dp   ON dp.id = m.dp_id;
COMMENT ON VIEW oms_meters_with_topology IS
    'Each meter with its customer, substation, feeder and distribution point (business ids as *_code).';

CREATE OR REPLACE VIEW oms_active_outages AS
SELECT o.id,
       o.event_id,
       o.event_type,
       o.status,
       o.severity,
       o.confidence_score,
       o.affected_customers_count,
       o.affected_meters_count,
       o.root_cause,
       o.description,
       o.substation_id,
       ns.substation_id AS substation_code,
       ns.name          AS substation_name,
       o.feeder_id,
       nf.feeder_id     AS feeder_code,
       nf.name          AS feeder_name,
       o.dp_id,
       dp.dp_id         AS dp_code,
       dp.name          AS dp_name,
       o.event_latitude,
       o.event_longitude,
       o.first_detected_at,
       o.estimated_restoration_time,
       o.last_updated_at,
       now() - o.first_detected_at AS duration,
       coalesce(s.source_count, 0)             AS source_count,
       coalesce(s.scada_sources, 0)            AS scada_sources,
       coalesce(s.onu_sources, 0)              AS onu_sources,
       coalesce(s.kaifa_sources, 0)            AS kaifa_sources,
       coalesce(s.call_center_sources, 0)      AS call_center_sources,
       coalesce(s.source_types, ARRAY[]::text[]) AS source_types,
       s.last_source_at
  FROM oms_outage_events o
  LEFT JOIN network_substations ns         ON ns.id = o.substation_id
  LEFT JOIN network_feeders nf             ON nf.id = o.feeder_id
  LEFT JOIN network_distribution_points dp ON dp.id = o.dp_id
  LEFT JOIN LATERAL (
        SELECT count(*)                                          AS source_count,
               count(*) FILTER (WHERE es.source_type = 'scada')       AS scada_sources,
               count(*) FILTER (WHERE es.source_type = 'onu')         AS onu_sources,
               count(*) FILTER (WHERE es.source_type = 'kaifa')       AS kaifa_sources,
               count(*) FILTER (WHERE es.source_type = 'call_center') AS call_center_sources,
               array_agg(DISTINCT es.source_type ORDER BY es.source_type) AS source_types,
               max(es.detected_at)                               AS last_source_at
          FROM oms_event_sources es
         WHERE es.outage_event_id = o.id
       ) s ON true
 WHERE o.status NOT IN ('restored', 'closed', 'cancelled', 'merged')
 ORDER BY o.first_detected_at DESC;
COMMENT ON VIEW oms_active_outages IS
    'Outages not yet restored or cancelled, newest first, with their infrastructure and evidence counts per feed.';

-- ---------------------------------------------------------------------------
-- Feed events whose meter is not in the registry: kept, never dropped, and reported here.
CREATE OR REPLACE VIEW oms_unmatched_feed_events AS
SELECT 'onu'::text AS source_type, e.id, e.source_event_id, e.event_timestamp,
       coalesce(e.onu_serial, e.onu_id) AS identifier, e.event_type, e.created_at
  FROM onu_events e WHERE e.match_status = 'unmatched'
UNION ALL
SELECT 'kaifa', e.id, e.source_event_id, e.event_timestamp,
       coalesce(e.asset_mrid, e.usage_point_mrid, e.meter_number), e.event_type_code, e.created_at
  FROM kaifa_events e WHERE e.match_status = 'unmatched'
UNION ALL
SELECT 'call_center', t.id, t.ticket_id, t.event_timestamp,
       coalesce(t.meter_number, t.customer_phone), coalesce(t.trouble_code, 'call'), t.created_at
  FROM callcenter_tickets t WHERE t.match_status = 'unmatched';
COMMENT ON VIEW oms_unmatched_feed_events IS
    'Feed events naming a meter the registry does not know: kept and reported (source, event, identifier given).';

-- ---------------------------------------------------------------------------
-- What the latest registry migration run (oms_migrate_registry,
-- 13_registry_migration.sql) left for people to resolve.
CREATE OR REPLACE VIEW oms_registry_open_conflicts AS
SELECT c.* FROM oms_registry_conflicts c
 WHERE c.run_id = (SELECT max(r.id) FROM oms_registry_migration_runs r);
COMMENT ON VIEW oms_registry_open_conflicts IS
    'Conflicts of the latest registry migration run: facts the sources disagree on, left as they were.';

CREATE OR REPLACE VIEW oms_registry_duplicates_left AS
SELECT g.run_id, g.group_no, g.meter_id, g.meter_number, d.duplicate_meter_id, m.meter_number AS duplicate_meter_number
  FROM oms_registry_merges g
 CROSS JOIN LATERAL unnest(g.duplicate_meter_ids) AS d(duplicate_meter_id)
  LEFT JOIN oms_meters m ON m.id = d.duplicate_meter_id
 WHERE g.run_id = (SELECT max(r.id) FROM oms_registry_migration_runs r);
COMMENT ON VIEW oms_registry_duplicates_left IS
    'Registry meters the latest registry migration run found to be the same meter as another (meter_id, the survivor), left in place for a person to resolve.';
