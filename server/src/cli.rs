//! Command-line flags and the runtime configuration they produce.
//!
//! Tests build a [`Config`] directly, so every knob a test needs (page limit, heartbeat
//! interval, password hashing cost) is a plain field here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The largest page limit or cursor `limit` accepted; larger asks are refused with 400. It
/// lives with the configuration because it also bounds `--page-limit`, and the configuration
/// imports nothing of the crate.
pub const MAX_LIMIT: u64 = 10_000;

/// `server --listen 127.0.0.1:8080 --db PATH --dist DIR [--demo] [--simulate]`.
#[derive(Debug, Parser)]
#[command(name = "server", about = "Reference backend of the support-desk chat")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file, created on first start. Ignored when DATABASE_URL is a
    /// postgres:// URL.
    #[arg(long, default_value = "chat.sqlite")]
    pub db: PathBuf,
    /// PostgreSQL URL (postgres://…); when set, PostgreSQL is used instead of SQLite.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Connections this process keeps to PostgreSQL at most. Several processes on one
    /// PostgreSQL share what it can run at once: size each pool so that their sum stays
    /// there (a pool of 16 per process, four processes on two cores, measured 31 % fewer
    /// sends/s than one process; see the README).
    #[arg(long, env = "DATABASE_POOL", default_value_t = DEFAULT_DATABASE_POOL)]
    pub database_pool: u32,
    /// Directory of the built front end (Trunk's dist).
    #[arg(long)]
    pub dist: Option<PathBuf>,
    /// Seed the demo agents, requesters and requests (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Run the requester simulator, posting to random chats every few seconds.
    #[arg(long)]
    pub simulate: bool,
    /// With `--demo`, also seed `REQ-2001` (bob's, for benchmarks) with this many messages.
    #[arg(long, default_value_t = 0)]
    pub demo_large_chat: usize,
    /// The most messages one history reply carries.
    #[arg(long, default_value_t = 500)]
    pub page_limit: u64,
    /// Enable `POST/GET /api/test/faults` (tests only).
    #[arg(long)]
    pub test_faults: bool,
    /// Append every answered history fetch to this file as a JSON line (tests only).
    #[arg(long)]
    pub test_served_log: Option<PathBuf>,
    /// Accept `http://` push endpoints on loopback (tests only).
    #[arg(long)]
    pub allow_insecure_push: bool,
    /// Mark the session cookie `Secure` (set this behind HTTPS).
    #[arg(long)]
    pub secure_cookie: bool,
    /// Contact sent in VAPID signatures.
    #[arg(long, default_value = "mailto:admin@example.invalid")]
    pub vapid_subject: String,
    /// This process's name among several on one database: in logs and in the
    /// `application_name` of its PostgreSQL listener (`supportdesk-listen-NAME`). Default:
    /// the process id and a random suffix.
    #[arg(long)]
    pub instance: Option<String>,
    /// First wait before the PostgreSQL listener reconnects after losing its connection
    /// (doubling per failed attempt, at most 5 s).
    #[arg(long, default_value_t = 100)]
    pub fanout_reconnect_ms: u64,
    /// How long one Web Push delivery may take in all.
    #[arg(long, default_value_t = 10_000)]
    pub push_timeout_ms: u64,
    /// How long a push service may take to accept a connection.
    #[arg(long, default_value_t = 5_000)]
    pub push_connect_timeout_ms: u64,
    /// How long a claimed push is held before another process may take it over (never less
    /// than the two timeouts above plus 5 s).
    #[arg(long, default_value_t = 60_000)]
    pub push_claim_lease_ms: u64,
}

