//! Certificate choice by SNI across the server blocks of one listen socket, with nginx's
//! `server_name` precedence: exact name, longest leading wildcard (`*.example.com`,
//! `.example.com`), longest trailing wildcard (`www.example.*`), regexes (`~…`) in order;
//! otherwise (no SNI or no match) the default server's certificate.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// One `server_name` entry, parsed.
#[derive(Debug, Clone)]
pub enum NamePattern {
    /// `example.com` (compared lowercase).
    Exact(String),
    /// `*.example.com` → suffix `.example.com`; `.example.com` → also `example.com` itself.
    LeadingWildcard {
        /// The suffix including the leading dot.
        suffix: String,
        /// `.example.com` form: the bare domain matches too.
        bare_too: bool,
    },
    /// `www.example.*` → prefix `www.example.`.
    TrailingWildcard(String),
    /// `~regex` (case-sensitive as nginx; use `(?i)` for insensitive).
    Regex(regex::Regex),
}

impl NamePattern {
    /// Parses one `server_name` argument; `None` for the empty name `""` or an invalid regex.
    pub fn parse(name: &str) -> Option<NamePattern> {
        if let Some(re) = name.strip_prefix('~') {
            return regex::Regex::new(re).ok().map(NamePattern::Regex);
        }
        let n = name.to_ascii_lowercase();
        if n.is_empty() {
            None
        } else if let Some(s) = n.strip_prefix("*.") {
            Some(NamePattern::LeadingWildcard {
                suffix: format!(".{s}"),
                bare_too: false,
            })
        } else if n.starts_with('.') {
            Some(NamePattern::LeadingWildcard {
                suffix: n,
                bare_too: true,
            })
        } else if let Some(p) = n.strip_suffix(".*") {
            Some(NamePattern::TrailingWildcard(format!("{p}.")))
        } else {
            Some(NamePattern::Exact(n))
        }
    }
}

/// Chooses the certificate for a ClientHello. Built by [`super::server_config`].
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, usize>,
    leading: Vec<(String, bool, usize)>,
    trailing: Vec<(String, usize)>,
    regex: Vec<(regex::Regex, usize)>,
    keys: Vec<Arc<CertifiedKey>>,
    default: usize,
}

impl SniResolver {
    /// Servers as (names, certificate); `default` indexes the listen socket's default server.
    /// The first server to claim a name keeps it (nginx warns "conflicting server name").
    pub fn new(servers: Vec<(Vec<String>, Arc<CertifiedKey>)>, default: usize) -> SniResolver {
        let mut r = SniResolver {
            exact: HashMap::new(),
            leading: Vec::new(),
            trailing: Vec::new(),
            regex: Vec::new(),
            keys: Vec::new(),
            default,
        };
        for (i, (names, key)) in servers.into_iter().enumerate() {
            r.keys.push(key);
            for n in names.iter().filter_map(|n| NamePattern::parse(n)) {
                match n {
                    NamePattern::Exact(e) => {
                        r.exact.entry(e).or_insert(i);
                    }
                    NamePattern::LeadingWildcard { suffix, bare_too } => {
                        r.leading.push((suffix, bare_too, i))
                    }
                    NamePattern::TrailingWildcard(p) => r.trailing.push((p, i)),
                    NamePattern::Regex(re) => r.regex.push((re, i)),
                }
            }
        }
        // longest wildcard wins
        r.leading
            .sort_by_key(|(s, _, _)| std::cmp::Reverse(s.len()));
        r.trailing.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        if r.default >= r.keys.len() {
            r.default = 0;
        }
        r
    }

    /// Index of the server whose certificate serves `sni` (the default one for `None` or no
    /// match).
    pub fn server_for(&self, sni: Option<&str>) -> usize {
        let Some(name) = sni else { return self.default };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(&i) = self.exact.get(&name) {
            return i;
        }
        for (suffix, bare_too, i) in &self.leading {
            if name.ends_with(suffix.as_str()) || (*bare_too && name == suffix[1..]) {
                return *i;
            }
        }
        for (prefix, i) in &self.trailing {
            if name.starts_with(prefix.as_str()) {
                return *i;
            }
        }
        for (re, i) in &self.regex {
            if re.is_match(&name) {
                return *i;
            }
        }
        self.default
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.keys.get(self.server_for(hello.server_name())).cloned()
    }
}
