//! Probes of the response headers a location sends, counted line by line by the loadgen
//! (`record_headers`): `cache-control` (each location with `expires` and `add_header
//! Cache-Control`: nginx sends two lines; the fix writes the lifetime into the one header)
//! and `response-headers` (each location whose own `add_header` drops the outer level's:
//! the dropped headers are missing; the fix repeats them).

use super::{Ctx, Gen, case};
use crate::audit::finding::Finding;
use crate::audit::model::{Loc, Match};
use std::path::Path;

/// Whether `l` sends two Cache-Control lines as written: an `expires` in effect (not `off`)
/// and an `add_header Cache-Control` in effect.
pub fn doubles_cache_control(l: &Loc<'_>) -> bool {
    let expires = l.value("expires").is_some_and(|e| e.arg0() != "off");
    let header = l.inherited("add_header").is_some_and(|(_, v)| {
        v.iter()
            .any(|h| h.arg0().eq_ignore_ascii_case("cache-control"))
    });
    expires && header
}

/// A path that gets a 2xx through `l`: the fake upstream answers any path of a proxied
/// location; a static one is asked for `probe.txt`, which the audit writes into every root
/// and alias directory that is not on this machine, or for the first file of the directory
/// when it is.
pub fn path_of(l: &Loc<'_>) -> Option<String> {
    if l.proxy_pass().is_some() {
        return super::targets::sample(l);
    }
    match l.kind {
        Match::Exact => return Some(l.path.clone()),
        Match::Prefix | Match::NoRegex if l.path.ends_with('/') => {}
        _ => return None,
    }
    let file = local_dir(l)
        .and_then(|d| first_file(&d))
        .unwrap_or_else(|| "probe.txt".into());
    Some(format!("{}{file}", l.path))
}

/// The directory on this machine that `l`'s path maps to (absolute `alias`, or absolute
/// `root` plus the location's path), when it exists.
fn local_dir(l: &Loc<'_>) -> Option<std::path::PathBuf> {
    let d = match l.own("alias").first() {
        Some(a) => Path::new(a.arg0()).to_path_buf(),
        None => Path::new(l.value("root")?.arg0()).join(l.path.trim_start_matches('/')),
    };
    (d.is_absolute() && !d.to_string_lossy().contains('$') && d.is_dir()).then_some(d)
}

/// The first regular file of `d` by name (read only; nothing there is written).
pub(super) fn first_file(d: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(d)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// `cache-control`: five GETs through each location with `expires` and `add_header
/// Cache-Control` (up to three), their Cache-Control lines counted.
pub fn cache_control(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for l in c.m.locs.iter().filter(|l| doubles_cache_control(l)) {
        let Some(p) = path_of(l) else { continue };
        let Some(mut k) = case(c, "cache-control", l, 2.0, 4.0) else {
            continue;
        };
        k.files.push(p.clone());
        k.load(
            "get",
            &format!("GET {p}, Cache-Control lines counted"),
            &format!("model = \"closed\"\nconnections = 1\nmax_requests = 5\nrecord_headers = [\"cache-control\"]\nrequests = [{{ path = {p:?} }}]"),
        );
        out.push(k);
        if out.len() == 3 {
            break;
        }
    }
    if out.is_empty() {
        return Err(
            "no location sets both expires and add_header Cache-Control (that a request can reach)"
                .into(),
        );
    }
    Ok(out)
}

/// The header names a finding's fix repeats (`add_header NAME …` lines), lowercase, at most
/// eight (the loadgen records up to eight).
fn repeated(f: &Finding) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in f.patch.iter().flat_map(|p| &p.add) {
        let mut w = line.split_whitespace();
        if w.next() != Some("add_header") {
            continue;
        }
        if let Some(n) = w.next().map(str::to_ascii_lowercase)
            && !v.contains(&n)
            && v.len() < 8
        {
            v.push(n);
        }
    }
    v
}

/// `response-headers`: GETs through each location with an `add-header-inheritance` finding
/// (up to three), the headers it drops counted on every response.
pub fn response_headers(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for f in c
        .findings
        .iter()
        .filter(|f| f.check == "add-header-inheritance")
    {
        let names = repeated(f);
        let at = f.at();
        let Some(l) =
            c.m.locs
                .iter()
                .find(|l| l.node.at() == at || l.own("add_header").iter().any(|n| n.at() == at))
        else {
            continue;
        };
        let Some(p) = path_of(l) else { continue };
        if names.is_empty() {
            continue;
        }
        let Some(mut k) = case(c, "response-headers", l, 2.0, 4.0) else {
            continue;
        };
        let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        k.files.push(p.clone());
        k.load(
            "get",
            &format!("GET {p}, {} counted", names.join(", ")),
            &format!(
                "model = \"closed\"\nconnections = 1\nmax_requests = 5\nrecord_headers = [{}]\nrequests = [{{ path = {p:?} }}]",
                list.join(", ")
            ),
        );
        k.notes.push(("expected".into(), names.join(",")));
        out.push(k);
        if out.len() == 3 {
            break;
        }
    }
    if out.is_empty() {
        return Err("no location drops add_header lines of an outer level".into());
    }
    Ok(out)
}
