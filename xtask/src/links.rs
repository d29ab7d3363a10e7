//! A link checker for the built site: every relative `href`/`src` in the
//! book's HTML must point at a file that exists, and every `#fragment` at an
//! `id` in that file. External links are not followed (no network here).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            html_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
    Ok(())
}

/// `html` without its `<pre>` blocks: a code sample that shows
/// `<script src="/x.js">` is text, not a link.
fn outside_code(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<pre") {
        out.push_str(&rest[..start]);
        rest = match rest[start..].find("</pre>") {
            Some(end) => &rest[start + end + "</pre>".len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Values of `attr="…"` in `html`.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

fn ids(html: &str) -> Vec<String> {
    attr_values(html, "id")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Checks every internal link under `book`; `site` is the root they may reach (dist/).
pub(crate) fn check(book: &Path, site: &Path) -> Result<usize> {
    let mut files = Vec::new();
    html_files(book, &mut files)?;
    let mut id_cache: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let html = outside_code(&fs::read_to_string(file)?);
        let dir = file.parent().unwrap_or(book);
        for link in attr_values(&html, "href")
            .into_iter()
            .chain(attr_values(&html, "src"))
        {
            if link.is_empty()
                || link.contains("://")
                || link.starts_with("mailto:")
                || link.starts_with("data:")
                || link.starts_with("javascript:")
                || link.starts_with('{')
            {
                continue;
            }
            checked += 1;
            let (path, fragment) = match link.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (link, None),
            };
            let path = path.split('?').next().unwrap_or_default();
            let target = if path.is_empty() {
                file.clone()
            } else if let Some(abs) = path.strip_prefix('/') {
                site.join(abs)
            } else {
                dir.join(path)
            };
            let target = if target.is_dir() {
                target.join("index.html")
            } else {
                target
            };
            if !target.exists() {
                broken.push(format!(
                    "{}: {link} (no file {})",
                    file.display(),
                    target.display()
                ));
                continue;
            }
            if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                let known = id_cache.entry(target.clone()).or_insert_with(|| {
                    fs::read_to_string(&target)
                        .map(|h| ids(&h))
                        .unwrap_or_default()
                });
                if !known.iter().any(|id| id == fragment) {
                    broken.push(format!("{}: {link} (no id {fragment:?})", file.display()));
                }
            }
        }
    }
    if !broken.is_empty() {
        bail!(
            "{} broken internal link(s) in the book:\n  {}",
            broken.len(),
            broken.join("\n  ")
        );
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_attribute_values() {
        let html = r#"<a href="a.html#x">a</a><img src="i.png"><h2 id="x">"#;
        assert_eq!(attr_values(html, "href"), ["a.html#x"]);
        assert_eq!(attr_values(html, "src"), ["i.png"]);
        assert_eq!(ids(html), ["x"]);
        let sample = r#"<a href="a.html">a</a><pre><code>&lt;script src="/x.js"&gt;</code></pre><img src="i.png">"#;
        let text = outside_code(sample);
        assert_eq!(attr_values(&text, "src"), ["i.png"]);
        assert_eq!(attr_values(&text, "href"), ["a.html"]);
    }

    #[test]
    fn reports_missing_files_and_fragments() {
        let dir = std::env::temp_dir().join(format!("xtask-links-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("a.html"),
            r#"<h1 id="top"></h1><a href="b.html#top">ok</a>"#,
        )
        .unwrap();
        fs::write(
            dir.join("b.html"),
            r#"<p id="top"></p><a href="a.html#nope">bad</a><a href="c.html">gone</a>"#,
        )
        .unwrap();
        let err = check(&dir, &dir).unwrap_err().to_string();
        assert!(err.contains("2 broken"), "{err}");
        assert!(err.contains("nope") && err.contains("c.html"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
