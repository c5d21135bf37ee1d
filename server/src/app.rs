//! Starting and stopping the server: database, seeding, background tasks and the listener.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::cli::Config;
use crate::db::Db;
use crate::fanout::postgres::PgFanout;
use crate::fanout::{Fanout, LocalFanout, Registry};
use crate::faults::Faults;
use crate::front_end::FrontEndFiles;
use crate::metrics::Metrics;
use crate::rate_limit::{LoginBackoff, RateLimiter};
use crate::served_log::ServedLog;
use crate::state::{AppState, Inner};
use crate::vapid::Vapid;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Anything else (seeding, keys, listener).
    #[error("{0}")]
    Other(String),
}

/// A running server.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state (tests read the database through it).
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    /// The push sender, awaited on shutdown so it can release what it had claimed.
    push_sender: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

/// Opens the database, seeds if asked, and serves on `listener` until shut down.
pub async fn start(config: Config, listener: TcpListener) -> Result<RunningServer, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(format!("listener: {e}")))?;
    let db = Db::connect_pooled(&config.database, config.database_pool).await?;
    tracing::info!(db = db.kind(), "database ready");
    if config.demo {
        crate::demo_seed::seed(&db, config.password_hash_memory_kib)
            .await
            .map_err(|e| StartError::Other(format!("demo seed: {e}")))?;
        if config.demo_large_chat > 0 {
            crate::demo_seed::seed_large_chat(&db, config.demo_large_chat)
                .await
                .map_err(|e| StartError::Other(format!("large demo chat: {e}")))?;
        }
    }
    let vapid = Vapid::load_or_create(&db)
        .await
        .map_err(StartError::Other)?;
    let served_log = match &config.test_served_log {
        Some(path) => ServedLog::open(path)
            .map_err(|e| StartError::Other(format!("served log {}: {e}", path.display())))?,
        None => ServedLog::default(),
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let wakers = Arc::new(Registry::default());
    let mut background = Vec::new();
    let fanout: Arc<dyn Fanout> = match &db {
        Db::Sqlite(_) => Arc::new(LocalFanout::new(Arc::clone(&wakers))),
        Db::Postgres(pool) => {
            let (fanout, listener) = PgFanout::start(
                pool,
                &config.instance,
                Arc::clone(&wakers),
                shutdown_rx.clone(),
                config.fanout_reconnect_delay,
            )
            .await?;
            background.push(listener);
            Arc::new(fanout)
        }
    };
    tracing::info!(fanout = fanout.kind(), instance = %config.instance, "fan-out ready");
    let state = AppState(Arc::new(Inner {
        db,
        metrics: Metrics::default(),
        faults: Faults::new(config.test_faults),
        served_log,
        fanout,
        wakers,
        push_wake: Notify::new(),
        vapid,
        login_limiter: RateLimiter::new(config.login_attempts_per_window, config.login_window),
        login_backoff: LoginBackoff::new(
            config.login_free_failures,
            std::time::Duration::from_secs(15 * 60),
        ),
        shutdown: shutdown_rx.clone(),
        streams: Arc::default(),
        front_end: FrontEndFiles::default(),
        config,
    }));
    if let Some(dist) = state.config.dist.clone() {
        let warming = state.clone();
        background.push(tokio::spawn(async move {
            warming.front_end.warm(&dist).await;
        }));
    }
    let push_sender = state
        .config
        .push_sender
        .then(|| tokio::spawn(crate::push_sender::run(state.clone())));
    background.push(tokio::spawn(crate::housekeeping::purge_sessions(
        state.clone(),
    )));
    background.push(tokio::spawn(crate::housekeeping::trim_push_queue(
        state.clone(),
    )));
    if state.config.simulate {
        background.push(tokio::spawn(crate::simulator::run(state.clone())));
    }
    let app = crate::routes::router(state.clone());
    let mut stop = shutdown_rx;
    let serve = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            // Either a shutdown request or a dropped sender ends the server.
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await
    });
    tracing::info!(%addr, "listening");
    Ok(RunningServer {
        addr,
        state,
        shutdown: shutdown_tx,
        serve,
        push_sender,
        background,
    })
}

impl RunningServer {
    /// Stops accepting, ends SSE streams, waits for in-flight requests and pushes (for
    /// `push_shutdown_grace`), closes the database.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match self.serve.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "server error"),
            Err(error) => tracing::error!(%error, "server task failed"),
        }
        if let Some(sender) = self.push_sender {
            // It stops on the same signal: deliveries in flight get their grace, then what it
            // still holds is released for the next process. The bound is only a backstop.
            let bound = self.state.config.push_shutdown_grace + std::time::Duration::from_secs(10);
            if tokio::time::timeout(bound, sender).await.is_err() {
                tracing::warn!("the push sender did not stop in time");
            }
        }
        for task in self.background {
            task.abort();
        }
        self.state.db.close().await;
        tracing::info!("stopped");
    }
}
