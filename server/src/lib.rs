//! Reference backend of the support-desk chat: the HTTP contract of `SPEC.md` over SQLite or
//! PostgreSQL, with Server-Sent Events, Web Push, media, demo data and test fault injection.

pub mod app;
pub mod auth;
pub mod change;
pub mod cli;
pub mod clock;
pub mod db;
pub mod demo_seed;
pub mod error;
pub mod extract;
pub mod fanout;
pub mod faults;
pub mod front_end;
pub mod housekeeping;
pub mod media_policy;
pub mod metrics;
pub mod push_delivery;
pub mod push_endpoint;
pub mod push_sender;
pub mod rate_limit;
pub mod routes;
pub mod send;
pub mod served_log;
pub mod simulator;
pub mod state;
pub mod streams;
pub mod vapid;

pub use app::{start, RunningServer, StartError};
pub use cli::{Args, Config, DatabaseTarget};
