-- 0117 A large KAIFA or ONU request kept in the feed intake as pieces split by substation, so
-- that the service's correlators apply one request side by side (issue 15's speed floor).
--
-- A storm's request of 1,000 last gasps is about a dozen substations. Kept as one row, one
-- correlator applied it (and its sibling from the other meter feed) while the other waited:
-- a client sending two requests at a time kept one core busy. oms_feed_intake_append now
-- splits such a request into up to intake.pieces rows by a hash of each message's substation,
-- the same for every request, so that a KAIFA piece and the ONU piece about the same
-- substations are applied together; oms_feed_intake_apply takes one piece of a request per
-- call, and the other correlators take the others. A request's messages about one substation
-- stay in one piece, in order, and each substation's rows are still applied in order of arrival.
--
-- Also kept at the append: the substations of each row (looked up once, not at every look of
-- every correlator's scan: 409 lookups for ~200 rows in a 1M storm's profile).

ALTER TABLE oms_feed_intake
    ADD COLUMN request_id bigint,
    ADD COLUMN positions integer[],
    ADD COLUMN substations uuid[],
    ADD CONSTRAINT oms_feed_intake_piece_check CHECK (
        (request_id IS NULL AND positions IS NULL)
        OR (request_id IS NOT NULL AND cardinality(positions) = events));
COMMENT ON COLUMN oms_feed_intake.request_id IS
    'The request a piece belongs to (the id its append answered, the first piece''s); NULL for a request kept whole.';
COMMENT ON COLUMN oms_feed_intake.positions IS
    'A piece''s messages'' positions (1-based) in its request, in order; NULL for a request kept whole.';
COMMENT ON COLUMN oms_feed_intake.substations IS
    'The substations its messages are about, found at the append (oms_feed_intake_substations); NULL for rows kept before 0117 (looked up when applied).';
CREATE INDEX oms_feed_intake_request_idx ON oms_feed_intake (request_id) WHERE request_id IS NOT NULL;

-- The results of each piece, with the request they belong to and their messages' positions.
ALTER TABLE oms_feed_intake_answers
    ADD COLUMN request_id bigint,
    ADD COLUMN positions integer[];
UPDATE oms_feed_intake_answers SET request_id = intake_id;
ALTER TABLE oms_feed_intake_answers ALTER COLUMN request_id SET NOT NULL;
CREATE INDEX oms_feed_intake_answers_request_idx ON oms_feed_intake_answers (request_id);
COMMENT ON COLUMN oms_feed_intake_answers.request_id IS
    'The request the results belong to (its id as oms_feed_intake_append answered it).';
COMMENT ON COLUMN oms_feed_intake_answers.positions IS
    'The positions in the request of the messages these results are for, in order; NULL: all, in order.';

INSERT INTO oms_settings (key, value, description, value_type, minimum, maximum) VALUES
    ('intake.pieces', '2',
     'A KAIFA or ONU request kept in the feed intake with at least intake.piece_min_events messages is split by substation into up to this many rows, so that as many correlators apply it side by side (1: never split).',
     'integer', 1, 64),
    ('intake.piece_min_events', '200',
     'The fewest messages of a KAIFA or ONU request split into pieces (intake.pieces).',
     'integer', 1, 100000)
ON CONFLICT (key) DO NOTHING;

-- Their signatures change (oms_feed_intake_apply answers each row's request; the append takes no
-- new argument but its body is new): the current files create them again.
DROP FUNCTION IF EXISTS oms_feed_intake_apply(integer);
