//! Storage through sqlx: one [`Db`] handle over either SQLite or PostgreSQL.
//!
//! Every query is written once, with `$1`-style placeholders that both drivers accept, and
//! run through the [`with_pool!`] macro, which expands the same code once per driver. The
//! schema lives in `server/migrations/{sqlite,postgres}`, embedded in the binary and applied
//! on start.

pub mod changes;
pub mod chats;
pub mod media;
pub mod push;
pub mod push_outbox;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::cli::DatabaseTarget;

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`, once per driver.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects (creating a SQLite file when missing) and applies pending migrations, with
    /// PostgreSQL's pool at its default size.
    pub async fn connect(target: &DatabaseTarget) -> Result<Self, sqlx::Error> {
        Self::connect_pooled(target, crate::cli::DEFAULT_DATABASE_POOL).await
    }

    /// [`Db::connect`], keeping at most `pool_size` connections to PostgreSQL.
    pub async fn connect_pooled(
        target: &DatabaseTarget,
        pool_size: u32,
    ) -> Result<Self, sqlx::Error> {
        let db = match target {
            DatabaseTarget::Sqlite(path) => {
                let options = SqliteConnectOptions::from_str("sqlite:")?
                    .filename(path)
                    .create_if_missing(true)
                    // WAL lets readers proceed while one writer commits; the busy timeout makes
                    // concurrent writers wait for the lock instead of failing.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    // A redaction erases a body and a file's bytes: freed space is zeroed, so
                    // they do not linger in free pages of the file (see `db::changes`).
                    .pragma("secure_delete", "on")
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await?;
                SQLITE_MIGRATOR.run(&pool).await?;
                Db::Sqlite(pool)
            }
            DatabaseTarget::Postgres(url) => {
                let pool = PgPoolOptions::new()
                    .max_connections(pool_size.max(1))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                // The migrator takes an advisory lock, so several processes may start at once.
                POSTGRES_MIGRATOR.run(&pool).await?;
                Db::Postgres(pool)
            }
        };
        Ok(db)
    }

    /// Which driver this is, for logs and load-test reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    /// Reads a value of the `settings` table.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })
    }

    /// Stores a setting unless one already exists, then returns the stored value, so
    /// concurrent first starts agree on one value.
    pub async fn setting_insert_once(&self, key: &str, value: &str) -> Result<String, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(pool)
                .await
        })
    }
}

/// Whether an error is a unique-constraint violation (a lost race on an insert).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
