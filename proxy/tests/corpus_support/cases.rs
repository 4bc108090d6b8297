//! The malformed-request corpus on disk: `proxy/tests/corpus/malformed/*.toml`, each a list of
//! `[[case]]` tables with a `name`, the `raw` bytes to send (a TOML literal string with this
//! module's escapes) and, for a difference from nginx that is understood and accepted, a
//! `known` reason. `to = "alt"` sends the case to the lane's second address (127.0.0.2, same
//! port), whose default server differs from the first's.
//!
//! Escapes in `raw`: `\r`, `\n`, `\t`, `\0`, `\\`, `\xHH` (any byte) and `\R{N,c}` (the
//! character `c` repeated `N` times, for oversized lines).

use serde::Deserialize;
use std::path::Path;

/// One case as written in a file.
#[derive(Debug, Deserialize)]
struct RawCase {
    name: String,
    raw: String,
    #[serde(default)]
    known: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
struct File {
    case: Vec<RawCase>,
}

/// One case ready to send.
#[derive(Debug, Clone)]
pub struct Case {
    /// `file/name`.
    pub name: String,
    /// The bytes sent on one connection.
    pub bytes: Vec<u8>,
    /// Why ours may differ from nginx here (a listed, documented difference).
    pub known: Option<String>,
    /// Sent to the lane's second address (`to = "alt"`).
    pub alt: bool,
}

/// Loads every `*.toml` of `dir`, sorted by file name; panics naming the file and case on a
/// malformed entry (the corpus is test data: a mistake in it must stop the test).
pub fn load(dir: &Path) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(&path).expect("read corpus file");
        let file: File =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for c in file.case {
            let bytes = unescape(&c.raw)
                .unwrap_or_else(|e| panic!("{}: case {}: {e}", path.display(), c.name));
            let alt = match c.to.as_deref() {
                None => false,
                Some("alt") => true,
                Some(o) => panic!(
                    "{}: case {}: to = {o:?} (only \"alt\")",
                    path.display(),
                    c.name
                ),
            };
            out.push(Case {
                name: format!("{stem}/{}", c.name),
                bytes,
                known: c.known,
                alt,
            });
        }
    }
    let mut names: Vec<_> = out.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("corpus: case name {} used twice", w[0]);
    }
    out
}

/// Applies the escapes described in the module doc.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            return Err("trailing backslash".into());
        };
        i += 2;
        match e {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = s.get(i..i + 2).ok_or("short \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("\\x{hex}: {e}"))?);
                i += 2;
            }
            b'R' => {
                let end = s[i..].find('}').ok_or("unclosed \\R{")? + i;
                let inner = s.get(i + 1..end).ok_or("bad \\R")?;
                let (n, c) = inner.split_once(',').ok_or("\\R{N,c} needs a comma")?;
                let n: usize = n.parse().map_err(|e| format!("\\R count: {e}"))?;
                out.extend(std::iter::repeat_n(
                    c.as_bytes().first().copied().unwrap_or(b'a'),
                    n,
                ));
                i = end + 1;
            }
            other => return Err(format!("unknown escape \\{}", other as char)),
        }
    }
    Ok(out)
}
