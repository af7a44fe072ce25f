//! The docs and the shape of the code, held to what the code does: every key the plan reader
//! accepts is in `docs/plan.md`, every AWS action a full run makes is in `docs/permissions.md`,
//! and no module depends, through others, on itself.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Sandbox, plan_copy, root};

/// Every `.rs` file under `dir`, with its text (tests and doc comments cut off).
fn sources(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                out.push((path, code));
            }
        }
    }
    out.sort();
    out
}

/// The words after `prefix` (`crate::` or `super::`) in `code`, also inside `use prefix{a, b}`.
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let word = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').map(|item| word(item.trim())).filter(|w| !w.is_empty()));
        } else {
            found.insert(word(rest));
        }
    }
    found.retain(|w| !w.is_empty() && w != "self");
    found
}

/// The modules of `graph` that reach themselves, each cycle once.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = Vec::new();
    for start in graph.keys() {
        // Depth-first from `start`, back to `start`.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.sort();
                    if !found.contains(&cycle) {
                        found.push(cycle);
                    }
                } else if !path.contains(next) && graph.contains_key(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let src = root().join("src");
    // The crate's top-level modules, by `crate::` paths.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, code) in sources(&src) {
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        top.entry(module.clone()).or_default().extend(targets(&code, "crate::").into_iter().filter(|t| *t != module));
    }
    let names: BTreeSet<String> = top.keys().cloned().collect();
    for deps in top.values_mut() {
        deps.retain(|d| names.contains(d));
    }
    assert_eq!(cycles(&top), Vec::<Vec<String>>::new(), "top-level modules in a circle: {top:#?}");

    // The resource kinds and the run-wide read, by `super::` paths (`mod.rs`, the registry,
    // sits above them).
    let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, code) in sources(&src.join("resources")) {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module != "mod" {
            kinds.insert(module, targets(&code, "super::"));
        }
    }
    let names: BTreeSet<String> = kinds.keys().cloned().collect();
    for (module, deps) in &mut kinds {
        let module = module.clone();
        deps.retain(|d| names.contains(d) && *d != module);
    }
    assert_eq!(cycles(&kinds), Vec::<Vec<String>>::new(), "resource modules in a circle: {kinds:#?}");
}

/// Every key the plan reader asks a table for (`table.string(d, "key")` and its kin) is
/// documented: in backquotes, as `key = ` in an example, or as a `[section]`.
#[test]
fn every_key_the_plan_reader_accepts_is_in_the_plan_reference() {
    let doc = std::fs::read_to_string(root().join("docs/plan.md")).unwrap();
    let mut keys = BTreeSet::new();
    for (path, code) in sources(&root().join("src/plan")) {
        if path.ends_with("tests.rs") {
            continue;
        }
        for (at, _) in code.match_indices("(d, \"") {
            let rest = &code[at + 5..];
            let key = &rest[..rest.find('"').unwrap_or(0)];
            let accessor: String = code[..at].chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') && !accessor.is_empty() {
                keys.insert(key.to_owned());
            }
        }
    }
    assert!(keys.len() > 50, "the reader's keys were not found: {keys:?}");
    let documented = |key: &str| {
        doc.contains(&format!("`{key}`"))
            || doc.lines().any(|l| {
                let l = l.trim_start().trim_start_matches('#').trim_start();
                l.starts_with(&format!("{key} =")) || l.contains(&format!(", {key} ="))
            })
            || doc.contains(&format!("[{key}]"))
            || doc.contains(&format!(".{key}]"))
            || doc.contains(&format!("[[{key}]]"))
    };
    let missing: Vec<&String> = keys.iter().filter(|k| !documented(k)).collect();
    assert!(missing.is_empty(), "keys the plan reader accepts but docs/plan.md does not name: {missing:?}");
}

/// Every query- and JSON-protocol action (EC2, IAM, STS, SSM) of a whole lifecycle on the
/// sandbox is named in `docs/permissions.md`. (The REST services' calls are paths, not action
/// names; their actions are listed by hand.)
#[test]
fn every_action_of_a_whole_run_is_in_the_permissions_reference() {
    let doc = std::fs::read_to_string(root().join("docs/permissions.md")).unwrap();
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), "plans/pinterest.toml", |t| t.replace("force_destroy = false", "force_destroy = true"));
    let plan = plan.to_str().unwrap();
    for args in
        [&["apply", "-q", "--auto-approve", plan][..], &["diff", plan], &["output", plan], &["destroy", "-q", "--auto-approve", plan]]
    {
        let run = sandbox.pinfra(args);
        assert!(run.code == 0 || run.code == 2, "{args:?}: {}", run.stderr);
    }
    let mut missing = BTreeSet::new();
    for (service, operation, _) in sandbox.calls() {
        let operation = operation.split('?').next().unwrap_or_default();
        if operation.contains(' ') {
            continue; // a REST call: `METHOD /path`
        }
        let action = format!("{service}:{operation}");
        if !doc.contains(&action) {
            missing.insert(action);
        }
    }
    assert!(missing.is_empty(), "actions pinfra made that docs/permissions.md does not name: {missing:?}");
}
