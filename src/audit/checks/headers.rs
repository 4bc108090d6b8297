//! Header checks: `proxy_set_header` / `add_header` lists that a location replaces instead of
//! extending (nginx inherits a list only when the level sets none), and proxied locations
//! that send less than their siblings (Host, X-Forwarded-*, HTTP/1.1).

use super::{Finding, add, names, written};
use crate::audit::finding::Severity;
use crate::audit::model::{Loc, Model};

const IDENTITY: [&str; 4] = ["host", "x-forwarded-for", "x-forwarded-proto", "x-real-ip"];

pub(super) fn check(m: &Model<'_>, out: &mut Vec<Finding>) {
    for l in &m.locs {
        lost_on_override(l, "proxy_set_header", out);
        lost_on_override(l, "add_header", out);
        if l.proxy_pass().is_some() {
            less_than_siblings(m, l, out);
        }
    }
}

fn lost_on_override(l: &Loc<'_>, name: &str, out: &mut Vec<Finding>) {
    let own = l.own(name);
    let Some(first) = own.first() else { return };
    let outer = l.chain[..l.chain.len() - 1].iter().rev().find_map(|lvl| {
        let v = crate::audit::model::level(lvl, name);
        (!v.is_empty()).then_some((*lvl, v))
    });
    let Some((lvl, theirs)) = outer else { return };
    let mine = names(&own);
    let lost: Vec<_> = theirs
        .iter()
        .filter(|n| !mine.contains(&n.arg0().to_ascii_lowercase()))
        .copied()
        .collect();
    if lost.is_empty() {
        return;
    }
    let list: Vec<&str> = lost.iter().map(|n| n.arg0()).collect();
    let check = if name == "add_header" {
        "add-header-inheritance"
    } else {
        "proxy-header-inheritance"
    };
    let f = Finding::new(
        check,
        Severity::Medium,
        &first.at(),
        format!(
            "{} drops {} set at {}",
            l.label(),
            list.join(", "),
            lvl.at()
        ),
    )
    .detail(format!(
        "nginx inherits `{name}` only into a level that sets none: because {} sets its own, \
             {} from `{} {}` ({}) do not apply there.",
        l.label(),
        list.join(", "),
        lvl.name,
        lvl.args.join(" "),
        lvl.at()
    ))
    .fix(
        format!(
            "repeat in {} ({}):\n{}",
            l.label(),
            l.node.at(),
            written(&lost).join("\n")
        ),
        Some(add(l.node.at(), written(&lost))),
    );
    // A lost proxy_set_header is what the app sees (the `headers` probe), a lost add_header
    // what the client gets (`response-headers`).
    out.push(if name == "add_header" {
        f.probe("response-headers")
    } else {
        f.probe("headers")
    });
}

fn less_than_siblings(m: &Model<'_>, l: &Loc<'_>, out: &mut Vec<Finding>) {
    let mine = l
        .inherited("proxy_set_header")
        .map(|(_, v)| names(&v))
        .unwrap_or_default();
    let http11 = |x: &Loc<'_>| {
        x.value("proxy_http_version")
            .is_some_and(|n| n.arg0() == "1.1")
    };
    let mut missing: Vec<String> = Vec::new();
    let mut shown: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut from = None;
    for o in m
        .locs
        .iter()
        .filter(|o| o.proxy_pass().is_some() && o.node.at() != l.node.at())
    {
        let Some((_, theirs)) = o.inherited("proxy_set_header") else {
            continue;
        };
        for n in theirs {
            let k = n.arg0().to_ascii_lowercase();
            if IDENTITY.contains(&k.as_str()) && !mine.contains(&k) && !missing.contains(&k) {
                missing.push(k);
                shown.push(n.arg0().to_string());
                lines.push(format!("{};", n.text()));
                from.get_or_insert(format!("{} ({})", o.label(), o.node.at()));
            }
        }
        if http11(o) && !http11(l) && !missing.iter().any(|x| x == "HTTP/1.1") {
            missing.push("HTTP/1.1".into());
            shown.push("HTTP/1.1".into());
            lines.push("proxy_http_version 1.1;".into());
            from.get_or_insert(format!("{} ({})", o.label(), o.node.at()));
            if !mine.iter().any(|x| x == "connection") {
                lines.push("proxy_set_header Connection \"\";".into());
            }
        }
    }
    let Some(from) = from else { return };
    let host = l
        .proxy_pass()
        .and_then(|p| crate::audit::model::target(p.arg0()))
        .map(|t| t.host)
        .unwrap_or_default();
    let mut all = lines.clone();
    if l.own("proxy_set_header").is_empty()
        && let Some((_, v)) = l.inherited("proxy_set_header")
    {
        all.splice(0..0, written(&v));
    }
    out.push(
        Finding::new(
            "proxy-headers-lost",
            Severity::Medium,
            &l.node.at(),
            format!("{} loses {} that {from} sends", l.label(), shown.join(", ")),
        )
        .detail(format!(
            "Requests through {} reach the app with nginx's defaults: Host: {host} (not the \
             client's), no X-Forwarded-For / X-Forwarded-Proto unless set, HTTP/1.0 with \
             Connection: close (no upstream keep-alive). The app sees the proxy as the client, \
             builds wrong absolute URLs and redirects to http://.",
            l.label()
        ))
        .probe("headers")
        .fix(
            format!(
                "add to {} ({}):\n{}",
                l.label(),
                l.node.at(),
                lines.join("\n")
            ),
            Some(add(l.node.at(), all)),
        ),
    );
}
