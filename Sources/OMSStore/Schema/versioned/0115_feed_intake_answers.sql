-- 0115 Synchronous meter-feed requests applied through the feed intake, grouped (issue 15's
-- speed floor).
--
-- A synchronous request (answered once its messages are applied) was one call of its feed's
-- batch function. A storm's KAIFA and ONU requests about one area were then two calls: the
-- first opened an outage per distribution point, the second predicted, rolled up and merged
-- them, and the 1M last-gasp storm was correlated at ~1,800 events/s answered this way, against
-- ~4,500 through the intake, which correlates both feeds' rows in one call. A synchronous
-- KAIFA or ONU request is now a row of the intake marked "answer" (its messages applied with
-- whatever else waits there, by the same correlators, in order of arrival, as a group commit
-- does); the correlator keeps each message's result for it in oms_feed_intake_answers, and the
-- request, woken, takes them from there (oms_feed_intake_take_answer).

-- Whether the request that kept a row waits for its messages' results.
ALTER TABLE oms_feed_intake ADD COLUMN answer boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN oms_feed_intake.answer IS
    'Whether its request waits for the results of its messages (kept in oms_feed_intake_answers when applied).';

-- The results of an applied row whose request waits for them: one element per message, in
-- order, {"result": the batch function's result} or {"refused": {sqlstate, field, reason}}.
-- Taken (deleted) by the waiting request; a result nobody took (its request gave up, or its
-- server stopped) is deleted after a while by oms_feed_intake_apply. Unlogged: a result is worth
-- nothing once the request waiting for it is gone, and after a crash none is (the rows it
-- reports are durable in the feed tables as always).
CREATE UNLOGGED TABLE oms_feed_intake_answers (
    intake_id  bigint PRIMARY KEY,
    results    jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE oms_feed_intake_answers IS
    'The results of intake rows whose requests wait for them (answer = true), one per message, until the request takes them.';

-- oms_feed_intake_append gains the "answer" argument (current/25_feed_intake.sql): the
-- two-argument form goes, or a call with two arguments would match both.
DROP FUNCTION IF EXISTS oms_feed_intake_append(text, jsonb);
