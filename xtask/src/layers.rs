//! `cargo xtask test`'s module-layers step: the import rules a reader relies on, checked from
//! the sources so they stay true.
//!
//! Each crate's top-level modules (a file `src/x.rs` or a directory `src/x/`) form a graph by
//! their `crate::x` paths (plain or grouped, `crate::{x, y}`), comments left out. The rules:
//! - no crate has an import circle between its top-level modules;
//! - `chat-sync` layers as sequences ← wire ← cache ← engine/view: a module imports only its
//!   own layer and those below, and every module is placed in [`CORE_LAYERS`];
//! - in the server, only the router's builders (`app`, `lib`, `main`) import `routes`, and
//!   the configuration and the clock import nothing of the crate.
//!
//! It reads paths, not types: `use super::…` inside a directory module and method calls are
//! not edges, which is what the rules are about (who names whom).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The layers of `chat-sync`, lowest first, and the modules in each.
pub const CORE_LAYERS: &[(&str, &[&str])] = &[
    (
        "sequences",
        &[
            "ranges",
            "row_heights",
            "linkify",
            "tagged",
            "object_only",
            "sort",
            "json",
            "vec_map",
            "labels",
        ],
    ),
    (
        "wire",
        &[
            "types",
            "protocol",
            "change_wire",
            "decode",
            "backoff",
            "upload",
            "send_rules",
            "hostile_corpus",
        ],
    ),
    (
        "cache",
        &[
            "changes",
            "ingest",
            "eviction",
            "quota",
            "store",
            "memory_store",
            "outbox",
            "leftovers",
            "media_cache",
            "notice",
            "suite",
        ],
    ),
    (
        "engine/view",
        &[
            "engine",
            "planner",
            "sync_state",
            "live",
            "leadership",
            "read_marks",
            "timeline",
            "list_model",
        ],
    ),
];

/// The crates whose modules must not import each other in a circle.
const CRATES: &[&str] = &[
    "sync",
    "sync/idb",
    "app",
    "settings-panel",
    "worker",
    "live-worker",
    "server",
];

/// Server modules that may import `routes` (they build the router).
const SERVER_ROUTER_BUILDERS: &[&str] = &["app", "lib", "main"];

/// Server modules that import nothing of the crate: the configuration and the clock.
const SERVER_LEAVES: &[&str] = &["cli", "clock"];

/// Runs every rule over the workspace at `root`; the violations, one line each.
pub fn check(root: &Path) -> Result<Vec<String>, String> {
    let mut violations = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        let graph = module_graph(&src)?;
        for cycle in cycles(&graph) {
            violations.push(format!(
                "{krate}: import circle between {}",
                cycle.join(", ")
            ));
        }
        match *krate {
            "sync" => violations.extend(core_layer_violations(&graph)),
            "server" => violations.extend(server_violations(&graph)),
            _ => {}
        }
    }
    Ok(violations)
}

/// The import graph of the crate whose sources are in `src`.
pub fn module_graph(src: &Path) -> Result<Graph, String> {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    collect(src, src, &mut sources)?;
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let mut graph = Graph::new();
    for (module, text) in &sources {
        let named = crate_paths(text)
            .into_iter()
            .filter(|m| m != module && modules.contains(m))
            .collect();
        graph.insert(module.clone(), named);
    }
    Ok(graph)
}

/// Reads every `.rs` file under `dir` into `sources`, keyed by its top-level module (binaries
/// under `src/bin` are crates of their own and left out).
fn collect(src: &Path, dir: &Path, sources: &mut BTreeMap<String, String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(src).unwrap_or(&path);
        let Some(first) = relative.iter().next().and_then(|c| c.to_str()) else {
            continue;
        };
        if path.is_dir() {
            if first != "bin" {
                collect(src, &path, sources)?;
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_owned();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entry = sources.entry(module).or_default();
        entry.push_str(&text);
        entry.push('\n');
    }
    Ok(())
}

/// The top-level modules a source names through `crate::`, comments left out.
pub fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in a macro names the crate from outside: not an edge.
        let preceded_by_dollar = at > 0 && rest.as_bytes()[at - 1] == b'$';
        rest = &rest[at + "crate::".len()..];
        if preceded_by_dollar {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                if let Some(name) = leading_ident(item.trim()) {
                    named.insert(name);
                }
            }
        } else if let Some(name) = leading_ident(rest) {
            named.insert(name);
        }
    }
    named
}

/// The index of the `}` closing a group whose `{` was just consumed.
fn matching_brace(group: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    group.len()
}

