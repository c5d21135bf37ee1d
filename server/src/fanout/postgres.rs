//! The PostgreSQL fan-out: one `LISTEN` connection per process, reconnected when it drops.
//!
//! Senders `pg_notify` inside the message's transaction (`Db::insert_message`), so PostgreSQL
//! delivers each notice to every listening process once the message is committed. This task
//! turns notices into per-user wake-ups. Notices sent while its connection is down are lost
//! for good, so once a new connection listens again every stream of this process is woken
//! and re-reads from its last sent event id: nothing committed in the gap is missed. The
//! listener's connection carries the `application_name` `supportdesk-listen-<instance>`, so an
//! operator (or a test) can find it in `pg_stat_activity`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::notice::{Notice, CHANNEL};
use super::{deliver, Counters, Fanout, Registry};

/// The longest wait between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// The PostgreSQL fan-out of this process.
pub struct PgFanout {
    counters: Arc<Counters>,
}

impl Fanout for PgFanout {
    fn committed(&self, _notice: &Notice) {
        // Nothing to do: the notice went out with the transaction, and this process's own
        // streams hear it through the listener like everyone else's, in commit order.
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

/// Everything the listener task needs.
struct Listen {
    pool: PgPool,
    registry: Arc<Registry>,
    counters: Arc<Counters>,
    shutdown: watch::Receiver<bool>,
    reconnect_delay: Duration,
}

/// The `application_name` of an instance's listener connection.
pub fn application_name(instance: &str) -> String {
    format!("supportdesk-listen-{instance}")
}

impl PgFanout {
    /// Connects the listener (so a server whose database cannot be listened to does not
    /// start) and spawns the task that keeps it listening until `shutdown`.
    pub async fn start(
        pool: &PgPool,
        instance: &str,
        registry: Arc<Registry>,
        shutdown: watch::Receiver<bool>,
        reconnect_delay: Duration,
    ) -> Result<(Self, JoinHandle<()>), sqlx::Error> {
        let options = (*pool.connect_options())
            .clone()
            .application_name(&application_name(instance));
        // Its own pool of one, so the listener never waits behind request queries and a
        // reconnect opens a fresh connection.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options);
        let counters = Arc::new(Counters::default());
        let listen = Listen {
            pool,
            registry,
            counters: Arc::clone(&counters),
            shutdown,
            reconnect_delay,
        };
        let listener = listen.connect().await?;
        listen.connected();
        let task = tokio::spawn(listen.run(listener));
        Ok((Self { counters }, task))
    }
}

impl Listen {
    async fn connect(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        // A lost connection is reported at once (`Ok(None)`) and reconnected here, where the
        // catch-up follows; and a stop closes it with the task, not through the pool.
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Marks the listener up and wakes every stream, which re-reads what it may have missed.
    fn connected(&self) {
        self.counters.listener_up.store(1, Ordering::Relaxed);
        self.counters
            .listener_connects
            .fetch_add(1, Ordering::Relaxed);
        self.registry.wake_all();
    }

    async fn run(mut self, mut listener: PgListener) {
        let mut shutdown = self.shutdown.clone();
        loop {
            let lost = tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => {
                        self.receive(notification.payload());
                        continue;
                    }
                    Ok(None) => "the connection was closed".to_owned(),
                    Err(error) => error.to_string(),
                },
                _ = shutdown.wait_for(|stopped| *stopped) => return,
            };
            self.counters.listener_up.store(0, Ordering::Relaxed);
            tracing::warn!(reason = %lost, "the fan-out listener lost its connection; reconnecting");
            drop(listener);
            listener = match self.reconnect().await {
                Some(listener) => listener,
                None => return,
            };
            self.connected();
            tracing::info!("the fan-out listener is back; every stream catches up");
        }
    }

    /// Connects again, waiting longer after each failure; `None` when the server stops first.
    async fn reconnect(&mut self) -> Option<PgListener> {
        let mut delay = self.reconnect_delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = self.shutdown.wait_for(|stopped| *stopped) => return None,
            }
            match self.connect().await {
                Ok(listener) => return Some(listener),
                Err(error) => {
                    tracing::warn!(%error, "the fan-out listener cannot reconnect yet");
                    delay = (delay * 2).clamp(Duration::from_millis(50), MAX_RECONNECT_DELAY);
                }
            }
        }
    }

    fn receive(&self, payload: &str) {
        match Notice::decode(payload) {
            Ok(notice) => deliver(&self.registry, &self.counters, &notice),
            Err(error) => {
                // Not ours, or from a newer release: looking costs a query per stream, missing
                // a message costs more.
                tracing::warn!(%error, "waking every stream");
                self.counters.notices.fetch_add(1, Ordering::Relaxed);
                self.counters.unreadable.fetch_add(1, Ordering::Relaxed);
                self.registry.wake_all();
            }
        }
    }
}
