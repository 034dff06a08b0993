-- 0007 What each feed delivered, as received.
--
-- Every feed table keeps the message itself (raw), the feed's own
-- identifiers, the event time, the registry meter it matched (meter_id) and
-- the outage it was linked to (outage_event_id). A feed's own event id is
-- unique, so the same message delivered twice is stored once.
-- match_status: pending (not yet matched), matched, unmatched (the meter is
-- not in the registry: kept and reported, never dropped).

-- SCADA breaker and alarm events. substation_id / feeder_id are the business
-- ids as received ('SS001'), not references: an unknown id is still stored.
CREATE TABLE scada_events (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id       text,
    event_type            text NOT NULL,
    substation_id         text,
    feeder_id             text,
    main_station_id       text,
    alarm_type            text,
    severity              text,
    voltage               double precision,
    reason                text,
    event_timestamp       timestamptz NOT NULL,
    latitude              double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude             double precision CHECK (longitude BETWEEN -180 AND 180),
    raw                   jsonb NOT NULL,
    outage_event_id       uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    affected_meter_count  integer NOT NULL DEFAULT 0 CHECK (affected_meter_count >= 0),
    meters_checked_at     timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE scada_events IS 'SCADA breaker/alarm events as received; substation_id and feeder_id are the ids in the message.';
CREATE UNIQUE INDEX scada_events_source_event_key ON scada_events (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE INDEX scada_events_time_idx       ON scada_events (event_timestamp DESC);
CREATE INDEX scada_events_substation_idx ON scada_events (substation_id, feeder_id, event_timestamp DESC);
CREATE INDEX scada_events_outage_idx     ON scada_events (outage_event_id);

-- Which meters a SCADA event checked, and what it found.
CREATE TABLE scada_event_affected_meters (
    scada_event_id       uuid NOT NULL REFERENCES scada_events (id) ON DELETE CASCADE,
    meter_id             uuid NOT NULL REFERENCES oms_meters (id) ON DELETE CASCADE,
    meter_status_before  text,
    meter_status_after   text,
    checked_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scada_event_id, meter_id)
);
COMMENT ON TABLE scada_event_affected_meters IS 'Meters checked by a SCADA event, with their power status before and after.';
CREATE INDEX scada_event_affected_meters_meter_idx ON scada_event_affected_meters (meter_id);

-- ONU (GPON) alarms from the OLT: dying gasp, loss of signal, recovery.
CREATE TABLE onu_events (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id  text,
    event_type       text NOT NULL,
    alarm_name       text,
    onu_id           text,
    onu_serial       text,
    event_timestamp  timestamptz NOT NULL,
    latitude         double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude        double precision CHECK (longitude BETWEEN -180 AND 180),
    meter_id         uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    outage_event_id  uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status     text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw              jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (onu_id IS NOT NULL OR onu_serial IS NOT NULL)
);
COMMENT ON TABLE onu_events IS 'ONU alarms as received from the OLT; meter_id is the first registry meter on that ONU.';
CREATE UNIQUE INDEX onu_events_source_event_key ON onu_events (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE INDEX onu_events_onu_id_idx ON onu_events (onu_id);
CREATE INDEX onu_events_onu_serial_idx ON onu_events (onu_serial);
CREATE INDEX onu_events_time_idx   ON onu_events (event_timestamp DESC);
CREATE INDEX onu_events_meter_idx  ON onu_events (meter_id);
CREATE INDEX onu_events_outage_idx ON onu_events (outage_event_id);

-- KAIFA head-end (AMI) events, IEC 61968-9 EndDeviceEvent.
CREATE TABLE kaifa_events (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_event_id   text,
    message_id        text,
    event_type_code   text NOT NULL,
    asset_mrid        text,
    usage_point_mrid  text,
    meter_number      text,
    reason            text,
    severity          text,
    event_timestamp   timestamptz NOT NULL,
    meter_id          uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    outage_event_id   uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status      text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw               jsonb NOT NULL,
    raw_message       text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE kaifa_events IS
    'AMI head-end EndDeviceEvents: source_event_id is the event mRID, event_type_code the EndDeviceEventType ref (e.g. 3.26.0.47).';
COMMENT ON COLUMN kaifa_events.raw_message IS 'The message as received (XML), when it was not JSON.';
CREATE UNIQUE INDEX kaifa_events_source_event_key ON kaifa_events (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE INDEX kaifa_events_asset_mrid_idx       ON kaifa_events (asset_mrid);
CREATE INDEX kaifa_events_usage_point_mrid_idx ON kaifa_events (usage_point_mrid);
CREATE INDEX kaifa_events_time_idx   ON kaifa_events (event_timestamp DESC);
CREATE INDEX kaifa_events_meter_idx  ON kaifa_events (meter_id);
CREATE INDEX kaifa_events_outage_idx ON kaifa_events (outage_event_id);

-- Call-center trouble tickets. meter_number and customer_phone are as the
-- customer gave them; meter_id / customer_id are what they matched.
CREATE TABLE callcenter_tickets (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id        text NOT NULL UNIQUE CHECK (btrim(ticket_id) <> ''),
    event_timestamp  timestamptz NOT NULL,
    customer_phone   text,
    meter_number     text,
    customer_address text,
    customer_ref     text,
    trouble_code     text,
    notes            text,
    meter_id         uuid REFERENCES oms_meters (id) ON DELETE SET NULL,
    customer_id      uuid REFERENCES oms_customers (id) ON DELETE SET NULL,
    outage_event_id  uuid REFERENCES oms_outage_events (id) ON DELETE SET NULL,
    match_status     text NOT NULL DEFAULT 'pending' CHECK (match_status IN ('pending', 'matched', 'unmatched')),
    raw              jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE callcenter_tickets IS 'Customer trouble tickets as received; customer_ref is the customerId given, if any.';
CREATE INDEX callcenter_tickets_time_idx     ON callcenter_tickets (event_timestamp DESC);
CREATE INDEX callcenter_tickets_meter_number_idx ON callcenter_tickets (meter_number);
CREATE INDEX callcenter_tickets_phone_idx    ON callcenter_tickets (customer_phone);
CREATE INDEX callcenter_tickets_meter_idx    ON callcenter_tickets (meter_id);
CREATE INDEX callcenter_tickets_customer_idx ON callcenter_tickets (customer_id);
CREATE INDEX callcenter_tickets_outage_idx   ON callcenter_tickets (outage_event_id);
