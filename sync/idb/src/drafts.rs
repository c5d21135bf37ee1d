//! Composer drafts in `localStorage`, one entry per agent and chat, so a reload or a crash
//! keeps what the agent was typing. The keys are named here only, so sign-out can delete
//! every draft of the agent ([`wipe`]) and nothing they typed stays on a shared machine.
//!
//! `localStorage` exists only in windows: in a worker every function does nothing.

use crate::platform;

/// The prefix of every draft key of `user_id`.
fn prefix(user_id: &str) -> String {
    format!("supportdesk:draft:{user_id}:")
}

/// The `localStorage` key of the draft of `user_id` in chat `request_id`.
pub fn key(user_id: &str, request_id: &str) -> String {
    format!("{}{request_id}", prefix(user_id))
}

fn storage() -> Option<web_sys::Storage> {
    platform::local_storage()
}

/// The draft stored under `key` (empty when none, or without `localStorage`).
pub fn load(key: &str) -> String {
    storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .unwrap_or_default()
}

/// Stores `text` under `key`; an empty text removes the draft. A full or refused storage
/// only costs the draft's survival across a reload, so it is logged, not raised.
pub fn save(key: &str, text: &str) {
    let Some(storage) = storage() else {
        return;
    };
    let result = if text.is_empty() {
        storage.remove_item(key)
    } else {
        storage.set_item(key, text)
    };
    if let Err(error) = result {
        let error = crate::DomError::from_js(&error);
        crate::log_warn!(name = %error.name, message = %error.message, "could not keep the draft");
    }
}

/// The keys of every draft of `user_id` (none without `localStorage`).
fn keys_of(storage: &web_sys::Storage, user_id: &str) -> Vec<String> {
    let prefix = prefix(user_id);
    let length = storage.length().unwrap_or(0);
    (0..length)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|k| k.starts_with(&prefix))
        .collect()
}

/// How many drafts `user_id` has (an empty draft is never stored, see [`save`]).
pub fn count(user_id: &str) -> usize {
    storage().map_or(0, |storage| keys_of(&storage, user_id).len())
}

/// Deletes every draft of `user_id`; returns how many were deleted.
pub fn wipe(user_id: &str) -> u32 {
    let Some(storage) = storage() else {
        return 0;
    };
    let mut deleted = 0;
    for key in keys_of(&storage, user_id) {
        if storage.remove_item(&key).is_ok() {
            deleted += 1;
        }
    }
    deleted
}
