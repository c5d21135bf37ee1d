-- Initial schema (SQLite). Integers are INTEGER (64-bit in SQLite); the PostgreSQL twin
-- uses BIGINT so both decode into i64 through the same Rust code.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    requester_id TEXT NOT NULL REFERENCES users(id),
    agent_id TEXT NOT NULL REFERENCES users(id),
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_message TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX requests_agent ON requests(agent_id);
CREATE INDEX requests_requester ON requests(requester_id);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('event', 0);

CREATE TABLE messages (
    request_id TEXT NOT NULL REFERENCES requests(id),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    event_id INTEGER NOT NULL UNIQUE,
    client_temp_id TEXT,
    sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    sender_role TEXT NOT NULL,
    body TEXT NOT NULL,
    attachments TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, seq)
);
CREATE UNIQUE INDEX messages_client_temp_id ON messages(request_id, client_temp_id);

CREATE TABLE media (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    bytes BLOB NOT NULL
);

CREATE TABLE push_subscriptions (
    endpoint TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
