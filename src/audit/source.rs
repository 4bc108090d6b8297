//! Reading the deployed config as nginx reads it: the main file and every `include` (globs
//! sorted, relative paths from the config's directory, nginx's conf prefix), into one tree of
//! [`Node`]s that keep their file and line. Nothing of the user's files is written.

use super::error::AuditError;
use proxylab_proxy::conf::lexer::{Item, parse_file_unexpanded};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One directive of the deployed config.
#[derive(Debug, Clone)]
pub struct Node {
    /// Directive name.
    pub name: String,
    /// Arguments (unescaped).
    pub args: Vec<String>,
    /// File it is written in.
    pub file: Arc<str>,
    /// Line of its `;` or `{`.
    pub line: u32,
    /// Children of a block.
    pub block: Option<Vec<Node>>,
}

impl Node {
    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Children (empty for a simple directive).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The first argument, or "".
    pub fn arg0(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    /// The directive as written on one line (`proxy_pass http://app;`).
    pub fn text(&self) -> String {
        let mut s = self.name.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        s
    }
}

/// Quotes an argument when nginx needs it (spaces, `;`, `{`, quotes, empty).
pub fn quote(a: &str) -> String {
    if a.is_empty() || a.contains([' ', '\t', ';', '{', '}', '"', '\'', '#']) {
        format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        a.to_string()
    }
}

/// An include that was resolved, for the mapping table.
#[derive(Debug, Clone)]
pub struct IncludeNote {
    /// Where the `include` is.
    pub at: String,
    /// The pattern as written.
    pub pattern: String,
    /// What it became.
    pub result: String,
}

/// The deployed config, read.
#[derive(Debug)]
pub struct Source {
    /// The main file (absolute).
    pub main: PathBuf,
    /// The config's directory: relative includes and certificate paths start there.
    pub conf_dir: PathBuf,
    /// nginx's `-p` prefix: relative log and root paths start there.
    pub prefix: PathBuf,
    /// The tree, includes expanded in place.
    pub nodes: Vec<Node>,
    /// Every include and what it matched.
    pub includes: Vec<IncludeNote>,
}

/// nginx 1.22's `mime.types`, used when the config includes a `mime.types` that is not on
/// this machine (only the types a probe can meet; the file is the same everywhere).
const MIME_TYPES: &str = "types { text/html html htm shtml; text/css css; text/plain txt; \
    application/javascript js; application/json json; image/gif gif; image/jpeg jpeg jpg; \
    image/png png; image/svg+xml svg svgz; image/x-icon ico; font/woff woff; font/woff2 woff2; \
    application/octet-stream bin exe dll; application/pdf pdf; application/zip zip; }";

/// Reads `main` (with nginx's `-p` `prefix`, default its directory) and every include.
pub fn read(main: &Path, prefix: Option<&Path>) -> Result<Source, AuditError> {
    // Paths stay as given (relative ones relative to here), so messages name files as the
    // user wrote them, like `nginx -t`.
    let main = main.to_path_buf();
    let conf_dir = match main.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = prefix
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
        .unwrap_or_else(|| conf_dir.clone());
    let mut r = Reader {
        conf_dir: conf_dir.clone(),
        includes: Vec::new(),
    };
    let items = parse_file_unexpanded(&main)?;
    let nodes = r.nodes(items, 0)?;
    Ok(Source {
        main,
        conf_dir,
        prefix,
        nodes,
        includes: r.includes,
    })
}

struct Reader {
    conf_dir: PathBuf,
    includes: Vec<IncludeNote>,
}

impl Reader {
    fn nodes(&mut self, items: Vec<Item>, depth: u32) -> Result<Vec<Node>, AuditError> {
        let mut out = Vec::new();
        for it in items {
            let d = match it {
                Item::Dir(d) => d,
                Item::Error(e) => return Err(e.into()),
            };
            if d.name == "include" && d.block.is_none() {
                if d.args.len() != 1 {
                    return Err(AuditError::at(
                        "invalid number of arguments in \"include\" directive",
                        &d.file,
                        d.line,
                    ));
                }
                out.extend(self.include(&d.args[0], &d.file, d.line, depth)?);
                continue;
            }
            let block = match d.block {
                Some(b) => Some(self.nodes(b, depth)?),
                None => None,
            };
            out.push(Node {
                name: d.name,
                args: d.args,
                file: d.file,
                line: d.line,
                block,
            });
        }
        Ok(out)
    }

