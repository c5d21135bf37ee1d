//! Any bytes that decode as a valid message: every encoding gives it back byte-exact, the
//! store keeps it byte-exact, and showing it never panics.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/hostile/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(message) = chat_sync::decode::message(data, "fuzz input") {
        if let Err(broken) = checks::round_trip(&message) {
            panic!("{broken}");
        }
    }
});
