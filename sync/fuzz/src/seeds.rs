//! Writes every document of the hostile corpus into `corpus/decode` and `corpus/round_trip`
//! (libFuzzer's seed inputs), so fuzzing starts from inputs that reach validation instead of
//! rediscovering JSON byte by byte.

use std::path::Path;

use chat_sync::hostile_corpus::{json, push, replies, sends, text};

fn main() -> std::io::Result<()> {
    let good = push::sample_message("REQ-1", 4);
    let page: Vec<chat_sync::Message> = (4..=6).map(|s| push::sample_message("REQ-1", s)).collect();
    let mut documents: Vec<String> = push::push_payloads(&good, "usr_agent")
        .into_iter()
        .chain(replies::page_replies(&page, 3, 8))
        .chain(replies::chat_list_replies(&replies::sample_chat_list()))
        .map(|case| case.json)
        .collect();
    documents.extend(
        sends::send_requests("REQ-1")
            .into_iter()
            .map(|case| case.json),
    );
    documents.extend(json::malformed().into_iter().map(|doc| doc.text));
    let messages: Vec<String> = text::stored_bodies()
        .into_iter()
        .chain(text::control())
        .map(|body| {
            let mut message = good.clone();
            message.body = body.text;
            serde_json::to_string(&message).unwrap_or_default()
        })
        .collect();
    write(
        Path::new("corpus/decode"),
        documents.iter().chain(&messages),
    )?;
    write(Path::new("corpus/round_trip"), messages.iter())?;
    println!(
        "{} decode seeds, {} round-trip seeds",
        documents.len() + messages.len(),
        messages.len()
    );
    Ok(())
}

fn write<'a>(dir: &Path, documents: impl Iterator<Item = &'a String>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, document) in documents.enumerate() {
        std::fs::write(dir.join(format!("hostile-{i:04}")), document)?;
    }
    Ok(())
}
