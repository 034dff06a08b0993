-- 0015 The KAIFA head-end (AMI) feed: IEC 61968-9 EndDeviceEvents.
--
--   insert_kaifa_event_from_json(jsonb) -> uuid                      store only
--   insert_kaifa_event_from_json_with_meter_sync(jsonb) -> jsonb     store, match, sync, correlate
--
-- One EndDeviceEvent as JSON (what the Swift decoder makes of the head-end's
-- CreatedEndDeviceEvents XML; the CIM names are accepted too):
--   {"mRID", "createdDateTime", "eventTypeRef" | "EndDeviceEventType": {"ref"},
--    "assetMRID" | "Assets": {"mRID"}, "usagePointMRID" | "UsagePoint": {"mRID"}, "meterNumber",
--    "reason", "severity", "issuerID", "issuerTrackingID", "userID",
--    "details": [{"name", "value"}], "status": {"dateTime", "reason", "remark", "value"},
--    "header": {"verb", "noun", "timestamp", "source", "messageID"}, "source"}
--
-- The meaning comes from the event type code (type.domain.subdomain.eventOrAction)
-- through kaifa_event_types, configurable per head-end; never from severity. An
-- unknown code is stored and reported (meaning 'unknown'), and changes nothing.
-- Matching: asset mRID, else usage-point mRID, else meter number.

CREATE TABLE kaifa_event_types (
    source       text NOT NULL DEFAULT '*',
    pattern      text NOT NULL CHECK (pattern ~ '^(\d+|\*)\.(\d+|\*)\.(\d+|\*)\.(\d+|\*)$'),
    meaning      text NOT NULL CHECK (meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'tamper', 'none')),
    description  text NOT NULL,
    PRIMARY KEY (source, pattern)
);
COMMENT ON TABLE kaifa_event_types IS
    'What an EndDeviceEventType code means, per head-end (source; * = any). * in a pattern matches one part; the most specific row wins.';
INSERT INTO kaifa_event_types (pattern, meaning, description) VALUES
    ('3.26.*.47',  'power_off',     'Electric meter, power: loss detected (power down, last gasp)'),
    ('3.26.*.85',  'power_off',     'Electric meter, power: failed'),
    ('3.26.*.185', 'power_off',     'Electric meter, power: outage (unsafe power fail)'),
    ('3.26.*.216', 'power_on',      'Electric meter, power: restored (power up)'),
    ('3.23.*.47',  'comm_lost',     'Electric meter, network: loss detected'),
    ('3.1.*.47',   'comm_lost',     'Electric meter, communication: loss detected'),
    ('3.23.*.216', 'comm_restored', 'Electric meter, network: restored'),
    ('3.1.*.216',  'comm_restored', 'Electric meter, communication: restored'),
    ('3.12.*.257', 'tamper',        'Electric meter, security: tamper detected (recorded, no outage)');

CREATE FUNCTION oms_kaifa_meaning(p_code text, p_source text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT t.meaning FROM kaifa_event_types t
         WHERE (t.source = p_source OR t.source = '*')
           AND p_code ~ ('^' || replace(replace(t.pattern, '.', '\.'), '*', '\d+') || '$')
         ORDER BY (t.source = '*'), length(t.pattern) - length(replace(t.pattern, '*', ''))
         LIMIT 1), 'unknown')
$$;

ALTER TABLE kaifa_events
    ADD COLUMN source text,
    ADD COLUMN event_meaning text NOT NULL DEFAULT 'unknown'
        CHECK (event_meaning IN ('power_off', 'power_on', 'comm_lost', 'comm_restored', 'tamper', 'none', 'unknown')),
    ADD COLUMN matched_by text CHECK (matched_by IN ('asset_mrid', 'usage_point_mrid', 'meter_number')),
    ADD COLUMN meters_matched integer NOT NULL DEFAULT 0,
    ADD COLUMN sync_result jsonb;
COMMENT ON COLUMN kaifa_events.event_meaning IS 'kaifa_event_types'' meaning of event_type_code; unknown codes change nothing.';
CREATE UNIQUE INDEX kaifa_events_natural_key ON kaifa_events
    (coalesce(asset_mrid, ''), coalesce(usage_point_mrid, ''), coalesce(meter_number, ''), event_type_code, event_timestamp)
    WHERE source_event_id IS NULL;
CREATE INDEX kaifa_events_meaning_idx ON kaifa_events (event_meaning, event_timestamp DESC);

