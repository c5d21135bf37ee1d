//! Web Push subscriptions, per user. Deleting one deletes its queued pushes
//! (`push_outbox.endpoint` cascades).

use super::{with_pool, Db};

/// A stored subscription.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubscriptionRow {
    /// Push service URL.
    pub endpoint: String,
    /// Owner.
    pub user_id: String,
    /// Browser public key, base64url.
    pub p256dh: String,
    /// Auth secret, base64url.
    pub auth: String,
}

impl Db {
    /// Stores (or moves to this user) a subscription, then deletes the user's oldest beyond
    /// `max_per_user`, in one transaction. An endpoint moved to another user loses what was
    /// queued for its previous owner.
    pub async fn upsert_subscription(
        &self,
        row: &SubscriptionRow,
        now: i64,
        max_per_user: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint) DO UPDATE SET \
                 user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, \
                 created_at = excluded.created_at",
            )
            .bind(&row.endpoint)
            .bind(&row.user_id)
            .bind(&row.p256dh)
            .bind(&row.auth)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // A browser now signed in as someone else: what was queued for the previous owner
            // is not sent to it.
            sqlx::query("DELETE FROM push_outbox WHERE endpoint = $1 AND user_id <> $2")
                .bind(&row.endpoint)
                .bind(&row.user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint NOT IN \
                 (SELECT endpoint FROM push_subscriptions WHERE user_id = $1 \
                  ORDER BY (endpoint = $3) DESC, created_at DESC, endpoint LIMIT $2)",
            )
            .bind(&row.user_id)
            .bind(max_per_user)
            .bind(&row.endpoint)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes one of a user's subscriptions; whether it existed.
    pub async fn delete_subscription(
        &self,
        user_id: &str,
        endpoint: &str,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => {
            let done = sqlx::query(
                "DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2",
            )
            .bind(user_id)
            .bind(endpoint)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Deletes a subscription the push service declared gone.
    pub async fn delete_subscription_by_endpoint(&self, endpoint: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
                .bind(endpoint)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The subscription at `endpoint` if it still belongs to `user_id`.
    pub async fn subscription(
        &self,
        endpoint: &str,
        user_id: &str,
    ) -> Result<Option<SubscriptionRow>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, SubscriptionRow>(
                "SELECT endpoint, user_id, p256dh, auth FROM push_subscriptions \
                 WHERE endpoint = $1 AND user_id = $2",
            )
            .bind(endpoint)
            .bind(user_id)
            .fetch_optional(pool)
            .await
        })
    }

    /// Number of subscriptions a user has (tests).
    pub async fn subscription_count(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await
        })
    }
}
