-- Issue 13 (SQLite): media access per chat, and idle session expiry.

-- Which chats a file was posted in: its participants may read it (besides its uploader).
CREATE TABLE media_chats (
    media_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (media_id, request_id)
);
INSERT OR IGNORE INTO media_chats (media_id, request_id)
    SELECT json_extract(a.value, '$.media_id'), m.request_id
    FROM messages m, json_each(m.attachments) a
    WHERE json_extract(a.value, '$.media_id') IS NOT NULL;

-- When a session was last used, for the idle timeout.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
CREATE INDEX sessions_expiry ON sessions(expires_at);
