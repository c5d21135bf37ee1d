//! `--simulate`: a requester simulator that posts to random open chats every few seconds
//! through the same send path as `POST /api/chat/messages`, as the chat's requester, and now
//! and then corrects what it just sent through the edit path of `PATCH /api/chat/messages`.

use chat_sync::change_wire::EditMessage;
use chat_sync::protocol::SendMessage;
use chat_sync::types::RequestId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::state::AppState;

const LINES: [&str; 10] = [
    "Any update on this?",
    "I just tried again and it still fails.",
    "It seems to work now, thanks!",
    "Here is what I see: the window closes right after sign-in.",
    "Could you call me when you have a minute?",
    "My manager is asking about this one.",
    "Restarted as you suggested. Same result.",
    "The error changed: now it says 'access denied'.",
    "Is there a workaround for today?",
    "Thanks, I'll wait for your message.",
];

/// Posts one message to a random chat per interval until the server stops.
pub async fn run(state: AppState) {
    let mut rng = StdRng::from_entropy();
    let mut shutdown = state.shutdown.clone();
    let mut counter: u64 = 0;
    loop {
        let jitter = rng.gen_range(0..=state.config.simulate_interval.as_millis() as u64 / 2);
        let pause = state.config.simulate_interval + std::time::Duration::from_millis(jitter);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
        let chats = match state.db.all_chats().await {
            Ok(chats) if chats.iter().any(|c| !c.is_closed()) => chats
                .into_iter()
                .filter(|c| !c.is_closed())
                .collect::<Vec<_>>(),
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, "simulator cannot list chats");
                continue;
            }
        };
        let chat = &chats[rng.gen_range(0..chats.len())];
        let requester = match state.db.user_by_id(&chat.requester_id).await {
            Ok(Some(user)) => user,
            _ => continue,
        };
        counter += 1;
        let request = SendMessage {
            request_id: RequestId::new(chat.id.clone()),
            client_temp_id: format!("sim-{}-{counter}", rng.gen::<u64>()),
            body: LINES[rng.gen_range(0..LINES.len())].to_owned(),
            attachments: Vec::new(),
        };
        match crate::send::send_message(&state, &requester, request).await {
            Ok((message, _)) => {
                tracing::debug!(chat = %chat.id, seq = message.seq, "simulated message");
                // The odd correction: one message in ten is edited right after it is sent.
                if rng.gen_ratio(1, 10) {
                    let edit = EditMessage {
                        request_id: message.request_id.clone(),
                        seq: message.seq,
                        body: format!("{} (edited)", message.body),
                    };
                    if let Err(error) = crate::change::edit_message(&state, &requester, edit).await
                    {
                        tracing::warn!(%error, "simulated edit failed");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "simulated send failed"),
        }
    }
}
