//! The typed messages between the contexts of one agent's cache: the change notice every
//! committed write announces to every tab and the service worker, the fetch notice behind the
//! sync indicator, and the messages a page posts to its service worker.
//!
//! They cross a `BroadcastChannel` or `postMessage` as JSON text and are decoded here, so a
//! context never matches on strings; what a notice means for a view (may what is already in
//! memory stay?) is decided here too, next to the type.

use serde::{Deserialize, Serialize};

use crate::ingest::Source;
use crate::protocol::CurrentUser;
use crate::types::{RequestId, Seq};

/// Where a committed change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NoticeSource {
    /// A Web Push the service worker received.
    Push,
    /// The live event stream.
    Live,
    /// A history fetch (gap repair or older history).
    Fetch,
    /// The server's reply to a send.
    SendEcho,
    /// A full reload of the chat.
    FullReload,
    /// An edit, a redaction or a changes catch-up.
    Change,
    /// The outbox changed (queued, parked, retried, deleted); no message changed.
    Outbox,
    /// The chat's summary changed (title, closed, assigned); no message changed.
    Chat,
    /// The chat was taken from the agent and left the cache.
    Revoked,
}

crate::deserialize_unit_variants!(NoticeSource {
    Push = "Push",
    Live = "Live",
    Fetch = "Fetch",
    SendEcho = "SendEcho",
    FullReload = "FullReload",
    Change = "Change",
    Outbox = "Outbox",
    Chat = "Chat",
    Revoked = "Revoked",
});

impl From<Source> for NoticeSource {
    fn from(source: Source) -> Self {
        match source {
            Source::Push => NoticeSource::Push,
            Source::Live => NoticeSource::Live,
            Source::Fetch => NoticeSource::Fetch,
            Source::SendEcho => NoticeSource::SendEcho,
            Source::FullReload => NoticeSource::FullReload,
            Source::Change(_) => NoticeSource::Change,
        }
    }
}

/// What one committed write changed in a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ChangeNotice {
    /// The chat.
    pub request_id: RequestId,
    /// Sequences stored for the first time.
    pub new_seqs: Vec<Seq>,
    /// Held messages replaced by the server's copy.
    pub replaced: u64,
    /// The chat's unread count after the ingest.
    pub unread: u32,
    /// Outbox entries the ingest confirmed.
    pub confirmed_outbox: Vec<String>,
    /// Where the change came from.
    pub source: NoticeSource,
    /// Sequences redacted by this ingest: a view drops their text, a notification closes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Seq>,
    /// The chat was taken from the agent and has left the cache.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// Unsent messages of a revoked chat that were discarded (the server refuses them now).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discarded_outbox: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl ChangeNotice {
    /// A notice about `request_id` from `source` that says nothing else yet.
    pub fn about(request_id: &RequestId, source: NoticeSource) -> Self {
        Self {
            request_id: request_id.clone(),
            new_seqs: Vec::new(),
            replaced: 0,
            unread: 0,
            confirmed_outbox: Vec::new(),
            source,
            redacted: Vec::new(),
            revoked: false,
            discarded_outbox: 0,
        }
    }

    /// Whether the change only added messages (or touched no message at all): the copies a
    /// view already read stay true, and only the new ones need reading. A replacement, an
    /// edit, a redaction, a reload or a revocation makes every copy in memory suspect.
    pub fn keeps_read_messages(&self) -> bool {
        self.replaced == 0
            && self.redacted.is_empty()
            && !self.revoked
            && matches!(
                self.source,
                NoticeSource::Push
                    | NoticeSource::Live
                    | NoticeSource::Fetch
                    | NoticeSource::SendEcho
                    | NoticeSource::Outbox
                    | NoticeSource::Chat
            )
    }
}

/// A context's history requests for a chat went on the network (`fetching: true`) or all came
/// back (`false`), so a page shows its sync indicator whichever context (the service worker,
/// another tab) runs the fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct FetchNotice {
    /// The chat.
    pub request_id: RequestId,
    /// Whether requests of `context` are on the network for it.
    pub fetching: bool,
    /// The announcing context (a random id per driver), so one context's end does not hide
    /// another's fetch.
    pub context: String,
}

