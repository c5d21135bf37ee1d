//! The caches other agents left in this browser, cleared once another agent is confirmed
//! signed in (the rule is the core's [`chat_sync::leftovers`]): each is removed (its
//! database and its media cache) unless it holds unsent work (outbox entries or drafts),
//! which stays whole for its agent's next sign-in.
//!
//! An agent's session can end without a sign-out here (it expired, or ended elsewhere), and
//! then nothing is wiped; nothing of that cache is ever opened for or served to the next
//! agent either, but it stays readable on disk through the browser's developer tools.

use chat_sync::leftovers::{leftover, Leftover};
use chat_sync::store::Store as _;

use crate::database::{self, database_name};
use crate::store::IdbStore;
use crate::{drafts, media};

/// What [`clear_other_agents`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeftoversReport {
    /// The agents whose caches were removed.
    pub removed: Vec<String>,
    /// The agents whose caches were kept for their unsent work.
    pub kept: Vec<String>,
    /// Steps that failed, in words (the cache concerned stays as it was).
    pub problems: Vec<String>,
}

/// Clears the cache of every agent of this browser but `current_user` (see the module).
pub async fn clear_other_agents(current_user: &str) -> LeftoversReport {
    match database::database_names().await {
        Ok(names) => {
            let others: Vec<String> = names
                .iter()
                .filter_map(|name| database::user_of(name))
                .filter(|user| *user != current_user)
                .map(str::to_owned)
                .collect();
            clear_agents(&others).await
        }
        Err(error) => LeftoversReport {
            problems: vec![format!("listing the databases: {error}")],
            ..LeftoversReport::default()
        },
    }
}

/// Clears the caches of `users` (each removed or kept, as the core decides).
pub async fn clear_agents(users: &[String]) -> LeftoversReport {
    let mut report = LeftoversReport::default();
    for user in users {
        match clear_agent(user).await {
            Ok(Leftover::Remove) => report.removed.push(user.clone()),
            Ok(Leftover::KeepUnsent) => report.kept.push(user.clone()),
            Err(problem) => report.problems.push(format!("{user}: {problem}")),
        }
    }
    for problem in &report.problems {
        crate::log_warn!(%problem, "another agent's cache could not be cleared");
    }
    report
}

/// Reads what `user` has unsent and removes the cache when nothing is. A record of the
/// outbox that cannot be read counts as unsent: it may be a reply.
async fn clear_agent(user: &str) -> Result<Leftover, String> {
    let store = IdbStore::open_for_user(user)
        .await
        .map_err(|e| format!("opening the cache: {e}"))?;
    let queued = store.outbox().await.map(|o| o.len());
    let unreadable = store.corrupt_records_seen() as usize;
    let queued = match queued {
        Ok(queued) => queued + unreadable,
        Err(error) => {
            store.close();
            return Err(format!("reading the outbox: {error}"));
        }
    };
    let decision = leftover(queued, drafts::count(user));
    if decision == Leftover::KeepUnsent {
        store.close();
        return Ok(decision);
    }
    store.shut_down();
    let name = database_name(user);
    media::delete_cache(&name)
        .await
        .map_err(|e| format!("deleting the media cache: {e}"))?;
    database::delete_database(&name)
        .await
        .map_err(|e| format!("deleting the database: {e}"))?;
    Ok(decision)
}
