//! The engine's top-level modules import each other without a loop: the
//! graph of `crate::<module>` paths (and `super::<module>` in a top-level
//! file) over the crate's non-test code has no cycle. A loop fails with
//! the modules on it and the file that names each edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code before its first `#[cfg(test)]`, comments removed.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names after `prefix` (`crate::` or `super::`).
fn named_modules(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let boundary = code[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        if boundary && !name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            names.insert(name);
        }
    }
    names
}

/// Module → (module it imports → a file that imports it).
fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let parts: Vec<&str> = relative.iter().map(|p| p.to_str().unwrap()).collect();
        if parts[0] == "lib.rs" {
            continue;
        }
        let module = parts[0].trim_end_matches(".rs").to_string();
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let mut named = named_modules(&code, "crate::");
        // In a top-level module's own file, `super::` is the crate root.
        let top_level_file = parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod.rs");
        if top_level_file {
            named.extend(named_modules(&code, "super::"));
        }
        for target in named.into_iter().filter(|t| *t != module) {
            edges
                .entry(module.clone())
                .or_default()
                .entry(target)
                .or_insert_with(|| relative.to_path_buf());
        }
    }
    edges
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_from(
    start: &str,
    edges: &BTreeMap<String, BTreeMap<String, PathBuf>>,
) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in edges.get(&module).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn engine_modules_import_each_other_without_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(
        edges.contains_key("run") && edges["run"].contains_key("topology"),
        "the graph is read: run imports topology"
    );
    for module in edges.keys() {
        if let Some(cycle) = cycle_from(module, &edges) {
            let named: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    format!(
                        "{} -> {} ({})",
                        pair[0],
                        pair[1],
                        edges[&pair[0]][&pair[1]].display()
                    )
                })
                .collect();
            panic!("import loop: {}", named.join(", "));
        }
    }
}

// The check finds a loop when there is one.
#[test]
fn a_loop_is_found() {
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (from, to) in [
        ("config", "topology"),
        ("topology", "ingest"),
        ("ingest", "config"),
    ] {
        edges
            .entry(from.into())
            .or_default()
            .insert(to.into(), PathBuf::from(format!("{from}.rs")));
    }
    let cycle = cycle_from("config", &edges).expect("a loop");
    assert_eq!(cycle, ["config", "topology", "ingest", "config"]);
    assert_eq!(
        named_modules("use crate::orders::Orders; x::crate::no", "crate::"),
        BTreeSet::from(["orders".to_string()])
    );
}