/// Everything the running server needs to know.
#[derive(Clone, Debug)]
pub struct Config {
    /// The database: a SQLite file or a PostgreSQL URL.
    pub database: DatabaseTarget,
    /// Connections this process keeps to PostgreSQL at most (`--database-pool`).
    pub database_pool: u32,
    /// Built front end to serve, if any.
    pub dist: Option<PathBuf>,
    /// Seed demo data on start.
    pub demo: bool,
    /// Run the requester simulator.
    pub simulate: bool,
    /// Messages of the large benchmark chat `REQ-2001` seeded with the demo (0: none).
    pub demo_large_chat: usize,
    /// Pause between two simulated messages.
    pub simulate_interval: Duration,
    /// Default page limit of history replies.
    pub page_limit: u64,
    /// Whether `/api/test/faults` exists.
    pub test_faults: bool,
    /// Where every answered history fetch is recorded (tests only; off when `None`).
    pub test_served_log: Option<PathBuf>,
    /// Whether `http://` loopback push endpoints are accepted.
    pub allow_insecure_push: bool,
    /// Whether the session cookie carries `Secure`.
    pub secure_cookie: bool,
    /// VAPID contact.
    pub vapid_subject: String,
    /// This process's name among several on one database (logs, the listener's
    /// `application_name`).
    pub instance: String,
    /// First wait before the PostgreSQL listener reconnects (doubling per failure).
    pub fanout_reconnect_delay: Duration,
    /// Interval of SSE heartbeat comments.
    pub sse_heartbeat: Duration,
    /// Argon2 memory cost in KiB (tests lower it; debug builds hash slowly).
    pub password_hash_memory_kib: u32,
    /// Login attempts allowed per client address in one window.
    pub login_attempts_per_window: u32,
    /// Length of the login rate-limit window.
    pub login_window: Duration,
    /// Largest accepted media upload in bytes.
    pub max_media_bytes: usize,
    /// Largest accepted JSON body in bytes.
    pub max_json_bytes: usize,
    /// A session unused for this long ends (idle timeout).
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not (absolute timeout).
    pub session_absolute: Duration,
    /// How often expired sessions are deleted.
    pub session_purge_interval: Duration,
    /// How often an open event stream checks that its session still stands (a session ended
    /// by another process, or expired, ends the stream within this).
    pub stream_session_check: Duration,
    /// Most open event streams per user; more are refused with 429.
    pub max_streams_per_user: usize,
    /// Most events a `Last-Event-ID` resume replays; a resume further behind starts from the
    /// present with an `event: reset` (the client catches up by range instead).
    pub max_replay_events: u64,
    /// Most push subscriptions per user; a new one beyond replaces the oldest.
    pub max_subscriptions_per_user: i64,
    /// Wrong passwords for one name from one address before each attempt must wait.
    pub login_free_failures: u32,
    /// Whether this process delivers queued pushes. Off, pushes stay queued for another
    /// process on the same database (tests use it to leave pushes queued across a restart).
    pub push_sender: bool,
    /// How often the sender looks for due pushes besides being woken by a new message of
    /// this process: retries, and pushes queued by other processes.
    pub push_poll_interval: Duration,
    /// How long a claimed push is held by its sender; a claim left by a process that died is
    /// taken over after this. Never shorter than a delivery may take (the sender lengthens it).
    pub push_claim_lease: Duration,
    /// Deliveries in flight at once, in all.
    pub push_concurrency: usize,
    /// Deliveries in flight at once to one push-service host (host and port).
    pub push_per_host: usize,
    /// How long a push service may take to accept a connection.
    pub push_connect_timeout: Duration,
    /// How long one delivery may take in all.
    pub push_timeout: Duration,
    /// Attempts before a failing push is dropped.
    pub push_max_attempts: u32,
    /// Delay before the first retry, doubling per failure.
    pub push_retry_base: Duration,
    /// Longest delay between two attempts.
    pub push_retry_max: Duration,
    /// Most queued pushes; the oldest beyond are dropped.
    pub push_queue_max: i64,
    /// How often the queue is trimmed to `push_queue_max`.
    pub push_queue_trim_interval: Duration,
    /// How long a graceful stop lets deliveries in flight finish before cutting them off.
    pub push_shutdown_grace: Duration,
}

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum DatabaseTarget {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// The PostgreSQL pool's size when nothing says otherwise.
pub const DEFAULT_DATABASE_POOL: u32 = 16;

impl Config {
    /// Production defaults for a given database.
    pub fn new(database: DatabaseTarget) -> Self {
        Self {
            database,
            database_pool: DEFAULT_DATABASE_POOL,
            dist: None,
            demo: false,
            simulate: false,
            demo_large_chat: 0,
            simulate_interval: Duration::from_secs(4),
            page_limit: 500,
            test_faults: false,
            test_served_log: None,
            allow_insecure_push: false,
            secure_cookie: false,
            vapid_subject: "mailto:admin@example.invalid".to_owned(),
            instance: default_instance(),
            fanout_reconnect_delay: Duration::from_millis(100),
            sse_heartbeat: Duration::from_secs(15),
            password_hash_memory_kib: 19 * 1024,
            login_attempts_per_window: 10,
            login_window: Duration::from_secs(60),
            max_media_bytes: 10 * 1024 * 1024,
            max_json_bytes: 256 * 1024,
            session_idle: Duration::from_secs(12 * 3600),
            session_absolute: Duration::from_secs(30 * 24 * 3600),
            session_purge_interval: Duration::from_secs(600),
            stream_session_check: Duration::from_secs(30),
            max_streams_per_user: 8,
            max_replay_events: 10_000,
            max_subscriptions_per_user: 10,
            login_free_failures: 5,
            push_sender: true,
            push_poll_interval: Duration::from_secs(1),
            push_claim_lease: Duration::from_secs(60),
            push_concurrency: 32,
            push_per_host: 4,
            push_connect_timeout: Duration::from_secs(5),
            push_timeout: Duration::from_secs(10),
            push_max_attempts: 5,
            push_retry_base: Duration::from_secs(2),
            push_retry_max: Duration::from_secs(300),
            push_queue_max: 100_000,
            push_queue_trim_interval: Duration::from_secs(10),
            push_shutdown_grace: Duration::from_secs(5),
        }
    }

    /// The idle timeout of a session, in the database's milliseconds.
    pub fn session_idle_ms(&self) -> i64 {
        i64::try_from(self.session_idle.as_millis()).unwrap_or(i64::MAX)
    }

    /// The absolute lifetime of a session, in the database's milliseconds.
    pub fn session_absolute_ms(&self) -> i64 {
        i64::try_from(self.session_absolute.as_millis()).unwrap_or(i64::MAX)
    }

    /// The configuration the command line asks for.
    pub fn from_args(args: &Args) -> Self {
        let database = match &args.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseTarget::Postgres(url.clone())
            }
            _ => DatabaseTarget::Sqlite(args.db.clone()),
        };
        Self {
            database_pool: args.database_pool.max(1),
            dist: args.dist.clone(),
            demo: args.demo,
            simulate: args.simulate,
            demo_large_chat: args.demo_large_chat,
            page_limit: args.page_limit.clamp(1, MAX_LIMIT),
            test_faults: args.test_faults,
            test_served_log: args.test_served_log.clone(),
            allow_insecure_push: args.allow_insecure_push,
            secure_cookie: args.secure_cookie,
            vapid_subject: args.vapid_subject.clone(),
            instance: args.instance.clone().unwrap_or_else(default_instance),
            fanout_reconnect_delay: Duration::from_millis(args.fanout_reconnect_ms),
            push_timeout: Duration::from_millis(args.push_timeout_ms),
            push_connect_timeout: Duration::from_millis(args.push_connect_timeout_ms),
            push_claim_lease: Duration::from_millis(args.push_claim_lease_ms),
            ..Self::new(database)
        }
    }
}

/// A name no other process on the database has: the process id, and a random part for the
/// several servers one test process runs.
fn default_instance() -> String {
    format!(
        "{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Args, Config, DEFAULT_DATABASE_POOL};

    fn config(args: &[&str]) -> Config {
        let args = Args::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
            .expect("arguments");
        Config::from_args(&args)
    }

    #[test]
    fn the_postgres_pool_is_sized_by_the_command_line_and_never_empty() {
        assert_eq!(config(&[]).database_pool, DEFAULT_DATABASE_POOL);
        assert_eq!(config(&["--database-pool", "4"]).database_pool, 4);
        assert_eq!(config(&["--database-pool", "0"]).database_pool, 1);
        assert!(Args::try_parse_from(["server", "--database-pool", "-1"]).is_err());
    }
}