-- Stores an EndDeviceEvent unless it is a repeat (same mRID; without one, same meter, type and time).
CREATE FUNCTION oms_store_kaifa_event(p_event jsonb, OUT kaifa_event_id uuid, OUT inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c_context CONSTANT text := 'KAIFA event';
    v_type     text;
    v_asset    text;
    v_point    text;
    v_number   text;
    v_mrid     text;
    v_source   text;
    v_time     timestamptz;
BEGIN
    IF p_event IS NULL OR jsonb_typeof(p_event) <> 'object' THEN
        RAISE EXCEPTION '%: expected a JSON object, not %', c_context, coalesce(jsonb_typeof(p_event), 'nothing')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_type := coalesce(oms_json_text(p_event, 'eventTypeRef', c_context),
                       CASE WHEN jsonb_typeof(p_event -> 'EndDeviceEventType') = 'object'
                            THEN oms_json_text(p_event -> 'EndDeviceEventType', 'ref', c_context) END);
    IF v_type IS NULL THEN
        RAISE EXCEPTION '%: field "EndDeviceEventType.ref" is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'EndDeviceEventType.ref';
    END IF;
    IF v_type !~ '^\d+\.\d+\.\d+\.\d+$' THEN
        RAISE EXCEPTION '%: field "EndDeviceEventType.ref" must be a code type.domain.subdomain.eventOrAction (3.26.0.47), not "%"',
            c_context, v_type
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'EndDeviceEventType.ref';
    END IF;
    v_asset := coalesce(oms_json_text(p_event, 'assetMRID', c_context),
                        CASE WHEN jsonb_typeof(p_event -> 'Assets') = 'object'
                             THEN oms_json_text(p_event -> 'Assets', 'mRID', c_context) END);
    v_point := coalesce(oms_json_text(p_event, 'usagePointMRID', c_context),
                        CASE WHEN jsonb_typeof(p_event -> 'UsagePoint') = 'object'
                             THEN oms_json_text(p_event -> 'UsagePoint', 'mRID', c_context) END);
    v_number := oms_json_text(p_event, 'meterNumber', c_context);
    IF v_asset IS NULL AND v_point IS NULL AND v_number IS NULL THEN
        RAISE EXCEPTION '%: field "Assets.mRID" (or "UsagePoint.mRID", "meterNumber") is required', c_context
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'Assets.mRID';
    END IF;
    v_time := oms_json_time(p_event, 'createdDateTime', c_context);
    v_mrid := oms_json_text(p_event, 'mRID', c_context);
    v_source := coalesce(oms_json_text(p_event, 'source', c_context),
                         CASE WHEN jsonb_typeof(p_event -> 'header') = 'object'
                              THEN oms_json_text(p_event -> 'header', 'source', c_context) END);

    INSERT INTO kaifa_events (source_event_id, message_id, event_type_code, asset_mrid, usage_point_mrid, meter_number,
                              reason, severity, event_timestamp, source, event_meaning, raw, raw_message)
    VALUES (v_mrid,
            CASE WHEN jsonb_typeof(p_event -> 'header') = 'object'
                 THEN oms_json_text(p_event -> 'header', 'messageID', c_context) END,
            v_type, v_asset, v_point, v_number,
            oms_json_text(p_event, 'reason', c_context), oms_json_text(p_event, 'severity', c_context),
            v_time, v_source, oms_kaifa_meaning(v_type, v_source),
            p_event - 'rawXML', oms_json_text(p_event, 'rawXML', c_context))
    ON CONFLICT DO NOTHING
    RETURNING id INTO kaifa_event_id;
    inserted := kaifa_event_id IS NOT NULL;
    IF NOT inserted THEN
        SELECT e.id INTO kaifa_event_id FROM kaifa_events e
         WHERE (v_mrid IS NOT NULL AND e.source_event_id = v_mrid)
            OR (v_mrid IS NULL AND e.source_event_id IS NULL
                AND coalesce(e.asset_mrid, '') = coalesce(v_asset, '')
                AND coalesce(e.usage_point_mrid, '') = coalesce(v_point, '')
                AND coalesce(e.meter_number, '') = coalesce(v_number, '')
                AND e.event_type_code = v_type AND e.event_timestamp = v_time);
    END IF;
END;
$$;

CREATE FUNCTION insert_kaifa_event_from_json(p_event jsonb) RETURNS uuid
LANGUAGE sql AS $$ SELECT kaifa_event_id FROM oms_store_kaifa_event(p_event) $$;
COMMENT ON FUNCTION insert_kaifa_event_from_json(jsonb) IS
    'Stores one EndDeviceEvent (JSON form) without touching meters; a repeat returns the first id.';

-- insert_kaifa_event_from_json_with_meter_sync(jsonb) is in 0016: a batch of one.
