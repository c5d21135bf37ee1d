//! What each event does to the world: posts and edits at the server, live deliveries, fetch
//! replies, wake-ups and timers, crashes, chat lists, changes fetched, and reassignments.

use chat_sync::engine::fetch::Failure;
use chat_sync::engine::Goal;
use chat_sync::ingest::{ChangeFacts, Source};
use chat_sync::store::Store;
use chat_sync::{ChatSummary, Millis, Person, Seq};
use futures::executor::block_on;

use crate::context::Context;
use crate::event::Event;
use crate::world::{chat_id, chat_index, Sim};
use crate::{CHATS, CONTEXTS, POST_UNTIL, SERVER_PAGE};

impl Sim {
    pub(crate) fn handle(&mut self, event: Event) {
        match event {
            Event::Post { chat } => {
                let m = self.server_append(chat);
                self.counts.posted += 1;
                for ctx in 0..CONTEXTS {
                    if self.reassigned[chat] {
                        break;
                    }
                    if self.rng.chance(1, 6) {
                        self.counts.live_dropped += 1;
                        continue;
                    }
                    let epoch = self.contexts[ctx].epoch;
                    let delay = self.rng.below(600) as Millis;
                    self.schedule(
                        self.now + delay,
                        Event::Live {
                            ctx,
                            epoch,
                            message: m.clone(),
                        },
                    );
                    if self.rng.chance(1, 10) {
                        self.counts.live_duplicated += 1;
                        self.schedule(
                            self.now + delay + 50,
                            Event::Live {
                                ctx,
                                epoch,
                                message: m.clone(),
                            },
                        );
                    }
                }
                let next = self.now + 100 + self.rng.below(1_500) as Millis;
                if next < POST_UNTIL {
                    self.schedule(next, Event::Post { chat });
                }
            }
            Event::Live {
                ctx,
                epoch,
                message,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                self.counts.live_delivered += 1;
                let chat = chat_index(&message.request_id);
                let report = self.ingest_from(chat, vec![message], Source::Live);
                if report.reveals_gap && report.rejected.is_empty() {
                    // The live channel's repair, one per chat at a time.
                    if !self.contexts[ctx].repairing.contains_key(&chat) {
                        let goal = Goal::after_ingest(Source::Live, true);
                        let run = self.start_run(ctx, chat, goal);
                        if self.contexts[ctx].runs.contains_key(&run) {
                            self.contexts[ctx].repairing.insert(chat, run);
                        }
                    }
                } else {
                    // The open view syncs what it shows after each notice.
                    let goal = self.reader_goal(chat);
                    self.start_run(ctx, chat, goal);
                }
            }
            Event::Reply {
                ctx,
                epoch,
                fetch,
                requests,
                index,
                mut tally,
                ok,
            } => {
                let chat = chat_index(&fetch.request_id);
                if epoch != self.contexts[ctx].epoch {
                    // The context died mid-fetch: its lock was released when it crashed.
                    return;
                }
                let request = requests[index];
                let failure = if self.reassigned[chat] {
                    // The chat is another agent's now.
                    Some(Failure::Refused(403))
                } else if !ok {
                    self.counts.network_failures += 1;
                    Some(Failure::Transient)
                } else {
                    None
                };
                if let Some(failure) = failure {
                    if failure.revokes_chat() {
                        self.revoke(chat);
                    }
                    self.report(ctx, &fetch, failure.outcome());
                    self.release(ctx, chat, request.range);
                    return;
                }
                let last = self.server[chat].len() as Seq;
                let page = self.answer(chat, request.query);
                assert!(page.iter().all(|m| request.accept.contains(m.seq)));
                self.counts.seqs_fetched += page.len() as u64;
                tally.add(page.iter().map(|m| m.seq), last, SERVER_PAGE);
                self.ingest_from(chat, page, Source::Fetch);
                block_on(self.store.note_backend_last_seq(&chat_id(chat), last)).expect("note");
                if let Some(wire) = self.on_the_wire.get_mut(&chat) {
                    wire.remove_range(request.range);
                }
                if index + 1 < requests.len() {
                    // The command's next request, still under the chat's lock.
                    self.send(ctx, fetch, requests, index + 1, tally);
                    return;
                }
                self.report(ctx, &fetch, tally.outcome());
                self.release(ctx, chat, request.range);
            }
            Event::Wake { ctx, epoch, run } => {
                if epoch == self.contexts[ctx].epoch {
                    self.advance(ctx, run);
                }
            }
            Event::Tick { ctx, epoch } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                // The timer of a context: a chat with no run going gets one (the runs
                // themselves sleep out grace periods and backoffs).
                for chat in 0..CHATS {
                    if !self.contexts[ctx].runs.values().any(|c| *c == chat) {
                        let goal = self.reader_goal(chat);
                        self.start_run(ctx, chat, goal);
                    }
                }
                let next = self.contexts[ctx]
                    .engine
                    .planner()
                    .next_wakeup()
                    .unwrap_or(self.now + 1_000);
                self.schedule(
                    next.max(self.now + 50).min(self.now + 1_000),
                    Event::Tick { ctx, epoch },
                );
            }
            Event::Crash { ctx } => {
                self.counts.crashes += 1;
                let epoch = self.contexts[ctx].epoch + 1;
                self.contexts[ctx] = Context {
                    epoch,
                    ..Context::new(self.rng.next_u64())
                };
                let held_locks: Vec<usize> = self
                    .locks
                    .iter()
                    .filter(|(_, h)| **h == ctx)
                    .map(|(c, _)| *c)
                    .collect();
                for chat in held_locks {
                    // The browser releases a dead context's locks; its request may still be
                    // answered, but nobody will merge the answer.
                    self.locks.remove(&chat);
                    self.on_the_wire.remove(&chat);
                }
                let epoch = self.contexts[ctx].epoch;
                // The context comes back (a tab reloaded, the worker woken by a push).
                self.schedule(self.now + 500, Event::ChatList { ctx, epoch });
                self.schedule(self.now + 510, Event::Tick { ctx, epoch });
                for other in 0..CONTEXTS {
                    self.start_waiting(other);
                }
            }
            Event::ChatList { ctx, epoch } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let summaries: Vec<ChatSummary> = (0..CHATS)
                    .filter(|chat| !self.reassigned[*chat])
                    .map(|chat| ChatSummary {
                        request_id: chat_id(chat),
                        title: format!("chat {chat}"),
                        requester: Person {
                            id: "r".into(),
                            name: "R".into(),
                        },
                        last_seq: self.server[chat].len() as Seq,
                        last_message: None,
                        updated_at: self.now,
                        change_version: self.versions[chat],
                        closed: false,
                    })
                    .collect();
                block_on(self.store.apply_summaries(&summaries, self.now)).expect("summaries");
                for chat in 0..CHATS {
                    if self.reassigned[chat] {
                        // Not in the list: the runtime asks the server, which answers 403.
                        let cached = block_on(self.store.chat(&chat_id(chat)))
                            .expect("read")
                            .is_some();
                        if cached {
                            self.schedule(
                                self.now,
                                Event::ChangesFetch {
                                    ctx,
                                    epoch,
                                    chat,
                                    confirm: true,
                                },
                            );
                        }
                    } else {
                        self.changes_due(ctx, chat);
                    }
                }
                // The live channel reconnects and catches up by the chat list every few
                // seconds, as the runtime does after any disconnect.
                if self.now < POST_UNTIL + 10_000 {
                    self.schedule(self.now + 2_500, Event::ChatList { ctx, epoch });
                }
            }
            Event::Change { chat } => {
                let live: Vec<usize> = (0..self.server[chat].len())
                    .filter(|i| !self.server[chat][*i].deleted)
                    .collect();
                if !live.is_empty() && !self.reassigned[chat] {
                    let at = live[self.rng.below(live.len() as u64) as usize];
                    self.versions[chat] += 1;
                    let version = self.versions[chat];
                    let redact = self.rng.chance(1, 3);
                    let message = &mut self.server[chat][at];
                    if redact {
                        self.redacted_bodies.push(message.body.clone());
                        message.body.clear();
                        message.attachments.clear();
                        message.deleted = true;
                    } else {
                        message.body = format!("edit {version} of {chat}/{}", message.seq);
                        message.edited_at = Some(self.now);
                    }
                    message.version = version;
                    let changed = message.clone();
                    self.counts.changes += 1;
                    for ctx in 0..CONTEXTS {
                        if self.rng.chance(1, 6) {
                            continue;
                        }
                        let epoch = self.contexts[ctx].epoch;
                        let delay = self.rng.below(600) as Millis;
                        self.schedule(
                            self.now + delay,
                            Event::LiveChange {
                                ctx,
                                epoch,
                                message: changed.clone(),
                            },
                        );
                    }
                }
                let next = self.now + 200 + self.rng.below(2_000) as Millis;
                if next < POST_UNTIL {
                    self.schedule(next, Event::Change { chat });
                }
            }
            Event::LiveChange {
                ctx,
                epoch,
                message,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let chat = chat_index(&message.request_id);
                let facts = ChangeFacts {
                    through: None,
                    backend_version: message.version,
                    closed: None,
                };
                let report = self.ingest_from(chat, vec![message], Source::Change(facts));
                if report.changes_due.is_some() {
                    self.changes_due(ctx, chat);
                }
                let goal = self.reader_goal(chat);
                self.start_run(ctx, chat, goal);
            }
            Event::ChangesFetch {
                ctx,
                epoch,
                chat,
                confirm,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let Some(record) = block_on(self.store.chat(&chat_id(chat))).expect("read") else {
                    return;
                };
                let since = match chat_sync::changes::changes_since(&record) {
                    Some(since) => since,
                    None if confirm => record.change_version,
                    None => return,
                };
                self.counts.changes_fetches += 1;
                let ok = !self.rng.chance(1, 8);
                let latency = 20 + self.rng.below(400) as Millis;
                self.schedule(
                    self.now + latency,
                    Event::ChangesReply {
                        ctx,
                        epoch,
                        chat,
                        since,
                        ok,
                    },
                );
            }
            Event::ChangesReply {
                ctx,
                epoch,
                chat,
                since,
                ok,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                if self.reassigned[chat] {
                    self.revoke(chat);
                    return;
                }
                if !ok {
                    self.counts.network_failures += 1;
                    let epoch = self.contexts[ctx].epoch;
                    self.schedule(
                        self.now + 500,
                        Event::ChangesFetch {
                            ctx,
                            epoch,
                            chat,
                            confirm: false,
                        },
                    );
                    return;
                }
                let page = self.changes_page(chat, since);
                self.counts.changes_fetched += page.changes.len() as u64;
                let facts = ChangeFacts {
                    through: Some(page.applied_through()),
                    backend_version: page.version,
                    closed: Some(page.closed),
                };
                let more = page.more;
                self.ingest_from(chat, page.changes, Source::Change(facts));
                if more {
                    self.changes_due(ctx, chat);
                }
                let goal = self.reader_goal(chat);
                self.start_run(ctx, chat, goal);
            }
            Event::Reassign { chat } => {
                self.reassigned[chat] = true;
                self.versions[chat] += 1;
                for ctx in 0..CONTEXTS {
                    if self.rng.chance(1, 3) {
                        continue;
                    }
                    let epoch = self.contexts[ctx].epoch;
                    let delay = self.rng.below(600) as Millis;
                    self.schedule(self.now + delay, Event::LiveRevoked { ctx, epoch, chat });
                }
            }
            Event::LiveRevoked { ctx, epoch, chat } => {
                if epoch == self.contexts[ctx].epoch {
                    self.revoke(chat);
                }
            }
        }
    }
}
