-- Issue 13 (PostgreSQL): media access per chat, and idle session expiry.

-- Which chats a file was posted in: its participants may read it (besides its uploader).
CREATE TABLE media_chats (
    media_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (media_id, request_id)
);
INSERT INTO media_chats (media_id, request_id)
    SELECT DISTINCT a->>'media_id', m.request_id
    FROM messages m, jsonb_array_elements(m.attachments::jsonb) a
    WHERE a->>'media_id' IS NOT NULL
ON CONFLICT DO NOTHING;

-- When a session was last used, for the idle timeout.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
CREATE INDEX sessions_expiry ON sessions(expires_at);
