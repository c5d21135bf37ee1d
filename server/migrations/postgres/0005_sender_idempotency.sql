-- A send's idempotency key belongs to its sender: two people's sends to one chat never share
-- one, so nobody can make another's send be answered as a repeat of their own message (and
-- so dropped) by posting first with the same `client_temp_id`.
DROP INDEX messages_client_temp_id;
CREATE UNIQUE INDEX messages_client_temp_id ON messages(request_id, sender_id, client_temp_id);
