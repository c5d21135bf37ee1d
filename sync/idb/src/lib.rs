//! `chat-sync-idb`: the browser half of the support-desk chat cache.
//!
//! - [`store::IdbStore`]: the [`chat_sync::store::Store`] in IndexedDB, one database per
//!   signed-in user, with versioned migrations, corrupt-record handling and quota mapping.
//! - [`runtime::Runtime`]: the one ingest path every source uses (validate, merge, commit,
//!   then announce on a `BroadcastChannel`).
//! - [`driver::Driver`]: runs the core's planner, fetches missing ranges over HTTP under a
//!   per-chat Web Lock, merges and re-validates.
//! - [`live::LiveChannel`]: one tab per browser follows the server's event stream (leader
//!   elected with a Web Lock) and catches up after every reconnect ([`live::catch_up`]);
//!   [`live_worker`] runs it in a dedicated worker of the page's.
//! - [`push_subscription`]: subscribing to Web Push (permission, VAPID key, timeouts) and
//!   renewing the subscription from the service worker.
//! - [`outbox_sender`]: queue (with local attachment bytes) and send the outbox under a Web
//!   Lock; [`media`]: the media cache's LRU index, counters and budget; [`update`]: a waiting
//!   service-worker release; [`sign_out`]: sign out in every tab and wipe everything of an
//!   agent; [`drafts`]: composer drafts in `localStorage`; [`lazy_module`]: a build of
//!   ours the page loads on demand (the settings panel).
//!
//! It runs in a window, a dedicated worker and a service worker: every global-scope lookup
//! goes through [`platform`].
#![warn(missing_docs)]

pub mod agent;
pub mod boxed;
pub mod broadcast;
pub mod changes;
pub mod codec;
pub mod console;
pub mod context;
pub mod database;
pub mod drafts;
pub mod driver;
pub mod edits;
pub mod error;
pub mod http;
pub mod join;
pub mod lazy_module;
pub mod leftovers;
pub mod live;
pub mod live_lease;
pub mod live_worker;
pub mod locks;
pub mod media;
pub mod outbox_sender;
pub mod pending_sign_out;
pub mod platform;
pub mod push_subscription;
pub mod remembered_user;
pub mod request;
pub mod runtime;
pub mod schema;
pub mod service_worker;
pub mod sign_out;
pub mod store;
pub mod task;
pub mod update;
pub mod upload;

pub use database::{database_name, wipe};
pub use error::{DomError, FetchError, SyncError};
pub use store::IdbStore;
