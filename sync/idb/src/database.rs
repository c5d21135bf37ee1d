//! One IndexedDB database per signed-in user: naming, opening with the schema upgrade,
//! `versionchange` handling, reopening a connection the browser closed, and wipe.
//!
//! Every store operation runs through [`Database::run`]: if the connection turns out closed
//! (another context upgraded the schema and ours closed itself, or the browser closed it),
//! the database is reopened and the operation retried once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::store::StoreError;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbTransaction, IdbTransactionMode};

use crate::error::{store_error, DomError};
use crate::platform;
use crate::request::request;
use crate::schema;

/// The prefix of the name of every agent's cache database.
const NAME_PREFIX: &str = "supportdesk-chat-cache:";

/// The database name of a user's cache. Each signed-in user has their own database, so two
/// agents sharing one browser never read each other's cache.
pub fn database_name(user_id: &str) -> String {
    format!("{NAME_PREFIX}{user_id}")
}

/// The user whose cache the database `name` is, if it is one ([`database_name`]'s inverse).
pub fn user_of(name: &str) -> Option<&str> {
    name.strip_prefix(NAME_PREFIX)
        .filter(|user| !user.is_empty())
}

/// The names of the databases of this origin (`indexedDB.databases()`).
pub async fn database_names() -> Result<Vec<String>, StoreError> {
    let factory = platform::indexed_db().ok_or_else(|| StoreError::Backend {
        operation: "list databases",
        name: "NotSupportedError".to_owned(),
        message: "indexedDB is not available in this context".to_owned(),
    })?;
    // web-sys has no binding for `databases()`.
    let list = js_sys::Reflect::get(&factory, &JsValue::from_str("databases"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
        .and_then(|databases| databases.call0(&factory))
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
        .map_err(|e| store_error("list databases", &e))?;
    let list = wasm_bindgen_futures::JsFuture::from(list)
        .await
        .map_err(|e| store_error("list databases", &e))?;
    Ok(js_sys::Array::from(&list)
        .iter()
        .filter_map(|d| {
            js_sys::Reflect::get(&d, &JsValue::from_str("name"))
                .ok()?
                .as_string()
        })
        .collect())
}

type Handler = Closure<dyn FnMut(JsValue)>;

/// Called once when another context deletes the database under an open handle.
pub type DeletedHook = Rc<dyn Fn()>;

/// A lazily (re)opened connection to one database.
pub struct Database {
    name: String,
    version: u32,
    slot: Rc<RefCell<Option<IdbDatabase>>>,
    /// The event handlers of the connections opened so far, kept alive with them.
    handlers: RefCell<Vec<Handler>>,
    opens: Cell<u32>,
    /// Set for good by [`Database::shut_down`] or when another context deletes the database:
    /// no later operation of this handle reopens (and so re-creates) it.
    shut: Rc<Cell<bool>>,
    on_deleted: Rc<RefCell<Option<DeletedHook>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("open", &self.slot.borrow().is_some())
            .field("opens", &self.opens.get())
            .finish()
    }
}

impl Database {
    /// A handle on database `name` at schema `version` (the current one except in migration
    /// tests); nothing is opened until the first operation.
    pub fn new(name: impl Into<String>, version: u32) -> Self {
        Self {
            name: name.into(),
            version,
            slot: Rc::new(RefCell::new(None)),
            handlers: RefCell::new(Vec::new()),
            opens: Cell::new(0),
            shut: Rc::new(Cell::new(false)),
            on_deleted: Rc::new(RefCell::new(None)),
        }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this handle is shut for good (shut down here, or the database was deleted by
    /// another context).
    pub fn is_shut(&self) -> bool {
        self.shut.get()
    }

    /// Calls `hook` once if another context deletes the database (a sign-out or a "clear
    /// everything" in another tab): the handle is then shut, and the owner decides what the
    /// context shows (sign-in, or a fresh start).
    pub fn set_on_deleted(&self, hook: Option<DeletedHook>) {
        *self.on_deleted.borrow_mut() = hook;
    }

    /// How many times a connection was opened (1 unless it had to be reopened).
    pub fn opens(&self) -> u32 {
        self.opens.get()
    }

    /// The open connection, opening (and upgrading) the database when needed.
    pub async fn connection(&self) -> Result<IdbDatabase, StoreError> {
        if let Some(db) = self.slot.borrow().as_ref() {
            return Ok(db.clone());
        }
        if self.shut.get() {
            return Err(StoreError::Closed {
                operation: "open",
                message: format!("{} was shut down or deleted (sign-out or clear)", self.name),
            });
        }
        let db = open(&self.name, self.version).await?;
        self.opens.set(self.opens.get() + 1);
        self.watch(&db);
        *self.slot.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    /// Closes the connection when another context asks for a version change (so its upgrade
    /// is not blocked) and forgets it when the browser closes it; the next operation reopens.
    /// A version change to no version is a deletion (sign-out, clear): then the handle is
    /// shut for good, since reopening would re-create the database the other context just
    /// wiped, and the owner's hook is told.
    fn watch(&self, db: &IdbDatabase) {
        let on_version_change = {
            let slot = Rc::clone(&self.slot);
            let shut = Rc::clone(&self.shut);
            let on_deleted = Rc::clone(&self.on_deleted);
            let db = db.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let deleted = event
                    .dyn_ref::<web_sys::IdbVersionChangeEvent>()
                    .is_some_and(|e| e.new_version().is_none());
                crate::log_info!(database = %db.name(), deleted, "versionchange from another context: closing");
                if deleted {
                    shut.set(true);
                }
                db.close();
                forget_if_current(&slot, &db);
                if deleted {
                    let hook = on_deleted.borrow().clone();
                    if let Some(hook) = hook {
                        hook();
                    }
                }
            })
        };
        let on_close = {
            let slot = Rc::clone(&self.slot);
            let db = db.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
                crate::log_warn!(database = %db.name(), "the browser closed the connection");
                forget_if_current(&slot, &db);
            })
        };
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        db.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut handlers = self.handlers.borrow_mut();
        handlers.push(on_version_change);
        handlers.push(on_close);
    }

    /// Closes the connection for good: no later operation of this handle reopens (and so
    /// re-creates) the database, which is about to be deleted.
    pub fn shut_down(&self) {
        self.shut.set(true);
        self.close();
    }

    /// Closes the connection (it is reopened by the next operation).
    pub fn close(&self) {
        if let Some(db) = self.slot.borrow_mut().take() {
            db.close();
        }
    }

    /// Runs `operation` against the connection; if the connection was closed under it, reopens
    /// and retries once.
    pub async fn run<T>(
        &self,
        name: &'static str,
        operation: impl AsyncFn(IdbDatabase) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // One call site of `operation`, in a loop of at most two passes: each call site of
        // its future is compiled into this function for every operation.
        let mut retried = false;
        loop {
            let db = self.connection().await?;
            match operation(db.clone()).await {
                Err(StoreError::Closed { message, .. }) if !retried => {
                    crate::log_info!(operation = name, %message, "connection closed: reopening and retrying once");
                    forget_if_current(&self.slot, &db);
                    db.close();
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// A transaction over `stores`, with the durability `access` asks for.
    pub fn transaction(
        db: &IdbDatabase,
        stores: &[&str],
        access: Access,
        operation: &'static str,
    ) -> Result<IdbTransaction, StoreError> {
        let names = js_sys::Array::new();
        for store in stores {
            names.push(&JsValue::from_str(store));
        }
        let durability = match access {
            Access::Read => {
                return db
                    .transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readonly)
                    .map_err(|e| store_error(operation, &e))
            }
            Access::Write => "relaxed",
            Access::WriteDurable => "strict",
        };
        // `transaction(stores, mode, {durability})`: web-sys has the options argument only
        // behind its unstable APIs, so the call goes through the method itself. A browser
        // without the option ignores it (and keeps its own default).
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"durability".into(), &durability.into())
            .map_err(|e| store_error(operation, &e))?;
        let transaction: js_sys::Function = js_sys::Reflect::get(db, &"transaction".into())
            .and_then(|f| f.dyn_into())
            .map_err(|e| store_error(operation, &e))?;
        transaction
            .call3(db, &names, &"readwrite".into(), &options)
            .and_then(|t| t.dyn_into::<IdbTransaction>())
            .map_err(|e| store_error(operation, &e))
    }
}

/// How a transaction touches the database, and how durable its writes must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Writes of the cache: what the server can give again (messages, chat records, read
    /// marks, the media index). Committed with `relaxed` durability: the browser reports the
    /// commit once the data is in the operating system's hands, without waiting for it to
    /// reach the disk. In Chromium that takes about half the time of a page's commit (the
    /// delta sync's ingest of 100, 13–17 ms → 6–8 ms); what a power cut could lose is
    /// fetched again by the next gap repair.
    Write,
    /// Writes of what only this machine holds: the outbox's unsent messages and their files.
    /// Committed with `strict` durability, flushed to disk before the commit is reported, so
    /// a message the agent was told is queued survives a crash.
    WriteDurable,
}

impl Drop for Database {
    /// Closes the connection and detaches its handlers before they are freed: a `versionchange`
    /// reaching a connection whose handler closure is gone would be an error in the page.
    fn drop(&mut self) {
        if let Some(db) = self.slot.borrow_mut().take() {
            db.set_onversionchange(None);
            db.set_onclose(None);
            db.close();
        }
    }
}

fn forget_if_current(slot: &RefCell<Option<IdbDatabase>>, db: &IdbDatabase) {
    let mut slot = slot.borrow_mut();
    if slot.as_ref() == Some(db) {
        *slot = None;
    }
}

/// Opens `name` at `version`, running the schema upgrade steps from whatever version it had.
pub async fn open(name: &str, version: u32) -> Result<IdbDatabase, StoreError> {
    let factory = platform::indexed_db().ok_or_else(|| StoreError::Backend {
        operation: "open",
        name: "NotSupportedError".to_owned(),
        message: "indexedDB is not available in this context".to_owned(),
    })?;
    let open_request: IdbOpenDbRequest = factory
        .open_with_u32(name, version)
        .map_err(|e| store_error("open", &e))?;
    let upgrade = {
        let open_request = open_request.clone();
        Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
            move |event: web_sys::IdbVersionChangeEvent| {
                let old = event.old_version() as u32;
                let new = event.new_version().map_or(old, |v| v as u32);
                let db: IdbDatabase = match open_request.result() {
                    Ok(db) => db.unchecked_into(),
                    Err(_) => return,
                };
                let Some(tx) = open_request.transaction() else {
                    return;
                };
                crate::log_info!(database = %db.name(), old, new, "upgrading the cache schema");
                if let Err(error) = schema::upgrade(&db, &tx, old, new) {
                    // Aborting the versionchange transaction fails the open with this
                    // error and leaves the previous version, and every message, intact.
                    let error = DomError::from_js(&error);
                    crate::log_error!(name = %error.name, message = %error.message, "schema upgrade failed");
                    let _ = tx.abort();
                }
            },
        )
    };
    open_request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let blocked = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
        crate::log_info!("opening the cache waits for other contexts to close their connection");
    });
    open_request.set_onblocked(Some(blocked.as_ref().unchecked_ref()));
    let result = request(&open_request).await;
    open_request.set_onupgradeneeded(None);
    open_request.set_onblocked(None);
    drop(upgrade);
    drop(blocked);
    let db = result.map_err(|e| e.into_store_error("open"))?;
    Ok(db.unchecked_into())
}

/// Deletes a database by name. Connections of this crate in other contexts close themselves
/// on the resulting `versionchange`, so the deletion is not blocked by them.
pub async fn delete_database(name: &str) -> Result<(), StoreError> {
    let factory = platform::indexed_db().ok_or_else(|| StoreError::Backend {
        operation: "wipe",
        name: "NotSupportedError".to_owned(),
        message: "indexedDB is not available in this context".to_owned(),
    })?;
    let delete = factory
        .delete_database(name)
        .map_err(|e| store_error("wipe", &e))?;
    request(&delete)
        .await
        .map(|_| ())
        .map_err(|e| e.into_store_error("wipe"))
}

/// Deletes the cache of `user_id` (sign-out on a shared machine, or the settings panel's
/// "clear").
pub async fn wipe(user_id: &str) -> Result<(), StoreError> {
    delete_database(&database_name(user_id)).await
}
