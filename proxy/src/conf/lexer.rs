//! nginx.conf tokenizer and tree builder, following `ngx_conf_read_token`: words, `"`/`'`
//! quotes, backslash escapes, `#` comments, `${var}` braces, `;` `{` `}`; `include` with globs
//! is expanded in place. A syntax error becomes an [`Item::Error`] at its position, so that
//! errors are reported in nginx's order (the first problem in file order wins).

use super::error::ConfError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One directive with its arguments (already unescaped) and, for blocks, its children.
#[derive(Debug, Clone)]
pub struct Directive {
    /// Directive name (the first word).
    pub name: String,
    /// Arguments after the name.
    pub args: Vec<String>,
    /// Whether each argument was written in quotes (same length as `args`).
    pub quoted: Vec<bool>,
    /// File the directive is in.
    pub file: Arc<str>,
    /// Line of the terminating `;` or `{` (the line nginx reports).
    pub line: u32,
    /// Children when the directive opened a `{ }` block.
    pub block: Option<Vec<Item>>,
    /// Line of the closing `}` of a block (same as `line` otherwise).
    pub end_line: u32,
}

#[cfg(test)]
impl Directive {
    /// A one-line directive without a block at `file:line`, as unit tests build them.
    pub(crate) fn at(file: &str, line: u32, name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            quoted: vec![false; args.len()],
            file: Arc::from(file),
            line,
            block: None,
            end_line: line,
        }
    }
}

/// An element of a parsed block: a directive, or the syntax error that ended parsing there.
#[derive(Debug, Clone)]
pub enum Item {
    /// A directive.
    Dir(Directive),
    /// A syntax or include error; nothing after it was parsed.
    Error(ConfError),
}

enum Tok {
    /// Words ended by `;`.
    Stmt(Vec<(String, bool)>),
    /// Words ended by `{`.
    BlockStart(Vec<(String, bool)>),
    BlockDone,
    Eof,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    file: Arc<str>,
    /// Expand `include` in place (false: keep it as a directive, for tools reading the tree).
    expand: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                b'"' | b'\'' | b'\\' => i += 1,
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where the scanner is inside the statement being read (the flags of nginx's
/// `ngx_conf_read_token`).
struct Scan {
    /// The words read so far, each with whether it was quoted.
    words: Vec<(String, bool)>,
    /// Inside a `#` comment (until the end of the line).
    comment: bool,
    /// The previous byte was a backslash: this one belongs to the word as is.
    escaped: bool,
    /// Inside `'…'`.
    single_quoted: bool,
    /// Inside `"…"`.
    double_quoted: bool,
    /// Between words.
    between: bool,
    /// Just after a closing quote: a space, `;`, `{` or `)` must follow.
    need_space: bool,
    /// Just after `$`: a `{` belongs to the word (`${var}`).
    variable: bool,
    /// Where the current word starts.
    start: usize,
}

/// What one byte did to the statement being read.
enum Step {
    /// Read on.
    More,
    /// A statement, a block's opening or its end is complete.
    Done(Tok),
    /// Not decided yet: the byte goes on to the next rule.
    Pass,
}

impl Lexer<'_> {
    fn err(&self, msg: String) -> ConfError {
        ConfError::at(msg, &self.file, self.line)
    }

    fn unexpected(&self, ch: u8) -> ConfError {
        self.err(format!("unexpected \"{}\"", ch as char))
    }

    /// The next statement, block opening or block end.
    fn next(&mut self) -> Result<Tok, ConfError> {
        let mut s = Scan {
            words: Vec::new(),
            comment: false,
            escaped: false,
            single_quoted: false,
            double_quoted: false,
            between: true,
            need_space: false,
            variable: false,
            start: self.pos,
        };
        loop {
            let Some(&ch) = self.src.get(self.pos) else {
                if !s.words.is_empty() || !s.between {
                    return Err(self.err("unexpected end of file, expecting \";\" or \"}\"".into()));
                }
                return Ok(Tok::Eof);
            };
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                s.comment = false;
            }
            if s.comment {
                continue;
            }
            if s.escaped {
                s.escaped = false;
                continue;
            }
            let mut step = if s.need_space {
                self.after_quote(&mut s, ch)?
            } else {
                Step::Pass
            };
            if matches!(step, Step::Pass) && s.between {
                step = self.word_start(&mut s, ch)?;
            }
            match step {
                Step::More => {}
                Step::Done(tok) => return Ok(tok),
                Step::Pass => {
                    if let Some(tok) = in_word(self.src, self.pos, &mut s, ch) {
                        return Ok(tok);
                    }
                }
            }
        }
    }

