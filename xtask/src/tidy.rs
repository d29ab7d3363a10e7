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
