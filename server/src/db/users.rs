//! Users and sessions.

use chat_sync::protocol::CurrentUser;
use chat_sync::types::SenderRole;

use super::{with_pool, Db};

/// How stale a session's last use may be before a request records it again.
pub const SESSION_TOUCH_MS: i64 = 60_000;

/// A session's user with when the session was last used.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    last_seen_at: i64,
}

/// A user row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    /// Stable id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// `agent` or `requester`.
    pub role: String,
    /// Argon2 PHC string.
    pub password_hash: String,
}

impl UserRow {
    /// The role as the wire enum; unknown text is treated as the less privileged requester.
    pub fn role(&self) -> SenderRole {
        if self.role == "agent" {
            SenderRole::Agent
        } else {
            SenderRole::Requester
        }
    }

    /// The `CurrentUser` reply body.
    pub fn current_user(&self) -> CurrentUser {
        CurrentUser {
            id: self.id.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            role: self.role(),
        }
    }
}

/// The text stored for a role.
pub fn role_text(role: SenderRole) -> &'static str {
    match role {
        SenderRole::Agent => "agent",
        SenderRole::Requester => "requester",
    }
}

impl Db {
    /// Finds a user by sign-in name.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, UserRow>(
                "SELECT id, username, name, role, password_hash FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await
        })
    }

    /// Finds a user by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, UserRow>(
                "SELECT id, username, name, role, password_hash FROM users WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
    }

    /// Creates a user; `Ok(false)` when the name is taken.
    pub async fn create_user(&self, user: &UserRow, created_at: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => {
            let done = sqlx::query(
                "INSERT INTO users (id, username, name, role, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.name)
            .bind(&user.role)
            .bind(&user.password_hash)
            .bind(created_at)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Stores a session under the hash of its token.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $3)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The user of a live session: not past its absolute expiry, and used within `idle_ms`.
    /// Marks it used when its last use is more than [`SESSION_TOUCH_MS`] old (a write a
    /// minute per session, not one per request).
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
        idle_ms: i64,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, SessionRow>(
                "SELECT u.id, u.username, u.name, u.role, u.password_hash, s.last_seen_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
            )
            .bind(token_hash)
            .bind(now)
            .bind(now.saturating_sub(idle_ms))
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Often enough that a session in use never reaches the idle timeout.
        let touch_after = SESSION_TOUCH_MS.min(idle_ms / 4);
        if now.saturating_sub(row.last_seen_at) > touch_after {
            with_pool!(self, pool => {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                    .bind(token_hash)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })?;
        }
        Ok(Some(row.user))
    }

    /// Deletes sessions past their absolute expiry or unused for `idle_ms`; how many.
    pub async fn purge_sessions(&self, now: i64, idle_ms: i64) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(now.saturating_sub(idle_ms))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