    /// The byte after a closing quote: a space, or the statement's end, or `)`.
    fn after_quote(&self, s: &mut Scan, ch: u8) -> Result<Step, ConfError> {
        if is_space(ch) {
            s.between = true;
            s.need_space = false;
            return Ok(Step::More);
        }
        match ch {
            b';' => Ok(Step::Done(Tok::Stmt(std::mem::take(&mut s.words)))),
            b'{' => Ok(Step::Done(Tok::BlockStart(std::mem::take(&mut s.words)))),
            b')' => {
                s.between = true;
                s.need_space = false;
                Ok(Step::Pass)
            }
            _ => Err(self.unexpected(ch)),
        }
    }

    /// A byte between words: spaces, the statement's end, a block's end, a comment, or the
    /// start of a word (quoted, escaped, a variable or plain).
    fn word_start(&self, s: &mut Scan, ch: u8) -> Result<Step, ConfError> {
        s.start = self.pos - 1;
        if is_space(ch) {
            return Ok(Step::More);
        }
        match ch {
            b';' | b'{' => {
                if s.words.is_empty() {
                    return Err(self.unexpected(ch));
                }
                let words = std::mem::take(&mut s.words);
                return Ok(Step::Done(if ch == b'{' {
                    Tok::BlockStart(words)
                } else {
                    Tok::Stmt(words)
                }));
            }
            b'}' => {
                if !s.words.is_empty() {
                    return Err(self.err("unexpected \"}\"".into()));
                }
                return Ok(Step::Done(Tok::BlockDone));
            }
            b'#' => {
                s.comment = true;
                return Ok(Step::More);
            }
            b'\\' => s.escaped = true,
            b'"' => {
                s.start += 1;
                s.double_quoted = true;
            }
            b'\'' => {
                s.start += 1;
                s.single_quoted = true;
            }
            b'$' => s.variable = true,
            _ => {}
        }
        s.between = false;
        Ok(Step::More)
    }
}

/// A byte inside a word (`pos` is just after it): the word ends at its closing quote, or
/// unquoted at a space, `;` or `{`; the statement ends with it at `;` or `{`.
fn in_word(src: &[u8], pos: usize, s: &mut Scan, ch: u8) -> Option<Tok> {
    if ch == b'{' && s.variable {
        return None;
    }
    s.variable = false;
    if ch == b'\\' {
        s.escaped = true;
        return None;
    }
    if ch == b'$' {
        s.variable = true;
        return None;
    }
    let was_quoted = s.double_quoted || s.single_quoted;
    let found = if s.double_quoted || s.single_quoted {
        let closing = if s.double_quoted { b'"' } else { b'\'' };
        let found = ch == closing;
        if found {
            s.double_quoted = false;
            s.single_quoted = false;
            s.need_space = true;
        }
        found
    } else {
        let found = is_space(ch) || ch == b';' || ch == b'{';
        s.between |= found;
        found
    };
    if !found {
        return None;
    }
    s.words.push((unescape(&src[s.start..pos - 1]), was_quoted));
    match ch {
        b';' => Some(Tok::Stmt(std::mem::take(&mut s.words))),
        b'{' => Some(Tok::BlockStart(std::mem::take(&mut s.words))),
        _ => None,
    }
}

/// Reads and parses a whole file (the main config). Reading errors are returned as errors;
/// syntax errors inside become [`Item::Error`] entries.
pub fn parse_file(path: &Path, conf_prefix: &Path) -> Result<Vec<Item>, ConfError> {
    let text = std::fs::read(path).map_err(|e| open_error(path, &e))?;
    let file: Arc<str> = path.display().to_string().into();
    let mut lx = Lexer {
        src: &text,
        pos: 0,
        line: 1,
        file,
        expand: true,
    };
    let mut items = Vec::new();
    parse_items(&mut lx, &mut items, false, conf_prefix, 0);
    Ok(items)
}

/// Reads and parses one file without expanding `include`: each stays an `include` directive
/// with its file and line, for tools that resolve includes themselves (`proxylab audit`).
pub fn parse_file_unexpanded(path: &Path) -> Result<Vec<Item>, ConfError> {
    let text = std::fs::read(path).map_err(|e| open_error(path, &e))?;
    let mut lx = Lexer {
        src: &text,
        pos: 0,
        line: 1,
        file: path.display().to_string().into(),
        expand: false,
    };
    let mut items = Vec::new();
    parse_items(&mut lx, &mut items, false, Path::new("/"), 0);
    Ok(items)
}

fn open_error(path: &Path, e: &std::io::Error) -> ConfError {
    let errno = e.raw_os_error().unwrap_or(0);
    let text = match errno {
        2 => "No such file or directory".to_string(),
        13 => "Permission denied".to_string(),
        21 => "Is a directory".to_string(),
        _ => e.to_string(),
    };
    ConfError::global(format!(
        "open() \"{}\" failed ({errno}: {text})",
        path.display()
    ))
}

