//! Tidy checks: the hand-kept lists and the prose agree with the code.
//!
//! In the style of rust-analyzer's `xtask/src/tidy.rs`: plain `#[test]`s that
//! read the tree as text, so `cargo test --workspace` (and so
//! `cargo xtask test`) fails the moment a chapter names a control its lab
//! does not have, a lab is mounted but not listed, or a list drifts from the
//! registry it copies.

#![cfg(test)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `<tag …attr="value"` value in `text`, for one attribute.
fn attr_values(text: &str, tag: &str, attr: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let key = format!("{attr}=\"");
    let mut out = Vec::new();
    for (i, _) in text.match_indices(&open) {
        let Some(end) = text[i..].find('>') else {
            continue;
        };
        let element = &text[i..i + end];
        if let Some(at) = element.find(&key) {
            let rest = &element[at + key.len()..];
            if let Some(q) = rest.find('"') {
                out.push(rest[..q].to_owned());
            }
        }
    }
    out
}

/// The text inside every `<kbd>…</kbd>`.
fn kbd_texts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<kbd>") {
        let after = &rest[start + 5..];
        let Some(end) = after.find("</kbd>") else {
            break;
        };
        out.push(after[..end].trim().to_owned());
        rest = &after[end..];
    }
    out
}

/// `"tcp-echo"` → `wasm-client/src/labs/tcp_echo.rs`.
fn lab_file(lab: &str) -> PathBuf {
    root()
        .join("wasm-client/src/labs")
        .join(format!("{}.rs", lab.replace('-', "_")))
}

/// The names `wasm-client`'s `labs::mount` accepts, from its match arms.
fn mounted_labs() -> BTreeSet<String> {
    let src = read(&root().join("wasm-client/src/labs/mod.rs"));
    let body = &src[src.find("pub fn mount(").expect("labs::mount exists")..];
    let body = &body[..body.find("other =>").expect("mount ends with a catch-all")];
    body.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('"')?;
            let (name, tail) = rest.split_once('"')?;
            tail.trim_start().starts_with("=>").then(|| name.to_owned())
        })
        .collect()
}