/// What a page tells its service worker (`postMessage`, as `{"type": "…", …}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PageMessage {
    /// The agent signed in or out: the worker drops its cached user and runtime.
    SessionChanged,
    /// The server just confirmed this agent: the worker remembers them, so a push that
    /// arrives while the server is unreachable is still cached for them.
    SessionConfirmed {
        /// The confirmed agent.
        user: CurrentUser,
    },
    /// The waiting release takes over (the page's "update" button).
    SkipWaiting,
    /// Subscribe this browser to push and register the subscription with the server for the
    /// signed-in agent; the outcome goes back on the message's port. The page only asks
    /// the permission (a prompt needs a window and a gesture): the worker owns the
    /// subscription, which it already renews on `pushsubscriptionchange`.
    SubscribePush {
        /// How long each wait on the browser may take (`pushManager.subscribe` never
        /// settles without a push service); the worker caps it.
        timeout_ms: u32,
    },
    /// Catch up the signed-in agent's cache (the chat list, then only what is missing): a
    /// page whose live worker, which runs its catch-ups, could not start asks this instead.
    CatchUp,
    /// Send the signed-in agent's outbox now (backoffs end first): a page whose live worker,
    /// which sends it, could not start asks this instead.
    SendOutbox,
    /// The reader of a chat waits at its oldest cached message (a chat never opened here
    /// has none, and shows its newest page once it comes): fetch one page of it, once (no
    /// retries: the page asks again). A page whose live worker, which loads older history,
    /// could not start asks this instead.
    LoadOlder {
        /// The chat.
        request_id: RequestId,
    },
}

/// Decoded flat, without serde's buffering (see [`crate::tagged`]).
impl<'de> Deserialize<'de> for PageMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        enum Tag {
            SessionChanged,
            SessionConfirmed,
            SkipWaiting,
            SubscribePush,
            CatchUp,
            SendOutbox,
            LoadOlder,
        }
        crate::deserialize_unit_variants!(Tag {
            SessionChanged = "session-changed",
            SessionConfirmed = "session-confirmed",
            SkipWaiting = "skip-waiting",
            SubscribePush = "subscribe-push",
            CatchUp = "catch-up",
            SendOutbox = "send-outbox",
            LoadOlder = "load-older",
        });
        #[derive(Deserialize)]
        #[serde(remote = "Self")]
        struct Flat {
            #[serde(rename = "type")]
            tag: Tag,
            user: Option<CurrentUser>,
            timeout_ms: Option<u32>,
            request_id: Option<RequestId>,
        }
        let flat = Flat::deserialize(crate::object_only::ObjectOnly(deserializer))?;
        Ok(match flat.tag {
            Tag::SessionChanged => PageMessage::SessionChanged,
            Tag::SessionConfirmed => PageMessage::SessionConfirmed {
                user: crate::tagged::required(flat.user, "user")?,
            },
            Tag::SkipWaiting => PageMessage::SkipWaiting,
            Tag::SubscribePush => PageMessage::SubscribePush {
                timeout_ms: crate::tagged::required(flat.timeout_ms, "timeout_ms")?,
            },
            Tag::CatchUp => PageMessage::CatchUp,
            Tag::SendOutbox => PageMessage::SendOutbox,
            Tag::LoadOlder => PageMessage::LoadOlder {
                request_id: crate::tagged::required(flat.request_id, "request_id")?,
            },
        })
    }
}

/// Why a posted or broadcast message was not understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct MalformedMessage {
    /// Which kind of message was expected.
    pub what: &'static str,
    /// The decoder's words.
    pub detail: String,
}

/// Decodes a message of type `T` from its JSON text; `what` names it in the error.
pub fn decode<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, MalformedMessage> {
    crate::json::from_str(text).map_err(|e| MalformedMessage {
        what,
        detail: e.to_string(),
    })
}

/// The JSON text of a message (these types always serialize).
pub fn encode<T: Serialize>(message: &T) -> String {
    crate::json::to_string(message).unwrap_or_default()
}

