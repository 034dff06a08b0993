-- 0002 Network topology: substation -> feeder -> distribution point, and customers.
--
-- Surrogate keys are uuid "id" columns; the utility's own identifiers
-- (substation_id 'SS001', feeder_id 'FD002', dp_id, customer_id) are unique
-- text business keys. References between tables always use the uuid.

CREATE TABLE network_substations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    substation_id  text NOT NULL UNIQUE CHECK (btrim(substation_id) <> ''),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    region_code    text,
    voltage_level  text,
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_substations IS 'Substations; substation_id is the utility''s identifier (e.g. SS001).';

CREATE TABLE network_feeders (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    feeder_id      text NOT NULL UNIQUE CHECK (btrim(feeder_id) <> ''),
    substation_id  uuid NOT NULL REFERENCES network_substations (id),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_feeders IS 'Feeders (one breaker each) and the substation that supplies them.';
CREATE INDEX network_feeders_substation_idx ON network_feeders (substation_id);

CREATE TABLE network_distribution_points (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dp_id          text NOT NULL UNIQUE CHECK (btrim(dp_id) <> ''),
    feeder_id      uuid NOT NULL REFERENCES network_feeders (id),
    name           text,
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'inactive', 'maintenance')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE network_distribution_points IS
    'Distribution points (distribution transformers) along a feeder; meters hang off them.';
CREATE INDEX network_distribution_points_feeder_idx ON network_distribution_points (feeder_id);
CREATE INDEX network_distribution_points_location_idx ON network_distribution_points (location_lat, location_lng);

CREATE TABLE oms_customers (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id    text NOT NULL UNIQUE CHECK (btrim(customer_id) <> ''),
    name           text,
    phone          text,
    address        text,
    dp_id          uuid REFERENCES network_distribution_points (id),
    location_lat   double precision CHECK (location_lat BETWEEN -90 AND 90),
    location_lng   double precision CHECK (location_lng BETWEEN -180 AND 180),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE oms_customers IS 'Customers (premises); the call center finds them by phone or meter number.';
CREATE INDEX oms_customers_dp_idx ON oms_customers (dp_id);
CREATE INDEX oms_customers_phone_idx ON oms_customers (phone);
CREATE INDEX oms_customers_location_idx ON oms_customers (location_lat, location_lng);

CREATE TRIGGER network_substations_touch BEFORE UPDATE ON network_substations
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();
CREATE TRIGGER network_feeders_touch BEFORE UPDATE ON network_feeders
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();
CREATE TRIGGER network_distribution_points_touch BEFORE UPDATE ON network_distribution_points
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();
CREATE TRIGGER oms_customers_touch BEFORE UPDATE ON oms_customers
    FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at();
