//! Functions short enough to read at once: this test reads the sources of the request path
//! (the proxy crate, `proxy/src`) and of the runner (`src`) and fails when a function other
//! than a test is longer than 80 lines, from its `fn` line to its closing brace, as rustfmt
//! lays it out. The few functions still over the limit are listed with their length; the
//! list may only shrink (a listed function that grew, or that is no longer over the limit,
//! fails too, so the list is kept exact).

use std::path::{Path, PathBuf};

/// The longest a function may be, in lines.
const LIMIT: usize = 80;

/// Functions over the limit not split yet (file, name, lines): the bench commands' `run`s,
/// left to the performance work on the benches.
const KNOWN: &[(&str, &str, usize)] = &[
    ("src/bench/loadgen.rs", "run", 125),
    ("src/bench/proxy.rs", "run", 122),
    ("src/bench/proxy_edge.rs", "run", 115),
];

/// Every `.rs` file under `dir` but test files (`tests.rs`, `*_tests.rs`), sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The name of the function a line declares (`pub(crate) async fn name<…>(`), if it does.
fn declared(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    for prefix in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end]).filter(|n| !n.is_empty())
}

/// Whether the attributes above line `i` mark a test.
fn is_test(lines: &[&str], i: usize) -> bool {
    lines[..i]
        .iter()
        .rev()
        .map(|l| l.trim())
        .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
        .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"))
}

/// The functions of `text` (name, length in lines), tests left out. A function ends at the
/// first line after its body opens that is its indent followed by `}`.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared(line) else { continue };
        if is_test(&lines, i) || line.trim_end().ends_with('}') {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        // the body opens at the first line ending in `{` (a `;` first: a declaration)
        let Some(open) = (i..lines.len()).find(|&j| {
            let t = lines[j].trim_end();
            t.ends_with('{') || t.ends_with(';')
        }) else {
            continue;
        };
        if lines[open].trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = (open..lines.len()).find(|&j| lines[j] == close) {
            out.push((name.to_string(), end - i + 1));
        }
    }
    out
}

#[test]
fn no_function_on_the_request_path_or_in_the_runner_is_over_80_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut over = Vec::new();
    for dir in ["proxy/src", "src"] {
        for file in sources(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).expect("source");
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (name, len) in functions(&text) {
                if len > LIMIT {
                    over.push((rel.clone(), name, len));
                }
            }
        }
    }
    let known: Vec<(String, String, usize)> = KNOWN
        .iter()
        .map(|(f, n, l)| (f.to_string(), n.to_string(), *l))
        .collect();
    over.sort();
    let mut want = known.clone();
    want.sort();
    assert_eq!(
        over, want,
        "functions over {LIMIT} lines (file, name, lines): split the new ones; update KNOWN \
         when a listed one was split"
    );
}

#[test]
fn the_scan_finds_functions_and_their_ends() {
    let text = "fn a() {\n    x();\n}\n\n#[test]\nfn t() {\n}\n    pub(crate) async fn b<T>(\n        v: T,\n    ) -> u8 {\n        1\n    }\n";
    assert_eq!(
        functions(text),
        vec![("a".to_string(), 3), ("b".to_string(), 5)]
    );
    assert_eq!(declared("    pub(super) const fn c() {"), Some("c"));
    assert_eq!(declared("let f = fn_name;"), None);
}
