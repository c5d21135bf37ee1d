//! The gzip sizes of the built wasm files, each with its largest functions as `twiggy top`
//! names them and its code summed by crate.

use serde_json::{json, Value};

use crate::process::{root, target_dir};
use crate::tools::Tools;

/// Builds the release front end and measures each wasm file of `dist/`.
pub(super) fn wasm_sizes(tools: &Tools) -> Result<Vec<Value>, String> {
    crate::serve::build_front_end(tools)?;
    let mut results = Vec::new();
    let dist = root().join("dist");
    let entries = std::fs::read_dir(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let gzipped = crate::process::output(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9 -c '{}' | wc -c", path.display())),
        )
        .and_then(|n| n.trim().parse::<f64>().ok())
        .ok_or("gzip failed")?;
        // Which build the file is, as cargo names its output, and what it is called here.
        let (cargo_name, what) = if name.starts_with("app") {
            ("app", "app wasm")
        } else if name.starts_with("live-worker") {
            ("live_worker", "live worker wasm")
        } else if name.starts_with("settings-panel") {
            (
                "settings_panel",
                "settings panel wasm (loaded when the agent opens the panel)",
            )
        } else {
            ("worker", "worker wasm")
        };
        // Issue 17's targets: the app within 250 KB, the service worker within 200 KB; the
        // live worker (the live channel, moved out of the app) is a worker held to the same,
        // and so is the settings panel (moved out of the app, loaded on demand).
        let target = if cargo_name == "app" { 250.0 } else { 200.0 };
        results.push(json!({
            "suite": "wasm size (gzip -9)",
            "metric": name,
            "what": what,
            "unit": "KB",
            "median": gzipped / 1024.0,
            "p95": Value::Null,
            "floor": Value::Null,
            "seed_target": "-",
            "our_target": target,
            "meets_target": gzipped / 1024.0 <= target,
            "largest": largest_functions(tools, cargo_name, 5),
            "by_crate": bytes_by_crate(tools, cargo_name, 8),
        }));
        // What the server actually sends a browser that takes Brotli (every engine we
        // support): the build's `.br` file (see `crate::precompress`), held to the same
        // target. Missing when the build wrote none, which is an error.
        let brotli = crate::precompress::brotli_path(&path);
        let sent = std::fs::metadata(&brotli)
            .map_err(|e| format!("{}: {e}", brotli.display()))?
            .len() as f64;
        results.push(json!({
            "suite": "wasm size as the server sends it (Brotli 11)",
            "metric": format!("{name}.br"),
            "what": format!("{what} ({:.0} % of its gzip -9 size)", 100.0 * sent / gzipped),
            "unit": "KB",
            "median": sent / 1024.0,
            "p95": Value::Null,
            "floor": Value::Null,
            "seed_target": "-",
            "our_target": target,
            "meets_target": sent / 1024.0 <= target,
        }));
    }
    Ok(results)
}

/// The `count` largest functions of a front-end crate's wasm as `twiggy top` names them, as
/// `{"item", "bytes"}`: where to look first when a size grows. They come from cargo's own
/// output (before wasm-bindgen and wasm-opt: the shipped file carries no names), so the
/// bytes are before optimization. Empty when twiggy is not installed (`cargo install
/// twiggy`) or cannot read the file; the sizes do not depend on it.
fn largest_functions(tools: &Tools, crate_name: &str, count: usize) -> Vec<Value> {
    twiggy_functions(tools, crate_name, Some(200))
        .into_iter()
        .take(count)
        .map(|(name, bytes)| json!({ "item": without_hash(&name), "bytes": bytes }))
        .collect()
}

/// The functions of a front-end crate's wasm summed by the crate their code belongs to (see
/// [`crate_of`]), the `count` largest as `{"item", "bytes"}`: which crates a smaller file
/// would have to shed. Before optimization, like [`largest_functions`].
fn bytes_by_crate(tools: &Tools, crate_name: &str, count: usize) -> Vec<Value> {
    let mut sums: Vec<(String, u64)> = Vec::new();
    for (name, bytes) in twiggy_functions(tools, crate_name, None) {
        let owner = crate_of(&name);
        match sums.iter_mut().find(|(c, _)| *c == owner) {
            Some((_, sum)) => *sum += bytes,
            None => sums.push((owner.to_owned(), bytes)),
        }
    }
    sums.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sums.into_iter()
        .take(count)
        .map(|(item, bytes)| json!({ "item": item, "bytes": bytes }))
        .collect()
}

