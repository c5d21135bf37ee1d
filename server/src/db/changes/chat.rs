//! Changes of a whole chat: handing it to another agent and closing it, each with its
//! chat-level events (`revoked`, `chat`) and pushes.

use super::{notice, ChatChange, Refusal, EVENT_CHAT, EVENT_REVOKED};
use crate::db::push_outbox::{KIND_CHANGES, KIND_HINT, KIND_REVOKED};
use crate::db::{with_pool, Db};

impl Db {
    /// Hands chat `request_id` from its agent `by` to agent `to` (checked to be an agent by
    /// the caller). The previous agent's queued pushes about the chat are dropped and a
    /// `revoked` push and event queued for them; the new agent gets a `chat` event and a
    /// `hint` push, the requester a `chat` event. Handing it to its own agent changes nothing.
    pub async fn assign_request(
        &self,
        request_id: &str,
        by: &str,
        to: &str,
    ) -> Result<Result<ChatChange, Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((_version, agent_id, requester_id, last_seq, _closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if requester_id == by {
                return Ok(Err(Refusal::NotAllowed(
                    "only the assigned agent may hand a request over",
                )));
            }
            if agent_id != by {
                return Ok(Err(Refusal::NotParticipant));
            }
            if agent_id == to {
                return Ok(Ok(ChatChange {
                    changed: false,
                    users: Vec::new(),
                    queued: 0,
                }));
            }
            sqlx::query("UPDATE requests SET agent_id = $2 WHERE id = $1")
                .bind(request_id)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            // What was queued for the previous agent about this chat is not sent any more
            // (the sender checks again when it builds a payload).
            sqlx::query(
                "DELETE FROM push_outbox WHERE request_id = $1 AND user_id = $2 AND kind <> $3",
            )
            .bind(request_id)
            .bind(&agent_id)
            .bind(KIND_REVOKED)
            .execute(&mut *tx)
            .await?;
            let mut queued = enqueue!(tx, &agent_id, &agent_id, request_id, 0i64, KIND_REVOKED);
            if last_seq > 0 {
                queued += enqueue!(tx, to, to, request_id, last_seq, KIND_HINT);
            }
            let event_id = next_event_id!(tx);
            chat_event!(tx, event_id, &agent_id, request_id, EVENT_REVOKED);
            chat_event!(tx, event_id, to, request_id, EVENT_CHAT);
            chat_event!(tx, event_id, &requester_id, request_id, EVENT_CHAT);
            let users = vec![agent_id, to.to_owned(), requester_id];
            notify!(tx, postgres, notice(request_id, 0, &users));
            tx.commit().await?;
            Ok(Ok(ChatChange {
                changed: true,
                users,
                queued,
            }))
        }
        .await)
    }

    /// Closes chat `request_id`, by `by` (its agent or its requester): no sends and no edits
    /// from then on. The agent and the requester get a `chat` event and a `changes` push.
    /// Closing a closed chat changes nothing.
    pub async fn close_request(
        &self,
        request_id: &str,
        by: &str,
    ) -> Result<Result<ChatChange, Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((version, agent_id, requester_id, _last_seq, closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if agent_id != by && requester_id != by {
                return Ok(Err(Refusal::NotParticipant));
            }
            if closed != 0 {
                return Ok(Ok(ChatChange {
                    changed: false,
                    users: Vec::new(),
                    queued: 0,
                }));
            }
            sqlx::query("UPDATE requests SET closed = 1 WHERE id = $1")
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            let queued = enqueue!(tx, &agent_id, &requester_id, request_id, version, KIND_CHANGES);
            let event_id = next_event_id!(tx);
            chat_event!(tx, event_id, &agent_id, request_id, EVENT_CHAT);
            chat_event!(tx, event_id, &requester_id, request_id, EVENT_CHAT);
            let users = vec![agent_id, requester_id];
            notify!(tx, postgres, notice(request_id, 0, &users));
            tx.commit().await?;
            Ok(Ok(ChatChange {
                changed: true,
                users,
                queued,
            }))
        }
        .await)
    }
}