    fn include(
        &mut self,
        pattern: &str,
        file: &Arc<str>,
        line: u32,
        depth: u32,
    ) -> Result<Vec<Node>, AuditError> {
        if depth > 32 {
            return Err(AuditError::at("include nesting too deep", file, line));
        }
        let full = self.conf_dir.join(pattern);
        let at = format!("{file}:{line}");
        let files = if pattern.contains(['*', '?', '[']) {
            let v: Vec<PathBuf> = glob::glob(&full.display().to_string())
                .map_err(|e| {
                    AuditError::at(
                        format!("glob() \"{}\" failed: {e}", full.display()),
                        file,
                        line,
                    )
                })?
                .filter_map(Result::ok)
                .collect();
            if v.is_empty() {
                return Err(AuditError::at(
                    format!(
                        "include \"{pattern}\" matches no file ({}): nginx would start without \
                         whatever those files hold; put them where the pattern points or pass -p",
                        full.display()
                    ),
                    file,
                    line,
                ));
            }
            v
        } else if !full.exists() && full.file_name().is_some_and(|n| n == "mime.types") {
            self.includes.push(IncludeNote {
                at,
                pattern: pattern.into(),
                result: "not next to the config: nginx's standard mime.types used".into(),
            });
            return self.builtin_mime(file, line);
        } else {
            vec![full]
        };
        let mut out = Vec::new();
        let mut names = Vec::new();
        for f in &files {
            let items = parse_file_unexpanded(f).map_err(|e| {
                // Where the include is, as nginx reports it.
                AuditError::at(e.msg, file, line)
            })?;
            out.extend(self.nodes(items, depth + 1)?);
            names.push(f.display().to_string());
        }
        self.includes.push(IncludeNote {
            at,
            pattern: pattern.into(),
            result: format!("inlined: {}", names.join(", ")),
        });
        Ok(out)
    }

    fn builtin_mime(&mut self, file: &Arc<str>, line: u32) -> Result<Vec<Node>, AuditError> {
        let system = Path::new("/etc/nginx/mime.types");
        let dir = tempfile::tempdir().map_err(|e| AuditError::Component(e.to_string()))?;
        let p = if system.exists() {
            system.to_path_buf()
        } else {
            let p = dir.path().join("mime.types");
            std::fs::write(&p, MIME_TYPES).map_err(|e| AuditError::Component(e.to_string()))?;
            p
        };
        let items = parse_file_unexpanded(&p).map_err(|e| AuditError::at(e.msg, file, line))?;
        let mut nodes = self.nodes(items, 1)?;
        // The types belong to the include's line: that is where the user wrote them.
        for n in &mut nodes {
            relocate(n, file, line);
        }
        Ok(nodes)
    }
}

fn relocate(n: &mut Node, file: &Arc<str>, line: u32) {
    n.file = file.clone();
    n.line = line;
    for c in n.block.iter_mut().flatten() {
        relocate(c, file, line);
    }
}

/// Every node in the tree with its chain of enclosing blocks (outermost first).
pub fn walk<'a>(nodes: &'a [Node], f: &mut impl FnMut(&[&'a Node], &'a Node)) {
    fn go<'a>(
        nodes: &'a [Node],
        stack: &mut Vec<&'a Node>,
        f: &mut impl FnMut(&[&'a Node], &'a Node),
    ) {
        for n in nodes {
            f(stack, n);
            if let Some(b) = &n.block {
                stack.push(n);
                go(b, stack, f);
                stack.pop();
            }
        }
    }
    go(nodes, &mut Vec::new(), f);
}
