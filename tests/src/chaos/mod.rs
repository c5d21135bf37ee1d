//! The fault-schedule ("chaos") suite: seeded schedules of requester posts, push fates,
//! worker stops, network cuts, tab changes, server faults and restarts, and offline sends,
//! played against the real server in real headless Chromium; then everything is healed, the
//! agent opens every chat, and the verdict compares IndexedDB with the server and reads the
//! server's record of every history reply.
//!
//! - [`schedule`]: seed → actions (pure, unit-tested).
//! - [`run`]: plays the actions in the browser and settles: `player` performs each action,
//!   `settle` heals, reads and judges, `errors` collects the browser's own failures, and
//!   `app_page` holds what the schedules ask of an app page.
//! - [`verdict`]: what must hold after a schedule settles.

mod app_page;
mod errors;
mod player;
pub mod run;
pub mod schedule;
mod settle;
pub mod verdict;

pub use run::{run_seed, ChaosReport};