/// The comma-separated items of a group, nested groups kept whole.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// A lower-case identifier at the start of `text` (a module name), if any.
fn leading_ident(text: &str) -> Option<String> {
    let ident: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let first = ident.chars().next()?;
    (first.is_ascii_lowercase() || first == '_').then_some(ident)
}

/// The strongly connected components with more than one module (Tarjan), each sorted.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, v: &'a str) {
        state.index.insert(v, state.next);
        state.low.insert(v, state.next);
        state.next += 1;
        state.stack.push(v);
        state.on_stack.insert(v);
        let graph = state.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !state.index.contains_key(w) {
                visit(state, w);
                let low = state.low[v].min(state.low[w]);
                state.low.insert(v, low);
            } else if state.on_stack.contains(w) {
                let low = state.low[v].min(state.index[w]);
                state.low.insert(v, low);
            }
        }
        if state.low[v] == state.index[v] {
            let mut component = Vec::new();
            while let Some(w) = state.stack.pop() {
                state.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found.sort();
    state.found
}

/// `chat-sync` modules importing a higher layer, or placed in none.
pub fn core_layer_violations(graph: &Graph) -> Vec<String> {
    let layer_of = |module: &str| {
        CORE_LAYERS
            .iter()
            .position(|(_, modules)| modules.contains(&module))
    };
    let mut violations = Vec::new();
    for (module, named) in graph {
        if module == "lib" {
            continue;
        }
        let Some(layer) = layer_of(module) else {
            violations.push(format!(
                "sync: module `{module}` is in no layer of xtask's CORE_LAYERS (place it)"
            ));
            continue;
        };
        for other in named {
            if let Some(other_layer) = layer_of(other) {
                if other_layer > layer {
                    violations.push(format!(
                        "sync: `{module}` ({}) imports `{other}` ({}), a higher layer",
                        CORE_LAYERS[layer].0, CORE_LAYERS[other_layer].0
                    ));
                }
            }
        }
    }
    violations
}

/// Server modules below the router that import `routes`, and leaves that import anything.
pub fn server_violations(graph: &Graph) -> Vec<String> {
    let mut violations = Vec::new();
    for (module, named) in graph {
        if named.contains("routes") && !SERVER_ROUTER_BUILDERS.contains(&module.as_str()) {
            violations.push(format!(
                "server: `{module}` imports `routes` (only {SERVER_ROUTER_BUILDERS:?} build the router)"
            ));
        }
        if SERVER_LEAVES.contains(&module.as_str()) && !named.is_empty() {
            violations.push(format!(
                "server: `{module}` must be a leaf but imports {named:?}"
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(m, named)| {
                (
                    (*m).to_owned(),
                    named.iter().map(|n| (*n).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn paths_are_read_plain_grouped_and_nested_but_not_from_comments_or_macros() {
        let text = "use crate::types::Seq;\n\
                    use crate::{ranges::SeqRange, store::{Store, StoreError}};\n\
                    // crate::planner is only mentioned\n\
                    let x = crate::decode::json(b);\n\
                    $crate::suite::run();\n\
                    use crate::Message;";
        let named: Vec<String> = crate_paths(text).into_iter().collect();
        assert_eq!(named, ["decode", "ranges", "store", "types"]);
    }

    #[test]
    fn a_circle_is_found_and_a_chain_is_not() {
        let circle = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
        assert_eq!(cycles(&circle), vec![vec!["a", "b", "c"]]);
        let chain = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]);
        assert!(cycles(&chain).is_empty());
    }

    #[test]
    fn the_core_may_import_down_but_not_up_and_every_module_is_placed() {
        let down = graph(&[("planner", &["ranges", "types"]), ("types", &["ranges"])]);
        assert!(core_layer_violations(&down).is_empty());
        let up = graph(&[("types", &["planner"]), ("mystery", &[])]);
        let violations = core_layer_violations(&up);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations
            .iter()
            .any(|v| v.contains("`types` (wire) imports `planner`")));
        assert!(violations
            .iter()
            .any(|v| v.contains("`mystery` is in no layer")));
    }

    #[test]
    fn only_the_router_builders_import_routes_and_leaves_import_nothing() {
        let good = graph(&[("app", &["routes"]), ("routes", &["db"]), ("cli", &[])]);
        assert!(server_violations(&good).is_empty());
        let bad = graph(&[("simulator", &["routes"]), ("cli", &["routes"])]);
        assert_eq!(server_violations(&bad).len(), 3);
    }
}
