//! The steps every change transaction is built from, as macros expanded once per driver
//! inside `with_pool!`: bump the chat's change version, queue pushes,
//! take the next event id, send the fan-out notice, insert a chat-level event, and finish an
//! edit or a redaction. They name everything by its full path, so they expand the same in
//! each child module of `db::changes`.

/// Bumps the chat's change version inside `$tx`: `Some((version, agent_id, requester_id,
/// last_seq, closed))`, or `None` when there is no such chat.
macro_rules! bump_version {
    ($tx:expr, $request_id:expr) => {
        sqlx::query_as::<_, (i64, String, String, i64, i64)>(
            "UPDATE requests SET change_version = change_version + 1 WHERE id = $1 \
             RETURNING change_version, agent_id, requester_id, last_seq, closed",
        )
        .bind($request_id)
        .fetch_optional(&mut *$tx)
        .await?
    };
}

/// Queues a push of `$kind` about `$request_id` (`$seq`) to every subscription of users
/// `$a` and `$b` (the same user twice for one); how many.
macro_rules! enqueue {
    ($tx:expr, $a:expr, $b:expr, $request_id:expr, $seq:expr, $kind:expr) => {{
        let subscribers: Vec<(String, String)> =
            sqlx::query_as($crate::db::push_outbox::SUBSCRIBERS)
                .bind($a)
                .bind($b)
                .fetch_all(&mut *$tx)
                .await?;
        for (endpoint, user_id) in &subscribers {
            sqlx::query($crate::db::push_outbox::ENQUEUE)
                .bind(endpoint)
                .bind(user_id)
                .bind($crate::push_endpoint::host_key(endpoint))
                .bind($request_id)
                .bind($seq)
                .bind($crate::clock::now_ms())
                .bind($kind)
                .execute(&mut *$tx)
                .await?;
        }
        subscribers.len()
    }};
}

/// Takes the next global event id inside `$tx` (held to the commit: see the module doc).
macro_rules! next_event_id {
    ($tx:expr) => {
        sqlx::query_scalar::<_, i64>(
            "UPDATE counters SET value = value + 1 WHERE name = 'event' RETURNING value",
        )
        .fetch_one(&mut *$tx)
        .await?
    };
}

/// On PostgreSQL, sends the fan-out notice with the transaction `$tx` (delivered on commit).
macro_rules! notify {
    ($tx:expr, $postgres:expr, $notice:expr) => {
        if $postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind($crate::fanout::notice::CHANNEL)
                .bind($notice.encode())
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// Inserts the chat-level event `$kind` for user `$user`.
macro_rules! chat_event {
    ($tx:expr, $event_id:expr, $user:expr, $request_id:expr, $kind:expr) => {
        sqlx::query(
            "INSERT INTO request_events (event_id, user_id, request_id, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($event_id)
        .bind($user)
        .bind($request_id)
        .bind($kind)
        .bind($crate::clock::now_ms())
        .execute(&mut *$tx)
        .await?
    };
}

/// The end of an edit or a redaction of `$message` inside `$tx`: the chat's preview when it
/// is the last message, the pushes to both participants, the new event id the stream reads
/// it by, the fan-out notice, and the commit. Evaluates to `(users, pushes queued)`.
macro_rules! finish_message_change {
    ($tx:expr, $postgres:expr, $request_id:expr, $seq:expr, $last_seq:expr, $message:expr,
     $agent_id:expr, $requester_id:expr) => {{
        if $seq == $last_seq {
            sqlx::query("UPDATE requests SET last_message = $2 WHERE id = $1")
                .bind($request_id)
                .bind($message.preview($crate::db::chats::PREVIEW_CHARS))
                .execute(&mut *$tx)
                .await?;
        }
        let queued = enqueue!(
            $tx,
            &$agent_id,
            &$requester_id,
            $request_id,
            $seq,
            $crate::db::push_outbox::KIND_CHANGE
        );
        let event_id = next_event_id!($tx);
        sqlx::query("UPDATE messages SET event_id = $3 WHERE request_id = $1 AND seq = $2")
            .bind($request_id)
            .bind($seq)
            .bind(event_id)
            .execute(&mut *$tx)
            .await?;
        let users = vec![$agent_id, $requester_id];
        notify!(
            $tx,
            $postgres,
            $crate::db::changes::notice($request_id, $message.seq, &users)
        );
        $tx.commit().await?;
        (users, queued)
    }};
}