crate::object_only_serde!(ChangeNotice, FetchNotice);

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(source: NoticeSource) -> ChangeNotice {
        ChangeNotice {
            new_seqs: vec![7, 8],
            ..ChangeNotice::about(&RequestId::from("REQ-1"), source)
        }
    }

    #[test]
    fn the_wire_text_names_the_source_as_before() {
        let text = encode(&notice(NoticeSource::SendEcho));
        assert!(text.contains(r#""source":"SendEcho""#), "{text}");
        let back: ChangeNotice = decode(&text, "change notice").unwrap();
        assert_eq!(back, notice(NoticeSource::SendEcho));
        // An older context's notice without the optional fields still decodes.
        let old = r#"{"request_id":"REQ-1","new_seqs":[],"replaced":0,"unread":0,"confirmed_outbox":[],"source":"Live"}"#;
        assert_eq!(
            decode::<ChangeNotice>(old, "change notice").unwrap().source,
            NoticeSource::Live
        );
    }

    #[test]
    fn an_unknown_source_is_a_malformed_notice() {
        let text = r#"{"request_id":"REQ-1","new_seqs":[],"replaced":0,"unread":0,"confirmed_outbox":[],"source":"Elsewhere"}"#;
        let error = decode::<ChangeNotice>(text, "change notice").unwrap_err();
        assert_eq!(error.what, "change notice");
    }

    #[test]
    fn only_additions_keep_what_a_view_read() {
        for source in [
            NoticeSource::Push,
            NoticeSource::Live,
            NoticeSource::Fetch,
            NoticeSource::SendEcho,
            NoticeSource::Outbox,
            NoticeSource::Chat,
        ] {
            assert!(notice(source).keeps_read_messages(), "{source:?}");
        }
        for source in [
            NoticeSource::FullReload,
            NoticeSource::Change,
            NoticeSource::Revoked,
        ] {
            assert!(!notice(source).keeps_read_messages(), "{source:?}");
        }
        let replaced = ChangeNotice {
            replaced: 1,
            ..notice(NoticeSource::Fetch)
        };
        assert!(!replaced.keeps_read_messages());
        let redacted = ChangeNotice {
            redacted: vec![7],
            ..notice(NoticeSource::Push)
        };
        assert!(!redacted.keeps_read_messages());
    }

    #[test]
    fn page_messages_keep_their_wire_shape() {
        assert_eq!(
            encode(&PageMessage::SkipWaiting),
            r#"{"type":"skip-waiting"}"#
        );
        assert_eq!(
            encode(&PageMessage::SessionChanged),
            r#"{"type":"session-changed"}"#
        );
        let user = CurrentUser {
            id: "u_alice".into(),
            username: "alice".into(),
            name: "Alice".into(),
            role: crate::types::SenderRole::Agent,
        };
        let text = encode(&PageMessage::SessionConfirmed { user: user.clone() });
        assert_eq!(
            decode::<PageMessage>(&text, "page message").unwrap(),
            PageMessage::SessionConfirmed { user }
        );
        assert!(decode::<PageMessage>(r#"{"type":"format-disk"}"#, "page message").is_err());
        assert!(
            decode::<PageMessage>(r#"{"type":"session-confirmed"}"#, "page message").is_err(),
            "a confirmation without a user changes nothing"
        );
        let subscribe = PageMessage::SubscribePush { timeout_ms: 8_000 };
        assert_eq!(
            encode(&subscribe),
            r#"{"type":"subscribe-push","timeout_ms":8000}"#
        );
        assert_eq!(
            decode::<PageMessage>(&encode(&subscribe), "page message").unwrap(),
            subscribe
        );
        assert!(
            decode::<PageMessage>(r#"{"type":"subscribe-push"}"#, "page message").is_err(),
            "a subscription request without its timeout changes nothing"
        );
        let older = PageMessage::LoadOlder {
            request_id: RequestId::new("REQ-1001"),
        };
        assert_eq!(
            encode(&older),
            r#"{"type":"load-older","request_id":"REQ-1001"}"#
        );
        assert_eq!(
            decode::<PageMessage>(&encode(&older), "page message").unwrap(),
            older
        );
        assert!(
            decode::<PageMessage>(r#"{"type":"load-older"}"#, "page message").is_err(),
            "an ask for older history without its chat changes nothing"
        );
    }
}
