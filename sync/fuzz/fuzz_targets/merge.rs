//! Any bytes read as a merge scenario (a chat's size, then three bytes per arrival: which
//! kind, and two bytes of argument): merging keeps held ranges, counts and contents exact
//! and every hostile input refused.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/hostile/checks.rs"]
mod checks;

use checks::{Op, Scenario};

fn scenario(data: &[u8]) -> Option<Scenario> {
    let (&size, rest) = data.split_first()?;
    let (&salt, rest) = rest.split_first()?;
    let last = 1 + u64::from(size) % 150;
    let ops = rest
        .chunks_exact(3)
        .take(60)
        .map(|c| {
            let seq = 1 + u64::from(u16::from_le_bytes([c[1], c[2]])) % last;
            let arg = usize::from(c[1]) << 8 | usize::from(c[2]);
            match c[0] % 8 {
                0 => Op::Push(seq),
                1 => Op::Page {
                    from: seq,
                    len: u64::from(c[2]) % 60,
                },
                2 => Op::Live(seq),
                3 => Op::ChatList,
                4 => Op::HostilePush(arg),
                5 => Op::HostilePage(arg),
                6 => Op::HostileList(arg),
                _ => Op::RawInvalid { kind: c[1], seq },
            }
        })
        .collect();
    Some(Scenario {
        last,
        salt: usize::from(salt),
        ops,
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(scenario) = scenario(data) {
        if let Err(broken) = checks::merge(&scenario) {
            panic!("{broken}");
        }
    }
});
