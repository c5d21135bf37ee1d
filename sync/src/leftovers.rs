//! What happens to the cache of an agent who used this browser once another agent is
//! confirmed signed in here.
//!
//! The server gives each agent only the chats assigned to them; a cache left on disk would
//! let the next agent on a shared machine read the previous agent's customers through the
//! browser's developer tools. So when an agent is confirmed, every other agent's cache is
//! removed — unless it holds work that exists nowhere else: replies queued in the outbox
//! (with their files) or drafts. Those are kept whole, never opened for anyone else, and
//! sent once their agent signs in again; the history itself is on the server and comes back
//! then.

/// What to do with another agent's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// Nothing in it exists only here: the database, the media cache and the drafts go.
    Remove,
    /// It holds unsent work: it stays as it is until its agent signs in again.
    KeepUnsent,
}

/// Decides for a cache with `queued` outbox entries and `drafts` non-empty drafts.
pub fn leftover(queued: usize, drafts: usize) -> Leftover {
    if queued == 0 && drafts == 0 {
        Leftover::Remove
    } else {
        Leftover::KeepUnsent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cache_with_nothing_unsent_is_removed() {
        assert_eq!(leftover(0, 0), Leftover::Remove);
        assert_eq!(leftover(1, 0), Leftover::KeepUnsent);
        assert_eq!(leftover(0, 1), Leftover::KeepUnsent);
        assert_eq!(leftover(3, 2), Leftover::KeepUnsent);
    }
}
