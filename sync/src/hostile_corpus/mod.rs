//! The hostile input corpus: one place for the strings, numbers and JSON documents that
//! try to break the cache, shared by the core's property tests, the server's tests and the
//! end-to-end suite (`tests/tests/hostile.rs`, `tests/tests/push.rs`).
//!
//! - [`text`]: message bodies, names and attachment names: markup and script that try to
//!   run (each one sets the global [`PWNED`] or opens a dialog if it ever executes),
//!   Unicode tricks, blank and control-character bodies, bodies at and over the size limit.
//! - [`json`]: hostile sequence numbers, lone UTF-16 surrogates, malformed and deeply
//!   nested JSON documents.
//! - [`push`], [`replies`], [`sends`]: whole push payloads, history pages and chat lists,
//!   and send requests, each built ([`build`]) from a good value with one hostile part, with
//!   the verdict the contract demands.
//!
//! Everything here is data with an expected verdict; nothing here decides. Built only for
//! tests (`cfg(test)` or the `test-support` feature), so no front end ships it.

pub mod build;
pub mod json;
pub mod push;
pub mod replies;
pub mod sends;
pub mod text;

/// The global every markup payload of [`text`] tries to set (`window.__pwned = …`): a page
/// on which it is defined ran one of them.
pub const PWNED: &str = "__pwned";

/// One named hostile string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hostile {
    /// A short name for reports (`img-onerror`, `rtl-override`).
    pub name: &'static str,
    /// The string itself.
    pub text: String,
}

impl Hostile {
    /// A named string.
    pub fn new(name: &'static str, text: impl Into<String>) -> Self {
        Self {
            name,
            text: text.into(),
        }
    }
}

/// One hostile document (a push payload, a reply, a request body) and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// What is hostile about it (`message seq 2^53`, `lone surrogate in body`).
    pub name: String,
    /// The document as sent on the wire.
    pub json: String,
    /// Whether the contract accepts it (a valid shape with hostile data is accepted and
    /// kept byte-exact; anything else is refused with an error).
    pub accepted: bool,
}

impl Case {
    /// A case refused by the contract.
    pub fn refused(name: impl Into<String>, json: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            json: json.into(),
            accepted: false,
        }
    }

    /// A case the contract accepts.
    pub fn accepted(name: impl Into<String>, json: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            json: json.into(),
            accepted: true,
        }
    }
}

/// How many entries the corpus holds, by part, for reports.
pub fn sizes() -> Vec<(&'static str, usize)> {
    let good = push::sample_message("REQ-1", 2);
    vec![
        ("markup bodies", text::markup().len()),
        ("unicode bodies", text::unicode().len()),
        ("blank bodies", text::blank().len()),
        ("control-character bodies", text::control().len()),
        ("attachment names", text::attachment_names().len()),
        (
            "refused attachment names",
            text::refused_attachment_names().len(),
        ),
        ("seq literals", json::seq_literals().len()),
        ("lone surrogate literals", json::lone_surrogates().len()),
        ("malformed documents", json::malformed().len()),
        (
            "push payloads",
            push::push_payloads(&good, "usr_agent").len(),
        ),
        (
            "history pages",
            replies::page_replies(std::slice::from_ref(&good), 1, 2).len(),
        ),
        (
            "chat lists",
            replies::chat_list_replies(&replies::sample_chat_list()).len(),
        ),
        ("send requests", sends::send_requests("REQ-1").len()),
    ]
}