/// Parses items into `out` until the end of the block (`in_block`) or of the file. Returns
/// false when an error item was pushed (parsing stops everywhere).
fn parse_items(
    lx: &mut Lexer<'_>,
    out: &mut Vec<Item>,
    in_block: bool,
    prefix: &Path,
    depth: u32,
) -> bool {
    loop {
        let tok = match lx.next() {
            Ok(t) => t,
            Err(e) => {
                out.push(Item::Error(e));
                return false;
            }
        };
        let (words, is_block) = match tok {
            Tok::Eof => {
                if in_block {
                    out.push(Item::Error(
                        lx.err("unexpected end of file, expecting \"}\"".into()),
                    ));
                    return false;
                }
                return true;
            }
            Tok::BlockDone => {
                if !in_block {
                    out.push(Item::Error(lx.err("unexpected \"}\"".into())));
                    return false;
                }
                return true;
            }
            Tok::Stmt(w) => (w, false),
            Tok::BlockStart(w) => (w, true),
        };
        let line = lx.line;
        let mut it = words.into_iter();
        let Some((name, _)) = it.next() else {
            continue;
        };
        let (args, quoted): (Vec<String>, Vec<bool>) = it.unzip();
        if lx.expand && name == "include" && !is_block && args.len() == 1 {
            if !expand_include(&args[0], prefix, lx, line, out, depth) {
                return false;
            }
            continue;
        }
        let mut d = Directive {
            name,
            args,
            quoted,
            file: lx.file.clone(),
            line,
            block: None,
            end_line: line,
        };
        if is_block {
            let mut children = Vec::new();
            let ok = parse_items(lx, &mut children, true, prefix, depth);
            d.block = Some(children);
            d.end_line = lx.line;
            out.push(Item::Dir(d));
            if !ok {
                return false;
            }
        } else {
            out.push(Item::Dir(d));
        }
    }
}

fn expand_include(
    pattern: &str,
    prefix: &Path,
    lx: &Lexer<'_>,
    line: u32,
    out: &mut Vec<Item>,
    depth: u32,
) -> bool {
    let full: PathBuf = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        prefix.join(pattern)
    };
    if depth > 32 {
        out.push(Item::Error(ConfError::at(
            "include nesting too deep",
            &lx.file,
            line,
        )));
        return false;
    }
    let files: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
        match glob::glob(&full.display().to_string()) {
            Ok(paths) => {
                let mut v: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                v.sort();
                v
            }
            Err(_) => {
                out.push(Item::Error(ConfError::at(
                    format!("glob() \"{}\" failed", full.display()),
                    &lx.file,
                    line,
                )));
                return false;
            }
        }
    } else {
        vec![full]
    };
    for path in files {
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) => {
                let mut err = open_error(&path, &e);
                err.at = Some((lx.file.clone(), line));
                out.push(Item::Error(err));
                return false;
            }
        };
        let mut sub = Lexer {
            src: &text,
            pos: 0,
            line: 1,
            file: path.display().to_string().into(),
            expand: true,
        };
        if !parse_items(&mut sub, out, false, prefix, depth + 1) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Item> {
        let mut lx = Lexer {
            src: text.as_bytes(),
            pos: 0,
            line: 1,
            file: "t.conf".into(),
            expand: true,
        };
        let mut v = Vec::new();
        parse_items(&mut lx, &mut v, false, Path::new("/nonexistent"), 0);
        v
    }

    fn first_error(items: &[Item]) -> Option<String> {
        for it in items {
            match it {
                Item::Error(e) => return Some(e.to_string()),
                Item::Dir(d) => {
                    if let Some(b) = &d.block
                        && let Some(e) = first_error(b)
                    {
                        return Some(e);
                    }
                }
            }
        }
        None
    }

    #[test]
    fn words_quotes_escapes_comments() {
        let v = parse("a 'x y' \"q\\\"z\" w\\;x # c\n b ${host}x;\n");
        let Item::Dir(d) = &v[0] else { panic!() };
        assert_eq!(d.name, "a");
        assert_eq!(d.args, vec!["x y", "q\"z", "w\\;x", "b", "${host}x"]);
        assert_eq!(d.line, 2);
    }

    #[test]
    fn syntax_errors_worded_like_nginx() {
        assert_eq!(
            first_error(&parse("a {")).unwrap(),
            "unexpected end of file, expecting \"}\" in t.conf:1"
        );
        assert_eq!(
            first_error(&parse("a b")).unwrap(),
            "unexpected end of file, expecting \";\" or \"}\" in t.conf:1"
        );
        assert_eq!(
            first_error(&parse("a;\n}")).unwrap(),
            "unexpected \"}\" in t.conf:2"
        );
        assert_eq!(
            first_error(&parse("a \"b\"c;")).unwrap(),
            "unexpected \"c\" in t.conf:1"
        );
        assert_eq!(
            first_error(&parse(";")).unwrap(),
            "unexpected \";\" in t.conf:1"
        );
        assert_eq!(
            first_error(&parse("x { a }")).unwrap(),
            "unexpected \"}\" in t.conf:1"
        );
    }
}
