//! Any bytes into every decoder of the core (push payload, history page, chat list, single
//! message, cached chat record): never a panic, an accepted value satisfies the contract.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/hostile/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = checks::decode_everything(data) {
        panic!("{broken}");
    }
});