/// The functions of cargo's output of a front-end crate, largest first, with their bytes
/// (the first `limit`, or all of them).
fn twiggy_functions(tools: &Tools, crate_name: &str, limit: Option<usize>) -> Vec<(String, u64)> {
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join("wasm-release")
        .join(format!("{crate_name}.wasm"));
    let limit = limit.map_or_else(|| "1000000".to_owned(), |n| n.to_string());
    let Some(csv) = crate::process::output(
        tools
            .command("twiggy")
            .args(["top", "-n", &limit, "-f", "csv"])
            .arg(&wasm),
    ) else {
        return Vec::new();
    };
    csv.lines()
        .skip(1)
        .filter_map(csv_name_and_size)
        .filter(|(name, _)| is_function(name))
        .collect()
}

/// Whether a `twiggy top` item is a function of the shipped code: sections and subsections
/// (the names, which the shipped file drops), data segments, imports and exports
/// (wasm-bindgen's `describe` functions, which it removes) are not.
fn is_function(name: &str) -> bool {
    !name.contains(" section")
        && !name.contains(" subsection")
        && ![
            "data segment",
            "import ",
            "export ",
            "type[",
            "elem[",
            "table[",
            "global[",
            "memory[",
            "__wbindgen",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The crate a function's code belongs to: the first path in its name
/// (`<F as tachys::view::Render>::build` is tachys's, `core::ptr::drop_in_place<…>` the
/// standard library's, monomorphized for whoever uses it).
fn crate_of(name: &str) -> &str {
    let mut rest = name;
    while let Some(at) = rest.find("::") {
        let head = &rest[..at];
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let ident = &head[start..];
        // A generic parameter (`F`, `T`) names no crate; `[0123abcd]` disambiguators were
        // split off at the bracket.
        if ident.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
            return ident;
        }
        rest = &rest[at + 2..];
    }
    "other"
}

/// The first two fields of a line of twiggy's CSV (the item's name, quoted when it holds a
/// comma or a quote, and its shallow size).
fn csv_name_and_size(line: &str) -> Option<(String, u64)> {
    let (name, rest) = match line.strip_prefix('"') {
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            loop {
                let (i, c) = chars.next()?;
                if c != '"' {
                    name.push(c);
                } else if chars.peek().is_some_and(|&(_, next)| next == '"') {
                    chars.next();
                    name.push('"');
                } else {
                    break (name, quoted.get(i + 1..)?.strip_prefix(',')?);
                }
            }
        }
        None => {
            let (name, rest) = line.split_once(',')?;
            (name.to_owned(), rest)
        }
    };
    let bytes = rest.split(',').next()?.trim().parse().ok()?;
    Some((name, bytes))
}

/// A symbol without rustc's `::h0123456789abcdef` hash suffix.
fn without_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            base
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::{crate_of, csv_name_and_size, is_function, without_hash};

    #[test]
    fn names_the_crate_of_a_function() {
        assert_eq!(
            crate_of("chat_sync_idb::store::read::h0123"),
            "chat_sync_idb"
        );
        assert_eq!(
            crate_of("<F as tachys::reactive_graph::ReactiveFunction>::invoke"),
            "tachys"
        );
        assert_eq!(
            crate_of("core::ptr::drop_in_place<alloc::rc::Rc<app::List>>"),
            "core"
        );
        assert_eq!(
            crate_of("<dlmalloc[e24a27700634d609]::dlmalloc::Dlmalloc<A>>::malloc"),
            "dlmalloc"
        );
        assert_eq!(crate_of("<T as A>::b"), "other");
        assert!(!is_function("\"function names\" subsection"));
        assert!(!is_function("data segment \".rodata\""));
        assert!(is_function("app::render"));
    }

    #[test]
    fn reads_twiggy_csv_lines() {
        assert_eq!(
            csv_name_and_size("\"\"\"function names\"\" subsection\",938768,27.4,,"),
            Some(("\"function names\" subsection".to_owned(), 938768))
        );
        assert_eq!(
            csv_name_and_size("\"<F as a::B<C, D>>::invoke::h00029090db0efb4b\",14943,0.44,,"),
            Some((
                "<F as a::B<C, D>>::invoke::h00029090db0efb4b".to_owned(),
                14943
            ))
        );
        assert_eq!(
            csv_name_and_size("app::render::hec1b26f6970e637b,16183,0.47,,"),
            Some(("app::render::hec1b26f6970e637b".to_owned(), 16183))
        );
        assert_eq!(csv_name_and_size("Name,ShallowSize"), None);
        assert_eq!(
            without_hash("app::render::hec1b26f6970e637b"),
            "app::render"
        );
        assert_eq!(
            without_hash("core::fmt::float::x::<f64>"),
            "core::fmt::float::x::<f64>"
        );
    }
}
