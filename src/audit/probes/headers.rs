//! `headers`: a location that loses forwarded headers (`proxy-headers-lost`,
//! `proxy-header-inheritance`), shown: the fake upstream requires the headers the location
//! should send (`require_headers`, else 412), so the probe shows what the app would get and the
//! fix (the headers repeated in the location) is tried against it.

use super::{Ctx, Gen, case};
use crate::audit::finding::Finding;
use crate::audit::model::Loc;

/// Checks whose fix repeats `proxy_set_header` lines in a location.
const CHECKS: [&str; 2] = ["proxy-headers-lost", "proxy-header-inheritance"];

/// Headers any request through nginx carries anyway, or that only WebSockets need.
const ALWAYS: [&str; 3] = ["host", "connection", "upgrade"];

/// The header names the finding's fix adds that the app can require.
fn required(f: &Finding) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in f.patch.iter().flat_map(|p| &p.add) {
        let mut w = line.split_whitespace();
        if w.next() != Some("proxy_set_header") {
            continue;
        }
        let Some(name) = w.next().map(str::to_ascii_lowercase) else {
            continue;
        };
        if !ALWAYS.contains(&name.as_str()) && !v.contains(&name) {
            v.push(name);
        }
    }
    v
}

/// The location a finding is about: its block, or the block that holds the finding's line.
fn location_of<'a>(c: &Ctx<'a>, f: &Finding) -> Option<&'a Loc<'a>> {
    let at = f.at();
    c.m.locs
        .iter()
        .find(|l| l.node.at() == at || l.own("proxy_set_header").iter().any(|n| n.at() == at))
}

/// `headers`: GETs through each location with a header finding (up to three), the fake
/// upstream answering 412 unless the headers the location should send arrive.
pub fn headers(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for f in c
        .findings
        .iter()
        .filter(|f| CHECKS.contains(&f.check.as_str()))
    {
        let need = required(f);
        let Some(l) = location_of(c, f).filter(|l| l.proxy_pass().is_some()) else {
            continue;
        };
        if need.is_empty() || out.len() == 3 {
            continue;
        }
        let Some(mut k) = case(c, "headers", l, 2.0, 5.0) else {
            continue;
        };
        k.app.require = need.iter().map(|h| (h.clone(), "*".to_string())).collect();
        let p = super::targets::sample(l).unwrap_or_default();
        k.load(
            "get",
            &format!("GET, the app requires {}", need.join(", ")),
            &format!("model = \"closed\"\nconnections = 1\nmax_requests = 3\nrequests = [{{ path = {p:?} }}]"),
        );
        k.notes.push(("required".into(), need.join(", ")));
        out.push(k);
    }
    if out.is_empty() {
        return Err("no proxied location loses X-Forwarded-* or other forwarded headers".into());
    }
    Ok(out)
}
