-- Issue 13 (SQLite): the durable Web Push queue. One row per (new message, subscription),
-- written in the transaction that stores the message, deleted once delivered (or given up),
-- so pushes queued when a process stops are sent by the next one.
CREATE TABLE push_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unsubscribing (or a push service saying the subscription is gone) drops its pushes.
    endpoint TEXT NOT NULL REFERENCES push_subscriptions(endpoint) ON DELETE CASCADE,
    -- The recipient: the subscription's owner when the message was stored.
    user_id TEXT NOT NULL,
    -- The endpoint's host:port, so a busy push service's rows can be left for later.
    host TEXT NOT NULL,
    -- The message, by reference: the payload is built from the stored message when sent.
    request_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A sender holds a row until then; 0 when nobody does.
    claimed_until INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_outbox_due ON push_outbox(next_attempt_at);
CREATE INDEX push_outbox_endpoint ON push_outbox(endpoint);
