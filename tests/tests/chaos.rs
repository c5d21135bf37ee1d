//! The fault-schedule suite: seeded schedules of faults played in real headless Chromium
//! against the real server, then the invariants of `e2e::chaos::verdict` are judged.
//!
//! CI plays the fixed seeds below; `CHAOS_SEEDS=5,6,7` (what `cargo xtask chaos N` sets)
//! plays others. A failing seed is printed with how to play it again.

use e2e::chaos::{run_seed, ChaosReport};

/// The seeds CI plays.
const CI_SEEDS: [u64; 3] = [1, 2, 3];

fn seeds() -> Vec<u64> {
    match std::env::var("CHAOS_SEEDS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("CHAOS_SEEDS holds {s:?}, not a number"))
            })
            .collect(),
        _ => CI_SEEDS.to_vec(),
    }
}

fn print(report: &ChaosReport) {
    eprintln!(
        "chaos seed {}: {} steps in {:.1} s; {} requester messages, {} agent sends ({} offline), \
         {} pushes delivered, {} dropped, {} malformed, {} server restarts, {} network cuts, \
         {} tab changes, {} edits and deletions, {} chats reassigned; {} messages served by \
         history replies, {} again after a lost reply; {} messages cached; {} violations",
        report.seed,
        report.steps,
        report.seconds,
        report.posted,
        report.sent,
        report.sent_offline,
        report.pushes_delivered,
        report.pushes_dropped,
        report.malformed,
        report.restarts,
        report.cuts,
        report.tab_changes,
        report.changes,
        report.reassigned,
        report.served,
        report.refetched_after_loss,
        report.cached,
        report.violations.len(),
    );
}

#[tokio::test(flavor = "current_thread")]
async fn seeded_fault_schedules_lose_nothing_and_fetch_nothing_twice() -> e2e::Result<()> {
    let mut failed = Vec::new();
    for seed in seeds() {
        let report = run_seed(seed).await?;
        print(&report);
        for violation in &report.violations {
            eprintln!("  seed {seed}: {violation}");
        }
        if !report.violations.is_empty() {
            failed.push(seed);
        }
    }
    assert!(
        failed.is_empty(),
        "seeds {failed:?} broke an invariant (above); play one again with `cargo xtask chaos --seed SEED`"
    );
    Ok(())
}
