//! `expires` plus `add_header Cache-Control` in effect in one location: nginx sends two
//! Cache-Control lines. The fix writes the lifetime into the one header (`max-age=` from the
//! `expires` value) and drops `expires`; the `cache-control` probe counts the lines before and
//! after.

use super::{Finding, written};
use crate::audit::finding::Severity;
use crate::audit::model::{Loc, Model};
use crate::audit::rewrite::Patch;
use crate::audit::source::{Node, quote};
use proxylab_proxy::conf::values::parse_time;

pub(super) fn check(m: &Model<'_>, out: &mut Vec<Finding>) {
    for l in &m.locs {
        cache_control(l, out);
    }
}

/// The Cache-Control directive `expires ARG` stands for: `max-age=N` for a time (`max`: ten
/// years), `no-cache` for `epoch` or a negative time; None for `modified …` and `@…` (a date,
/// not a lifetime one header can say).
pub fn lifetime(arg: &str) -> Option<String> {
    match arg {
        "max" => Some("max-age=315360000".into()),
        "epoch" => Some("no-cache".into()),
        a if a.starts_with('-') => Some("no-cache".into()),
        a if a.starts_with('@') || a == "modified" => None,
        a => parse_time(a, true).map(|d| format!("max-age={}", d.as_secs())),
    }
}

/// The add_header value with the lifetime in it (after `public`/`private` when there):
/// `public, immutable` + `max-age=2592000` → `public, max-age=2592000, immutable`. A value
/// that already says max-age or no-cache is kept.
pub fn merged(value: &str, life: &str) -> String {
    let mut parts: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        p.starts_with("max-age") || p == "no-cache"
    }) {
        return parts.join(", ");
    }
    let at = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("public") || p.eq_ignore_ascii_case("private"))
        .map_or(0, |i| i + 1);
    parts.insert(at, life);
    parts.join(", ")
}

fn cache_control(l: &Loc<'_>, out: &mut Vec<Finding>) {
    let Some(e) = l.value("expires") else { return };
    if e.arg0() == "off" {
        return;
    }
    let Some((_, hs)) = l.inherited("add_header") else {
        return;
    };
    let Some(cc) = hs
        .iter()
        .copied()
        .find(|h| h.arg0().eq_ignore_ascii_case("cache-control"))
    else {
        return;
    };
    let value = cc.args.get(1).cloned().unwrap_or_default();
    let mut f = Finding::new(
        "expires-cache-control",
        Severity::Medium,
        &cc.at(),
        format!(
            "{}: two Cache-Control headers (expires {} and add_header)",
            l.label(),
            e.arg0()
        ),
    )
    .detail(format!(
        "`expires {}` ({}) already sends Cache-Control (max-age=… or no-cache) and Expires; \
         `add_header Cache-Control \"{value}\"` ({}) adds a second Cache-Control line. Caches \
         and browsers may take either or treat the conflict as stale (RFC 9111), so \
         \"immutable\" or the lifetime can be ignored.",
        e.arg0(),
        e.at(),
        cc.at()
    ))
    .probe("cache-control");
    f = match lifetime(&e.args.join(" ")) {
        Some(life) => {
            let (text, patch) = fix(l, e, cc, &hs, &merged(&value, &life));
            f.fix(text, Some(patch))
        }
        None => f.fix(
            format!(
                "in {} ({}): drop `expires {}` and write the lifetime into the one header \
                 (add_header Cache-Control \"{value}, max-age=SECONDS\")",
                l.label(),
                l.node.at(),
                e.args.join(" ")
            ),
            None,
        ),
    };
    out.push(f);
}

/// The exact lines to change and the patch that tries them: `expires` dropped (or `expires
/// off;` when it comes from an outer level), the Cache-Control line replaced by the merged
/// one, the location's other `add_header` lines kept (written in the location when they came
/// from outside: a location with its own add_header inherits none).
fn fix(l: &Loc<'_>, e: &Node, cc: &Node, hs: &[&Node], value: &str) -> (String, Patch) {
    let mut new = format!("add_header Cache-Control {}", quote(value));
    if cc.args.iter().skip(2).any(|a| a == "always") {
        new.push_str(" always");
    }
    new.push(';');
    let own_expires = !l.own("expires").is_empty();
    let mut add: Vec<String> = Vec::new();
    if !own_expires {
        add.push("expires off;".into());
    }
    let others: Vec<&Node> = hs
        .iter()
        .copied()
        .filter(|h| !h.arg0().eq_ignore_ascii_case("cache-control"))
        .collect();
    add.extend(written(&others));
    add.push(new.clone());
    let mut old = Vec::new();
    if own_expires {
        old.push(format!("{};  ({})", e.text(), e.at()));
    }
    old.push(format!("{};  ({})", cc.text(), cc.at()));
    let mut text = format!(
        "in {} ({}): replace\n{}\nwith\n",
        l.label(),
        l.node.at(),
        old.join("\n")
    );
    if !own_expires {
        text.push_str("expires off;\n");
    }
    text.push_str(&new);
    let patch = Patch {
        block: l.node.at(),
        add,
        replace: vec!["expires".into(), "add_header".into()],
    };
    (text, patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_values_as_one_cache_control_directive() {
        assert_eq!(lifetime("30d").as_deref(), Some("max-age=2592000"));
        assert_eq!(lifetime("1h 30m").as_deref(), Some("max-age=5400"));
        assert_eq!(lifetime("max").as_deref(), Some("max-age=315360000"));
        assert_eq!(lifetime("epoch").as_deref(), Some("no-cache"));
        assert_eq!(lifetime("-1").as_deref(), Some("no-cache"));
        assert_eq!(lifetime("modified +24h"), None);
        assert_eq!(lifetime("@15h30m"), None);
    }

    #[test]
    fn the_lifetime_goes_after_public() {
        assert_eq!(
            merged("public, immutable", "max-age=2592000"),
            "public, max-age=2592000, immutable"
        );
        assert_eq!(merged("immutable", "max-age=60"), "max-age=60, immutable");
        assert_eq!(
            merged("public, max-age=10", "max-age=60"),
            "public, max-age=10"
        );
    }
}
