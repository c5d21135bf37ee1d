-- Issue 16 (PostgreSQL): edits, redactions and access changes. Existing rows keep their data:
-- every message starts unchanged (version 0), every chat open at change version 0.

-- The chat's change version of the message's latest edit or redaction (0: as first sent),
-- and when its body was last edited.
ALTER TABLE messages ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
-- "Changes since V": the changed messages of a chat by version.
CREATE INDEX messages_changes ON messages(request_id, version);

-- The chat's second counter (every edit, redaction, reassignment and close takes the next),
-- and whether the request is closed (1) or open (0).
ALTER TABLE requests ADD COLUMN change_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN closed BIGINT NOT NULL DEFAULT 0;

-- Chat-level events of the event stream, addressed to one user each: 'revoked' (the chat was
-- taken from them) or 'chat' (they gained the chat, or it was closed). Their ids come from
-- the same global 'event' counter as the messages', so one Last-Event-ID orders both.
CREATE TABLE request_events (
    event_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX request_events_user ON request_events(user_id, event_id);

-- What a queued push is: 'message' (a new message, by seq), 'change' (the message's edit or
-- redaction, by seq), 'hint' (a chat gained: where its history ends) or 'revoked' (a chat
-- taken from the recipient). The payload is still built from the stored state when sent.
ALTER TABLE push_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
