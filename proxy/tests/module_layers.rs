//! The proxy's layers point down: this test reads the crate's source files, builds the graph of
//! imports between its top-level modules (`crate::x::…`, and `super::…` resolved to the module
//! it names), and fails when two top-level modules depend on each other through any chain.
//! Comments and string literals are skipped, so a doc link or a message naming a module is not
//! an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One import: the importing file and line, and the module path it names (at most two
/// segments: `crate::request::client::Client` → `request::client`).
#[derive(Debug, Clone)]
struct Import {
    file: String,
    line: usize,
    target: Vec<String>,
}

/// A graph of modules: for each module, the modules it imports and the imports that do.
type Graph = BTreeMap<String, BTreeMap<String, Vec<Import>>>;

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a source file relative to `src/` (`server/h2/io.rs` → `server::h2::io`,
/// `server/mod.rs` → `server`, `lib.rs` → the crate root, empty).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source with comments and the contents of string and char literals blanked out (line
/// breaks kept, so line numbers stay right).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'#' | b'"')) && !ident_before(b, i) {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            while b.get(j) == Some(&b'#') {
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            out.extend(std::iter::repeat_n(b' ', j + 1 - i));
            i = j + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                blank(&mut out, b[i]);
                i += 1;
            }
            out.extend(std::iter::repeat_n(b' ', close.len().min(b.len() - i)));
            i += close.len();
        } else if c == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            out.push(b' ');
            i += 1;
        } else if c == b'\'' {
            // a char literal ('x', '\n', '\''), not a lifetime ('a)
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 2 + p)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(b' ', e + 1 - i));
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segments of the paths inside a `{…}` group starting at `s` (just after `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if c.is_whitespace() => {}
            _ if at_item_start && depth == 0 => {
                heads.push(ident_at(&s[i..]).to_string());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The module paths (up to two segments) that `tail` names below `path`.
fn resolve(mut path: Vec<String>, mut tail: &str) -> Vec<Vec<String>> {
    while path.len() < 2 {
        if let Some(group) = tail.strip_prefix('{') {
            return group_heads(group)
                .into_iter()
                .filter(|h| !h.is_empty())
                .map(|h| {
                    let mut p = path.clone();
                    p.push(h);
                    p
                })
                .collect();
        }
        let id = ident_at(tail);
        if id.is_empty() {
            break;
        }
        path.push(id.to_string());
        match tail[id.len()..].strip_prefix("::") {
            Some(t) => tail = t,
            None => break,
        }
    }
    path.truncate(2);
    if path.is_empty() {
        Vec::new()
    } else {
        vec![path]
    }
}

/// The module paths named in one file (`module` is the file's module path).
fn imports_of(code: &str, module: &[String], file: &str) -> Vec<Import> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let bytes = line.as_bytes();
        for (at, _) in line
            .match_indices("crate::")
            .chain(line.match_indices("super::"))
        {
            let boundary = at == 0
                || !matches!(bytes[at - 1], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b':');
            if !boundary {
                continue;
            }
            let mut path: Vec<String> = module.to_vec();
            let mut tail = &line[at..];
            if let Some(t) = tail.strip_prefix("crate::") {
                path.clear();
                tail = t;
            }
            while let Some(t) = tail.strip_prefix("super::") {
                path.pop();
                tail = t;
            }
            out.extend(resolve(path, tail).into_iter().map(|target| Import {
                file: file.to_string(),
                line: n + 1,
                target,
            }));
        }
    }
    out.sort_by_key(|i| (i.line, i.target.clone()));
    out
}

/// The graph of imports between the nodes `node_of` gives module paths (files and import
/// targets it maps to None are left out, and so are imports within one node).
fn module_graph(src: &Path, node_of: impl Fn(&[String]) -> Option<String>) -> Graph {
    let mut graph = Graph::new();
    for f in rust_files(src) {
        let rel = f.strip_prefix(src).expect("under src");
        let module = module_path(rel);
        let Some(from) = node_of(&module) else {
            continue;
        };
        let text =
            std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        let shown = rel.display().to_string();
        for imp in imports_of(&code_only(&text), &module, &shown) {
            if let Some(to) = node_of(&imp.target)
                && to != from
            {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .push(imp);
            }
        }
        graph.entry(from).or_default();
    }
    graph
}

/// The module paths of the crate's files, cut to `depth` segments (lib.rs and main.rs, the
/// crate root, are left out).
fn modules(src: &Path, depth: usize) -> BTreeSet<Vec<String>> {
    rust_files(src)
        .iter()
        .map(|f| {
            let mut m = module_path(f.strip_prefix(src).expect("under src"));
            m.truncate(depth);
            m
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// Strongly connected components with more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flat_map(|e| e.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.found.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn describe(graph: &Graph, comp: &[String]) -> String {
    let mut text = format!("cycle among {{{}}}:\n", comp.join(", "));
    for (i, a) in comp.iter().enumerate() {
        for b in &comp[i + 1..] {
            if graph[a].contains_key(b) && graph[b].contains_key(a) {
                text.push_str(&format!("  {a} <-> {b}\n"));
            }
        }
    }
    for from in comp {
        for (to, imports) in &graph[from] {
            if comp.contains(to) {
                let first = &imports[0];
                text.push_str(&format!(
                    "  {from} -> {to} ({} imports, first at {}:{})\n",
                    imports.len(),
                    first.file,
                    first.line
                ));
            }
        }
    }
    text
}

fn assert_no_cycle(graph: &Graph, what: &str) {
    let found = cycles(graph);
    let report: Vec<String> = found.iter().map(|c| describe(graph, c)).collect();
    assert!(
        found.is_empty(),
        "{what}: module cycles:\n{}",
        report.join("")
    );
}

fn src_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_each_other_in_no_cycle() {
    let src = src_dir();
    let tops: BTreeSet<String> = modules(&src, 1).into_iter().map(|m| m[0].clone()).collect();
    let graph = module_graph(&src, |p| p.first().filter(|t| tops.contains(*t)).cloned());
    assert!(
        graph.len() > 5,
        "found only {:?} under {}",
        graph.keys(),
        src.display()
    );
    assert_no_cycle(&graph, "top-level modules");
}

/// The request path's modules, whose files import each other in no cycle either (phases,
/// replies, limit_req, static files and status pages used to, through `Next`).
const REQUEST_PATH: [&str; 5] = ["server", "phases", "upstream", "request", "live"];

#[test]
fn the_request_path_s_files_import_each_other_in_no_cycle() {
    let src = src_dir();
    let subs = modules(&src, 2);
    for top in REQUEST_PATH {
        let graph = module_graph(&src, |p| {
            if p.first().map(String::as_str) != Some(top) {
                return None;
            }
            Some(match p.get(1) {
                Some(sub) if subs.contains(&p[..2]) => format!("{top}::{sub}"),
                _ => top.to_string(),
            })
        });
        assert!(graph.len() > 2, "{top}: found only {:?}", graph.keys());
        assert_no_cycle(&graph, top);
    }
}

#[test]
fn the_import_reader_sees_paths_groups_and_super_and_skips_comments() {
    let code = code_only(
        "use crate::{conf::x, http};\n// crate::server in a comment\nlet s = \"crate::logs\";\n\
         fn f() { super::super::tls::go(); crate::vars::v(); 'c'; }\nuse super::{a, b::c};\n",
    );
    let module = vec!["upstream".to_string(), "pool".to_string()];
    let found: Vec<String> = imports_of(&code, &module, "f.rs")
        .into_iter()
        .map(|i| format!("{}@{}", i.target.join("::"), i.line))
        .collect();
    assert_eq!(
        found,
        [
            "conf@1",
            "http@1",
            "tls::go@4",
            "vars::v@4",
            "upstream::a@5",
            "upstream::b@5"
        ]
    );
    let edges = BTreeMap::from([
        (
            "a".to_string(),
            BTreeMap::from([("b".to_string(), Vec::new())]),
        ),
        (
            "b".to_string(),
            BTreeMap::from([("a".to_string(), Vec::new())]),
        ),
        (
            "c".to_string(),
            BTreeMap::from([("a".to_string(), Vec::new())]),
        ),
    ]);
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string()]]);
}

/// The library can be embedded ([`proxylab_proxy::server::Server`]): only the binary's
/// `main.rs` and `cli.rs` may end the process.
#[test]
fn only_main_and_cli_call_process_exit() {
    let src = src_dir();
    let mut found = Vec::new();
    for f in rust_files(&src) {
        let rel = f.strip_prefix(&src).expect("under src");
        if rel == Path::new("main.rs") || rel == Path::new("cli.rs") {
            continue;
        }
        let text =
            std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        for (n, line) in code_only(&text).lines().enumerate() {
            if line.contains("process::exit") || line.contains("libc::exit") {
                found.push(format!("{}:{}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        rust_files(&src).len() > 50,
        "sources not found under {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "process exits outside main.rs/cli.rs: {found:?}"
    );
}
