//! Path checks: regex locations that block more or less than their author meant (tried on
//! sample paths), `alias` under a prefix without a trailing slash (path traversal).

use super::Finding;
use crate::audit::finding::Severity;
use crate::audit::model::{Loc, Match, Model};

/// A sample path tried against a blocking regex location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathVerdict {
    /// The request path.
    pub path: String,
    /// What the author meant: block it (a dot file or directory) or not.
    pub meant_blocked: bool,
    /// What the regex does.
    pub blocked: bool,
}

/// Whether a location blocks: `deny all` or a `return` of 4xx / 444.
pub fn blocks(l: &Loc<'_>) -> bool {
    l.own("deny").iter().any(|n| n.arg0() == "all")
        || l.own("return").iter().any(|n| {
            n.arg0()
                .parse::<u16>()
                .is_ok_and(|c| (400..500).contains(&c))
        })
}

/// The words a regex alternation names (`.(env|git)$` → env, git), or the literal tail.
fn words(re: &str) -> Vec<String> {
    let inner = match (re.find('('), re.rfind(')')) {
        (Some(a), Some(b)) if a < b => &re[a + 1..b],
        _ => re,
    };
    inner
        .trim_start_matches("?:")
        .split('|')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Sample paths for a blocking regex location and what it does with each.
pub fn regex_paths(l: &Loc<'_>) -> Vec<PathVerdict> {
    let ci = l.kind == Match::RegexCi;
    let Ok(re) = regex::RegexBuilder::new(&l.path)
        .case_insensitive(ci)
        .build()
    else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for w in words(&l.path) {
        let meant = if matches!(w.as_str(), "git" | "svn" | "hg") {
            vec![format!("/.{w}/HEAD"), format!("/.{w}/config")]
        } else {
            vec![format!("/.{w}"), format!("/app/.{w}")]
        };
        let not_meant = [format!("/api/{w}")];
        for p in meant {
            v.push(PathVerdict {
                blocked: re.is_match(&p),
                path: p,
                meant_blocked: true,
            });
        }
        for p in not_meant {
            v.push(PathVerdict {
                blocked: re.is_match(&p),
                path: p,
                meant_blocked: false,
            });
        }
    }
    v.dedup_by(|a, b| a.path == b.path);
    v
}

pub(super) fn check(m: &Model<'_>, out: &mut Vec<Finding>) {
    for l in &m.locs {
        if matches!(l.kind, Match::Regex | Match::RegexCi) && blocks(l) {
            regex_location(l, out);
        }
        alias(l, out);
    }
}

fn regex_location(l: &Loc<'_>, out: &mut Vec<Finding>) {
    let v = regex_paths(l);
    let missed: Vec<&str> = v
        .iter()
        .filter(|p| p.meant_blocked && !p.blocked)
        .map(|p| p.path.as_str())
        .collect();
    let mut over: Vec<&str> = v
        .iter()
        .filter(|p| !p.meant_blocked && p.blocked)
        .map(|p| p.path.as_str())
        .collect();
    // Longest first: `/api/config` says more than `/api/env`.
    over.sort_by_key(|p| std::cmp::Reverse(p.len()));
    if missed.is_empty() && over.is_empty() {
        return;
    }
    let sev = if missed.is_empty() {
        Severity::Medium
    } else {
        Severity::High
    };
    let few = |v: &[&str]| {
        let mut s = v.iter().take(3).copied().collect::<Vec<_>>().join(", ");
        if v.len() > 3 {
            s.push_str(&format!(" (+{} more)", v.len() - 3));
        }
        s
    };
    let mut title = l.label();
    if !missed.is_empty() {
        title.push_str(&format!(" does not block {}", few(&missed)));
    }
    if !over.is_empty() {
        title.push_str(&format!(
            "{} blocks {}",
            if missed.is_empty() { "" } else { " but" },
            few(&over)
        ));
    }
    let mut detail = format!(
        "Tried: blocked {}; not blocked {}. ",
        few(&v
            .iter()
            .filter(|p| p.blocked)
            .map(|p| p.path.as_str())
            .collect::<Vec<_>>()),
        few(&v
            .iter()
            .filter(|p| !p.blocked)
            .map(|p| p.path.as_str())
            .collect::<Vec<_>>())
    );
    detail.push_str("nginx matches the regex against the whole URI. ");
    if l.path.starts_with('.') || l.path.contains("(.") || l.path.starts_with("^.") {
        detail.push_str("An unescaped `.` matches any character, so any path merely ending in one of the words is caught. ");
    }
    if l.path.ends_with('$') {
        detail.push_str("`$` anchors at the end of the path, so files inside the directory (/.git/HEAD, /.git/config) do not match and are served. ");
    }
    detail.push_str(
        "Block dot paths anywhere instead, and keep legitimate paths out of the pattern.",
    );
    out.push(
        Finding::new("regex-location", sev, &l.node.at(), title)
            .detail(detail)
            .probe("deny-paths")
            .fix(
                format!(
                    "replace {} ({}) with:\nlocation ~ /\\.(?!well-known) {{ deny all; return 404; }}",
                    l.label(),
                    l.node.at()
                ),
                None,
            ),
    );
}

fn alias(l: &Loc<'_>, out: &mut Vec<Finding>) {
    let Some(a) = l.own("alias").first().copied() else {
        return;
    };
    if l.kind != Match::Prefix && l.kind != Match::NoRegex {
        return;
    }
    if !l.path.ends_with('/') && a.arg0().ends_with('/') {
        out.push(
            Finding::new(
                "alias-traversal",
                Severity::High,
                &a.at(),
                format!(
                    "{} with alias {}: {}../ reads the directory above",
                    l.label(),
                    a.arg0(),
                    l.path
                ),
            )
            .detail(format!(
                "The location has no trailing slash and the alias has one: GET {}../x is \
                 mapped to {}../x, one level above the directory you meant to publish.",
                l.path,
                a.arg0()
            ))
            .probe("alias-traversal")
            .fix(
                format!("location {}/ {{ alias {}; ... }}", l.path, a.arg0()),
                None,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_alternations() {
        assert_eq!(
            words(".(env|git|svn|config)$"),
            vec!["env", "git", "svn", "config"]
        );
        assert_eq!(words("\\.(?:git|env)$"), vec!["git", "env"]);
        assert_eq!(words("/\\.ht"), vec!["ht"]);
    }
}
