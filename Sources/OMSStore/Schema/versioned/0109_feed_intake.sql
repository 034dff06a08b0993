-- 0109 The feed intake: a request's messages kept durably, to be applied behind its answer
-- (issue 18, "acknowledge on a durable append, correlate behind it").
--
-- Measured before (oms bench storm, 1,000,000 meters, 2 cores): a last gasp costs ~1 ms of
-- the database inside its request (match, status, audit, evidence, roll-up, merges), so a
-- head-end posting a storm waits on correlation: ~1,000 events/s acknowledged, against
-- ~30,000 rows/s for a plain INSERT of the same rows. A client that asks for it (HTTP
-- "Prefer: respond-async", RFC 7240) is now answered once its decoded messages are one row
-- here, committed; the service's correlators apply the rows in order of arrival through the
-- same batch functions as before (current/25_feed_intake.sql), and delete them in the same
-- transaction: a row is in this table exactly until its messages are applied.

CREATE TABLE oms_feed_intake (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The feed, as the batch functions name it.
    feed        text NOT NULL CHECK (feed IN ('scada', 'onu', 'kaifa', 'callcenter')),
    -- The request's decoded messages, as the feed's batch function takes them (a jsonb array).
    messages    jsonb NOT NULL CHECK (jsonb_typeof(messages) = 'array'),
    events      integer NOT NULL CHECK (events > 0),
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (jsonb_array_length(messages) = events)
);
COMMENT ON TABLE oms_feed_intake IS
    'Feed messages acknowledged (committed) and not yet applied: one row per request, applied and deleted in order of arrival by oms_feed_intake_apply.';

-- A message the database refused when it was applied (its request was answered before): kept
-- with the reason, for an operator to read; nothing of it was written elsewhere.
CREATE TABLE oms_feed_intake_refused (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    intake_id   bigint NOT NULL,
    feed        text NOT NULL,
    message     jsonb NOT NULL,
    received_at timestamptz NOT NULL,
    refused_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sqlstate    text NOT NULL,
    field       text,
    reason      text NOT NULL
);
CREATE INDEX oms_feed_intake_refused_time_idx ON oms_feed_intake_refused (refused_at);
COMMENT ON TABLE oms_feed_intake_refused IS
    'Messages acknowledged through the intake that the database refused when applying them (field and reason), each on its own.';

INSERT INTO oms_settings (key, value, description, value_type, minimum, maximum) VALUES
    ('intake.batch_events', '2000',
     'Events a correlator applies in one transaction from the feed intake (oms_feed_intake_apply): the oldest rows, those of a feed taken together, up to this many (at least one row).',
     'integer', 1, 100000);
