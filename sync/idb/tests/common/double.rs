//! A test double for the network only: an in-memory history server behind the
//! [`HistoryClient`] trait that counts every request. IndexedDB and Web Locks stay real.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use chat_sync::change_wire::ChangesPage;
use chat_sync::protocol::MessagesPage;
use chat_sync::{Message, RequestId, Seq};
use chat_sync_idb::error::FetchError;
use chat_sync_idb::http::HistoryClient;
use chat_sync_idb::platform;

/// One request the double answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// `range` or `cursor`.
    pub kind: &'static str,
    /// First seq asked for.
    pub from: Seq,
    /// Last seq asked for.
    pub to: Seq,
}

#[derive(Debug, Default)]
struct History {
    messages: BTreeMap<Seq, Message>,
    page_limit: u64,
    range_supported: bool,
    forbidden: bool,
    delay_ms: i64,
    served: Vec<Served>,
}

/// The counting history double; clones share one history and one request log, as two tabs
/// share one server.
#[derive(Clone, Debug)]
pub struct CountingHistory {
    inner: Rc<RefCell<History>>,
    request_id: RequestId,
}

impl CountingHistory {
    /// A chat `request_id` whose server holds `messages`, answering pages of at most
    /// `page_limit` after `delay_ms`.
    pub fn new(request_id: &str, messages: Vec<Message>, page_limit: u64, delay_ms: i64) -> Self {
        Self {
            inner: Rc::new(RefCell::new(History {
                messages: messages.into_iter().map(|m| (m.seq, m)).collect(),
                page_limit,
                range_supported: true,
                forbidden: false,
                delay_ms,
                served: Vec::new(),
            })),
            request_id: RequestId::from(request_id),
        }
    }

    /// Makes range fetches answer "unsupported" (a backend with only the cursor).
    pub fn without_range_fetch(self) -> Self {
        self.inner.borrow_mut().range_supported = false;
        self
    }

    /// Makes every request answer 403, as for a chat reassigned to another agent.
    pub fn forbid(&self) {
        self.inner.borrow_mut().forbidden = true;
    }

    fn refusal(&self) -> Result<(), FetchError> {
        if self.inner.borrow().forbidden {
            return Err(FetchError::Refused {
                status: 403,
                code: "forbidden".into(),
                detail: "the request is assigned to another agent".into(),
            });
        }
        Ok(())
    }

    /// Changes a message at the server (an edit or a redaction at `message.version`).
    pub fn change(&self, message: Message) {
        self.inner
            .borrow_mut()
            .messages
            .insert(message.seq, message);
    }

    /// Every request served so far.
    pub fn served(&self) -> Vec<Served> {
        self.inner.borrow().served.clone()
    }

    /// How many times each seq was asked for (by range or cursor).
    pub fn asks_per_seq(&self) -> BTreeMap<Seq, u32> {
        let mut asks = BTreeMap::new();
        for served in self.served().into_iter().filter(|s| s.kind != "changes") {
            for seq in served.from..=served.to {
                *asks.entry(seq).or_insert(0) += 1;
            }
        }
        asks
    }

    fn last_seq(&self) -> Seq {
        self.inner
            .borrow()
            .messages
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }

    fn page(&self, messages: Vec<Message>) -> MessagesPage {
        MessagesPage {
            request_id: self.request_id.clone(),
            messages,
            last_seq: self.last_seq(),
            page_limit: self.inner.borrow().page_limit,
        }
    }
}

impl HistoryClient for CountingHistory {
    async fn fetch_range(
        &self,
        request_id: &RequestId,
        from: Seq,
        to: Seq,
    ) -> Result<MessagesPage, FetchError> {
        assert_eq!(request_id, &self.request_id);
        self.refusal()?;
        let delay = self.inner.borrow().delay_ms;
        if !self.inner.borrow().range_supported {
            platform::sleep(delay).await;
            return Err(FetchError::Unsupported {
                status: 501,
                detail: "no range fetch here".into(),
            });
        }
        self.inner.borrow_mut().served.push(Served {
            kind: "range",
            from,
            to,
        });
        platform::sleep(delay).await;
        let limit = self.inner.borrow().page_limit as usize;
        let messages = self
            .inner
            .borrow()
            .messages
            .range(from..=to)
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect();
        Ok(self.page(messages))
    }

    async fn fetch_before(
        &self,
        request_id: &RequestId,
        before: Seq,
        limit: u64,
    ) -> Result<MessagesPage, FetchError> {
        assert_eq!(request_id, &self.request_id);
        // A cursor answers the newest `limit` messages below `before`, wherever they are.
        let limit = limit.min(self.inner.borrow().page_limit) as usize;
        let mut messages: Vec<Message> = self
            .inner
            .borrow()
            .messages
            .range(..before)
            .rev()
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect();
        messages.reverse();
        // What was transferred is what counts: the span of the returned seqs.
        let (from, to) = match (messages.first(), messages.last()) {
            (Some(first), Some(last)) => (first.seq, last.seq),
            _ => (before.saturating_sub(limit as u64).max(1), before - 1),
        };
        self.inner.borrow_mut().served.push(Served {
            kind: "cursor",
            from,
            to,
        });
        let delay = self.inner.borrow().delay_ms;
        platform::sleep(delay).await;
        Ok(self.page(messages))
    }

    async fn fetch_changes(
        &self,
        request_id: &RequestId,
        since: u64,
        limit: u64,
    ) -> Result<ChangesPage, FetchError> {
        assert_eq!(request_id, &self.request_id);
        self.refusal()?;
        let (changes, version) = {
            let inner = self.inner.borrow();
            let mut changed: Vec<Message> = inner
                .messages
                .values()
                .filter(|m| m.version > since)
                .cloned()
                .collect();
            changed.sort_by_key(|m| m.version);
            let version = inner
                .messages
                .values()
                .map(|m| m.version)
                .max()
                .unwrap_or(0);
            (changed, version)
        };
        let more = changes.len() as u64 > limit;
        let changes: Vec<Message> = changes.into_iter().take(limit as usize).collect();
        self.inner.borrow_mut().served.push(Served {
            kind: "changes",
            from: since,
            to: version,
        });
        let delay = self.inner.borrow().delay_ms;
        platform::sleep(delay).await;
        Ok(ChangesPage {
            request_id: self.request_id.clone(),
            changes,
            version: version.max(since),
            more,
            closed: false,
        })
    }
}