/// `protocol::demo::LABS`, as written.
fn registry_labs() -> BTreeSet<String> {
    let src = read(&root().join("protocol/src/demo.rs"));
    let start = src.find("pub const LABS").expect("LABS exists");
    let list = &src[start..];
    let list = &list[list.find('[').unwrap() + 1..];
    let list = &list[list.find('[').unwrap() + 1..list.find("];").unwrap()];
    list.split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Labs that need attributes to mean anything (a quiz file, an exercise id),
/// so they are mounted but have no `/embed/` page of their own.
const ATTRIBUTE_WIDGETS: [&str; 2] = ["quiz", "exercise"];

fn chapters() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(root().join("book/src"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_control_a_chapter_names_exists_in_its_lab() {
    let shared = [
        read(&root().join("wasm-client/src/labs/mod.rs")),
        fs::read_to_string(root().join("wasm-client/src/labs/server_view.rs")).unwrap_or_default(),
    ]
    .concat();
    let mut missing = Vec::new();
    for chapter in chapters() {
        let text = read(&chapter);
        let labs: Vec<String> = attr_values(&text, "socket-lab", "lab");
        let sources: String = labs
            .iter()
            .filter_map(|l| fs::read_to_string(lab_file(l)).ok())
            .chain([shared.clone()])
            .collect();
        for control in kbd_texts(&text) {
            if !sources.contains(&format!("\"{control}\"")) {
                missing.push(format!(
                    "{}: <kbd>{control}</kbd> is not a control of its lab(s) {labs:?}",
                    chapter.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the prose names controls that do not exist (rename the button, or the prose):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_mount_table_matches_the_lab_registry() {
    let mut expected = registry_labs();
    expected.extend(ATTRIBUTE_WIDGETS.iter().map(|s| s.to_string()));
    let mounted = mounted_labs();
    assert_eq!(
        mounted, expected,
        "wasm-client/src/labs/mod.rs `mount` and protocol::demo::LABS (+ {ATTRIBUTE_WIDGETS:?}) disagree"
    );
    for lab in &mounted {
        assert!(
            lab_file(lab).exists(),
            "lab {lab} has no file {}",
            lab_file(lab).display()
        );
    }
}

#[test]
fn every_page_mounts_only_labs_that_exist_and_the_index_shows_every_lab() {
    let mounted = mounted_labs();
    let mut pages = chapters();
    pages.push(root().join("web/index.html"));
    for page in &pages {
        for lab in attr_values(&read(page), "socket-lab", "lab") {
            assert!(
                mounted.contains(&lab),
                "{} mounts lab {lab:?}, which does not exist",
                page.display()
            );
        }
    }
    let index: BTreeSet<String> =
        attr_values(&read(&root().join("web/index.html")), "socket-lab", "lab")
            .into_iter()
            .collect();
    let registry = registry_labs();
    assert_eq!(
        index, registry,
        "web/index.html should show every lab of protocol::demo::LABS, once"
    );
}

#[test]
fn the_fuzz_targets_match_the_fuzz_crate() {
    let manifest = read(&root().join("fuzz/Cargo.toml"));
    let bins: BTreeSet<String> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .map(|s| s.trim_end_matches('"').to_owned())
        .filter(|n| n != "socket-lab-fuzz")
        .collect();
    let listed: BTreeSet<String> = crate::fuzz::TARGETS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        bins, listed,
        "fuzz/Cargo.toml bins and xtask's fuzz TARGETS"
    );
}

#[test]
fn the_checks_catch_what_they_claim_to() {
    assert_eq!(
        kbd_texts("Press <kbd>Send</kbd>, then <kbd> Close </kbd>."),
        ["Send", "Close"]
    );
    assert_eq!(
        attr_values(
            r#"<socket-lab lab="sticky"></socket-lab> <socket-lab server="x" lab="auth">"#,
            "socket-lab",
            "lab"
        ),
        ["sticky", "auth"]
    );
}

/// The module a source file of a crate is: `src/bridge/session.rs` →
/// `bridge::session`, `src/bridge/mod.rs` → `bridge`, `src/lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The modules one file refers to through `crate::…` and `super::…` paths,
/// each resolved to the longest known module (`crate::bridge::Bridge` →
/// `bridge`; `super::socket::spawn` from `bridge::session` → `bridge::socket`).
fn references(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (prefix, base) in [("crate::", ""), ("super::", parent)] {
        for (i, _) in code.match_indices(prefix) {
            // `foo_crate::` or `self.super::` are not paths of ours.
            if i > 0
                && code[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| {
                    c.is_alphanumeric()
                        || *c == '_'
                        || *c == ':'
                        || *c == '{'
                        || *c == ','
                        || *c == ' '
                })
                .collect();
            // `a::b::{c, d}` → `a::b::c`, `a::b::d`; `a::B` → `a::B`.
            let (head, group) = match path.split_once('{') {
                Some((h, g)) => (h.trim_end_matches(':').to_owned(), Some(g.to_owned())),
                None => (path.trim().trim_end_matches(':').to_owned(), None),
            };
            let mut candidates = Vec::new();
            match group {
                Some(g) => {
                    for item in g.split(',') {
                        let item = item.trim().split("::").next().unwrap_or("").trim();
                        candidates.push(if head.is_empty() {
                            item.to_owned()
                        } else {
                            format!("{head}::{item}")
                        });
                    }
                }
                None => candidates.push(head.split_whitespace().next().unwrap_or("").to_owned()),
            }
            for candidate in candidates {
                let full = if base.is_empty() {
                    candidate
                } else {
                    format!("{base}::{candidate}")
                };
                // The longest prefix that is a module.
                let parts: Vec<&str> = full.split("::").collect();
                let target = (1..=parts.len())
                    .rev()
                    .map(|n| parts[..n].join("::"))
                    .find(|m| modules.contains(m));
                if let Some(target) = target {
                    let is_ancestor = module == target
                        || module.starts_with(&format!("{target}::"))
                        || target.is_empty();
                    if !is_ancestor {
                        out.insert(target);
                    }
                }
            }
        }
    }
    out
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
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
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn module_graph(src: &Path) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    files
        .iter()
        .filter(|f| !f.ends_with("main.rs"))
        .map(|f| {
            let m = module_of(src, f);
            let refs = references(&m, &read(f), &modules);
            (m, refs)
        })
        .collect()
}

#[test]
fn native_server_modules_form_no_cycle_and_nothing_imports_server() {
    let graph = module_graph(&root().join("native-server/src"));
    assert!(graph.len() > 10, "the parser found the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "native-server has a module cycle: {} (ARCHITECTURE.md: modules form a DAG)",
            cycle.join(" → ")
        );
    }
    for (module, refs) in &graph {
        assert!(
            !refs.contains("server"),
            "{module} imports `server`; nothing does: the server uses the rest (ARCHITECTURE.md)"
        );
    }
}

#[test]
fn the_cycle_check_finds_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "b::c", "d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        references(
            "b::c",
            "use super::super::x;\nuse crate::a::{Foo, bar};\nuse super::Thing;",
            &modules
        ),
        ["a".to_owned()].into()
    );
    let graph: std::collections::BTreeMap<String, BTreeSet<String>> = [
        (
            "a".to_owned(),
            references("a", "use crate::b::c::X;", &modules),
        ),
        (
            "b::c".to_owned(),
            references("b::c", "fn f() { crate::d::g() }", &modules),
        ),
        ("d".to_owned(), references("d", "use crate::a;", &modules)),
    ]
    .into();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b::c".into(), "d".into(), "a".into()])
    );
}

#[test]
fn protocol_reads_no_clock_and_owns_no_socket() {
    let mut files = Vec::new();
    rust_files(&root().join("protocol/src"), &mut files);
    for file in files {
        let text: String = read(&file)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for banned in [
            "std::time",
            "Instant::",
            "SystemTime",
            "TcpStream",
            "UdpSocket",
            "tokio::",
            "OsRng",
        ] {
            assert!(
                !text.contains(banned),
                "{} mentions {banned}: protocol is sans-IO (ARCHITECTURE.md)",
                file.display()
            );
        }
    }
}
