//! The shape of `src/` (docs/architecture.md): every module imports only the layers
//! below its own, the pure core imports nothing above it and no I/O crate, and no
//! two modules import each other, directly or through others. Read from the source
//! text: a `crate::` path names the module it imports from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer and the layers it may import from (besides itself).
const LAYERS: &[(&str, &[&str])] = &[
    ("core", &[]),
    ("io", &["core"]),
    ("report", &["core"]),
    ("command", &["core", "io", "report"]),
    ("handler", &["core", "io", "report", "command"]),
    ("settings", &["core", "io", "report"]),
    ("wiring", &["core", "io", "report", "handler", "settings"]),
    ("logging", &["core"]),
    (
        "local",
        &[
            "core", "io", "report", "command", "handler", "settings", "wiring", "logging",
        ],
    ),
];

/// Crates the core must not use: it does no I/O, logs nothing, knows no Lambda.
const NOT_IN_CORE: &[&str] = &[
    "aws_config",
    "aws_sdk_",
    "aws_smithy_",
    "aws_lambda_events",
    "lambda_runtime",
    "tokio",
    "tracing",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/core/selection/parse.rs` is
/// `["core", "selection", "parse"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The unit a path belongs to: its layer and, inside a layer of several modules,
/// the module of that layer it is part of (`core::selection` for
/// `core::selection::parse`; `core` for `core::Defaults`, an item of the layer's
/// own file). A module and its own submodules are one unit.
fn unit(path: &[String]) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    match path {
        [] => "lib".into(),
        [layer] => layer.clone(),
        [layer, module, ..] => {
            let dir = src.join(layer);
            let is_module = dir.join(format!("{module}.rs")).is_file() || dir.join(module).join("mod.rs").is_file();
            if dir.join("mod.rs").is_file() && is_module {
                format!("{layer}::{module}")
            } else {
                layer.clone()
            }
        }
    }
}

/// Every `crate::a::b` path in `text`, with one level of braces opened
/// (`crate::core::{error::Error, time}` gives `core::error` and `core::time`).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let mut path = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            path.push(tail[..end].to_owned());
            tail = &tail[end..];
            if !tail.starts_with("::") {
                break;
            }
            tail = &tail[2..];
            if tail.starts_with('{') {
                let close = tail.find('}').unwrap_or(tail.len());
                for item in tail[1..close].split(',') {
                    let first: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !first.is_empty() && first != "self" {
                        let mut inner = path.clone();
                        inner.push(first);
                        found.push(inner);
                    }
                }
                break;
            }
        }
        if !path.is_empty() {
            found.push(path);
        }
    }
    found
}

/// The unit each non-test source file of `src/` imports from, by unit.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        if module.iter().any(|p| p == "tests" || p == "fixtures") || module == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Only the code: not comments (a doc link is no import), not inline tests.
        let code: String = text
            .split("#[cfg(test)]\nmod tests {")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let from = unit(&module);
        let edges = graph.entry(from.clone()).or_default();
        for path in crate_paths(&code) {
            let to = unit(&path);
            if to != from {
                edges.insert(to);
            }
        }
    }
    graph
}

fn layer(unit: &str) -> &str {
    unit.split("::").next().unwrap()
}

#[test]
fn every_module_imports_only_the_layers_below_its_own() {
    let mut wrong = Vec::new();
    for (from, targets) in imports() {
        if from == "lib" {
            continue;
        }
        let Some((_, allowed)) = LAYERS.iter().find(|(l, _)| *l == layer(&from)) else {
            panic!("{from} is in no layer of docs/architecture.md: add it there and here");
        };
        for to in targets {
            if layer(&to) != layer(&from) && !allowed.contains(&layer(&to)) {
                wrong.push(format!("{from} imports {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}

#[test]
fn the_core_uses_no_io_logging_or_lambda_crate() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    sources(&core, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in NOT_IN_CORE {
            if text
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains(name))
            {
                wrong.push(format!("{} uses {name}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let graph = imports();
    // Depth-first search for a cycle, reporting the first one found.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("an import circle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_reader_of_crate_paths_reads_braces_and_paths() {
    let paths = crate_paths("use crate::core::{error::Error, time};\nlet x = crate::io::send::send_all;");
    assert_eq!(
        paths,
        [
            vec!["core".to_string(), "error".into()],
            vec!["core".into(), "time".into()],
            vec!["core".into()],
            vec!["io".into(), "send".into(), "send_all".into()],
        ]
    );
    assert_eq!(
        unit(&["core".into(), "selection".into(), "parse".into()]),
        "core::selection"
    );
    assert_eq!(unit(&["core".into(), "Defaults".into()]), "core");
    assert_eq!(
        unit(&["handler".into(), "sqs".into()]),
        "handler",
        "one file's layer is one unit"
    );
}

#[test]
fn no_source_file_is_too_long_to_read_whole() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for file in files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        let limit = if file.ends_with("handler.rs") { 250 } else { 500 };
        assert!(
            lines <= limit,
            "{} has {lines} lines; at most {limit}: split it by job",
            file.display()
        );
    }
}
