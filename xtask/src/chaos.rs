//! `cargo xtask chaos N` plays N more seeded fault schedules than CI does (seeds drawn from
//! the clock, printed so a failure can be played again); `cargo xtask chaos --seed S [...]`
//! plays the given seeds. Same build and browser as the end-to-end step of `cargo xtask test`.

use crate::process::{root, run, target_dir};
use crate::serve::build_front_end;
use crate::tools::{Need, Tools};

/// The seeds `args` ask for: `--seed S` (repeatable), else `N` seeds from the clock.
fn seeds(args: &[String]) -> Result<Vec<u64>, String> {
    let mut given = Vec::new();
    let mut count = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--seed" {
            let seed = rest.next().ok_or("--seed needs a number")?;
            given.push(
                seed.parse()
                    .map_err(|_| format!("--seed {seed:?} is not a number"))?,
            );
        } else {
            count = Some(
                arg.parse::<u64>()
                    .map_err(|_| format!("{arg:?} is neither N nor --seed S"))?,
            );
        }
    }
    if !given.is_empty() {
        return Ok(given);
    }
    let count = count.unwrap_or(10);
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
        % 1_000_000;
    Ok((0..count).map(|i| base * 1_000 + i).collect())
}

/// Runs `chaos` with its arguments.
pub fn run_chaos(args: &[String]) -> Result<(), String> {
    let seeds = seeds(args)?;
    let list = seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    eprintln!("xtask: chaos seeds {list}");
    let tools = Tools::locate()?;
    tools.install(Need::Tests)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    build_front_end(&tools)?;
    run(tools.command(&cargo).args(["build", "-p", "server"]))?;
    let mut command = tools.command(&cargo);
    command
        .args(["test", "-p", "e2e", "--test", "chaos", "--", "--nocapture"])
        .env("CHAOS_SEEDS", &list)
        .env("E2E_SERVER_BIN", target_dir().join("debug").join("server"))
        .env("E2E_DIST", root().join("dist"))
        .env("E2E_CHROMIUM", "/usr/bin/chromium");
    run(&mut command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn given_seeds_win_and_a_count_draws_that_many() {
        assert_eq!(
            seeds(&args(&["--seed", "7", "--seed", "9"])).unwrap(),
            [7, 9]
        );
        assert_eq!(seeds(&args(&["3"])).unwrap().len(), 3);
        assert!(seeds(&args(&["--seed"])).is_err());
        assert!(seeds(&args(&["many"])).is_err());
    }
}
