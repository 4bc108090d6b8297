//! `match NAME { status …; header …; body …; }` blocks (nginx Plus): every condition must hold
//! for a probe response to count as healthy.

use crate::conf::ConfError;
use crate::conf::lexer::{Directive, Item};

/// A status condition: the listed codes / ranges, or (`!`) none of them.
#[derive(Debug, Clone)]
struct StatusCond {
    negate: bool,
    ranges: Vec<(u16, u16)>,
}

/// A header condition.
#[derive(Debug, Clone)]
enum HeaderCond {
    Present(String, bool),
    Equals(String, String, bool),
    Regex(String, regex::bytes::Regex, bool),
}

/// A parsed `match {}` block.
#[derive(Debug, Clone)]
pub struct MatchBlock {
    /// The block's name (`match NAME`).
    pub name: String,
    status: Vec<StatusCond>,
    headers: Vec<HeaderCond>,
    body: Vec<(regex::bytes::Regex, bool)>,
}

impl MatchBlock {
    /// Whether a response with this status, headers and body (first bytes) matches.
    pub fn matches(&self, status: u16, headers: &[(String, Vec<u8>)], body: &[u8]) -> bool {
        let find = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_slice())
        };
        self.status.iter().all(|c| {
            let hit = c.ranges.iter().any(|(a, b)| (*a..=*b).contains(&status));
            hit != c.negate
        }) && self.headers.iter().all(|h| match h {
            HeaderCond::Present(n, neg) => find(n).is_some() != *neg,
            HeaderCond::Equals(n, v, neg) => (find(n) == Some(v.as_bytes())) != *neg,
            HeaderCond::Regex(n, re, neg) => find(n).is_some_and(|v| re.is_match(v)) != *neg,
        }) && self.body.iter().all(|(re, neg)| re.is_match(body) != *neg)
    }
}

/// Default health rule without `match=`: a 2xx or 3xx status.
pub fn default_ok(status: u16) -> bool {
    (200..400).contains(&status)
}

fn regex(d: &Directive, s: &str) -> Result<regex::bytes::Regex, ConfError> {
    regex::bytes::Regex::new(s)
        .map_err(|e| ConfError::at(format!("pcre2_compile() failed: {e}"), &d.file, d.line))
}

fn status_range(s: &str) -> Option<(u16, u16)> {
    let code = |x: &str| x.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
    match s.split_once('-') {
        Some((a, b)) => Some((code(a)?, code(b)?)).filter(|(a, b)| a <= b),
        None => code(s).map(|c| (c, c)),
    }
}

/// Parses a `match NAME { … }` block (the directive with its children).
pub fn parse_match(d: &Directive) -> Result<MatchBlock, ConfError> {
    let mut m = MatchBlock {
        name: d.args.first().cloned().unwrap_or_default(),
        status: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    for it in d.block.as_deref().unwrap_or_default() {
        let c = match it {
            Item::Dir(c) => c,
            Item::Error(e) => return Err(e.clone()),
        };
        let bad = || ConfError::at(format!("invalid parameter \"{}\"", c.name), &c.file, c.line);
        let a: Vec<&str> = c.args.iter().map(String::as_str).collect();
        match c.name.as_str() {
            "status" => {
                let (negate, list) = match a.split_first() {
                    Some((&"!", rest)) => (true, rest),
                    _ => (false, &a[..]),
                };
                let ranges = list
                    .iter()
                    .map(|s| {
                        status_range(s).ok_or_else(|| {
                            ConfError::at(format!("invalid status \"{s}\""), &c.file, c.line)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if ranges.is_empty() {
                    return Err(bad());
                }
                m.status.push(StatusCond { negate, ranges });
            }
            "header" => m.headers.push(match a[..] {
                [n] => HeaderCond::Present(n.into(), false),
                ["!", n] => HeaderCond::Present(n.into(), true),
                [n, "=", v] => HeaderCond::Equals(n.into(), v.into(), false),
                [n, "!=", v] => HeaderCond::Equals(n.into(), v.into(), true),
                [n, "~", r] => HeaderCond::Regex(n.into(), regex(c, r)?, false),
                [n, "!~", r] => HeaderCond::Regex(n.into(), regex(c, r)?, true),
                _ => return Err(bad()),
            }),
            "body" => m.body.push(match a[..] {
                ["~", r] => (regex(c, r)?, false),
                ["!~", r] => (regex(c, r)?, true),
                _ => return Err(bad()),
            }),
            _ => {
                return Err(ConfError::at(
                    format!("unknown directive \"{}\"", c.name),
                    &c.file,
                    c.line,
                ));
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, args: &[&str]) -> Directive {
        Directive::at("t.conf", 1, name, args)
    }

    fn block(children: Vec<Directive>) -> Directive {
        let mut d = dir("match", &["ok"]);
        d.block = Some(children.into_iter().map(Item::Dir).collect());
        d
    }

    #[test]
    fn status_header_body() {
        let m = parse_match(&block(vec![
            dir("status", &["200-299", "304"]),
            dir("header", &["Content-Type", "~", "text/"]),
            dir("body", &["~", "ok"]),
        ]))
        .unwrap();
        let h = vec![("content-type".to_string(), b"text/plain".to_vec())];
        assert!(m.matches(200, &h, b"all ok"));
        assert!(m.matches(304, &h, b"ok"));
        assert!(!m.matches(301, &h, b"ok"));
        assert!(!m.matches(200, &[], b"ok"));
        assert!(!m.matches(200, &h, b"fail"));
    }

    #[test]
    fn negations() {
        let m = parse_match(&block(vec![
            dir("status", &["!", "500-599"]),
            dir("header", &["!", "X-Broken"]),
            dir("body", &["!~", "error"]),
        ]))
        .unwrap();
        assert!(m.matches(404, &[], b""));
        assert!(!m.matches(503, &[], b""));
        assert!(!m.matches(200, &[("x-broken".into(), b"1".to_vec())], b""));
        assert!(!m.matches(200, &[], b"an error"));
    }

    #[test]
    fn bad_blocks() {
        let e = parse_match(&block(vec![dir("status", &["2xx"])])).unwrap_err();
        assert_eq!(e.msg, "invalid status \"2xx\"");
        let e = parse_match(&block(vec![dir("bogus", &[])])).unwrap_err();
        assert_eq!(e.msg, "unknown directive \"bogus\"");
        let e = parse_match(&block(vec![dir("body", &["ok"])])).unwrap_err();
        assert_eq!(e.msg, "invalid parameter \"body\"");
    }
}
