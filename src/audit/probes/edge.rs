//! Probes at the edge: deny/return paths, the HTTP→HTTPS redirect, slow clients
//! (slowloris, slow uploads, slow readers), a reload under load, idle WebSockets and more
//! connections than `worker_connections`.

use super::scenario::{App, Case};
use super::targets::{proxied, sample};
use super::{Ctx, Gen, case};
use crate::audit::checks::{PathVerdict, regex_paths};
use crate::audit::model::{Loc, Match, level};
use proxylab_proxy::conf::values::parse_time;

fn blocking(l: &Loc<'_>) -> bool {
    l.own("deny").iter().any(|n| n.arg0() == "all") || !l.own("return").is_empty()
}

/// The paths tried against a blocking location and whether its author meant them blocked.
pub fn deny_paths_of(l: &Loc<'_>) -> Vec<PathVerdict> {
    match l.kind {
        Match::Regex | Match::RegexCi => regex_paths(l),
        _ => sample(l)
            .map(|p| {
                vec![PathVerdict {
                    path: p,
                    meant_blocked: true,
                    blocked: true,
                }]
            })
            .unwrap_or_default(),
    }
}

/// `deny-paths`: request paths against every `deny` / `return` location.
pub fn deny_paths(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for l in c.m.locs.iter().filter(|l| blocking(l)) {
        let paths = deny_paths_of(l);
        if paths.is_empty() {
            continue;
        }
        let Some(mut k) = case(c, "deny-paths", l, 2.0, 4.0) else {
            continue;
        };
        for (i, p) in paths.iter().enumerate() {
            let role = format!(
                "{} ({})",
                p.path,
                if p.meant_blocked {
                    "meant blocked"
                } else {
                    "legitimate"
                }
            );
            k.load(&format!("path{i}"), &role, &format!("model = \"closed\"\nconnections = 1\nmax_requests = 2\nrequests = [{{ path = {:?} }}]", p.path));
        }
        out.push(k);
    }
    if out.is_empty() {
        return Err("no location with deny or return".into());
    }
    Ok(out)
}

/// The request that reads a file through `l`'s alias one directory up and back down
/// (`/static../static/app.js` → `/var/www/static/../static/app.js`): a prefix location
/// without a trailing slash over an alias with one (None otherwise). The file is the
/// directory's first one when it is on this machine, else the `probe.txt` the audit made.
fn traversal_path(c: &Ctx<'_>, l: &Loc<'_>) -> Option<String> {
    if !matches!(l.kind, Match::Prefix | Match::NoRegex) || l.path.ends_with('/') {
        return None;
    }
    let a = l.own("alias").first().copied()?;
    if !a.arg0().ends_with('/') {
        return None;
    }
    let made = c.map.dirs.iter().find(|(at, _)| *at == a.at());
    let (dir, file) = match made {
        Some((_, d)) => (d.clone(), "probe.txt".to_string()),
        None => {
            let d = std::path::Path::new(a.arg0());
            let f = super::response::first_file(d)?;
            (a.arg0().to_string(), f)
        }
    };
    let base = std::path::Path::new(dir.trim_end_matches('/')).file_name()?;
    Some(format!("{}../{}/{file}", l.path, base.to_string_lossy()))
}

/// `alias-traversal`: GET one directory above each alias that a location without a trailing
/// slash maps (and back into it): served means any file next to the published directory is.
pub fn alias_traversal(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for l in &c.m.locs {
        let Some(p) = traversal_path(c, l) else {
            continue;
        };
        let Some(mut k) = case(c, "alias-traversal", l, 2.0, 3.0) else {
            continue;
        };
        k.load(
            "up",
            &format!("GET {p} (one directory above the alias and back)"),
            &format!("model = \"closed\"\nconnections = 1\nmax_requests = 2\nrequests = [{{ path = {p:?} }}]"),
        );
        out.push(k);
    }
    if out.is_empty() {
        return Err("no prefix location without a trailing slash over an alias with one".into());
    }
    Ok(out)
}

/// `redirect`: servers answering with a server-level `return` (HTTP→HTTPS).
pub fn redirect(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for s in &c.m.servers {
        if level(s.node, "return").is_empty() {
            continue;
        }
        let Some(li) = s.listens.iter().find_map(|x| c.map.listener(x.port)) else {
            continue;
        };
        let mut k = Case {
            probe: "redirect".into(),
            label: format!(
                "server {} ({})",
                s.names.first().cloned().unwrap_or_default(),
                s.node.at()
            ),
            at: s.node.at(),
            duration: 2.0,
            listener: Some(li.clone()),
            front: Some(s.node.at()),
            ..Case::default()
        };
        k.load("get", "GET /audit-probe", "model = \"closed\"\nconnections = 1\nmax_requests = 3\nrequests = [{ path = \"/audit-probe\" }]");
        out.push(k);
    }
    if out.is_empty() {
        return Err("no server answers with a server-level return (no HTTP→HTTPS redirect)".into());
    }
    Ok(out)
}

fn with_normal(k: &mut Case, p: &str) {
    k.load("normal", "normal GET clients", &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = 20, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?} }}]", k.duration));
}

/// `slowloris`: clients that never finish their headers, next to normal clients.
pub fn slowloris(c: &Ctx<'_>) -> Gen {
    let l = *proxied(c.m).first().ok_or("no proxied location")?;
    let mut k = case(c, "slowloris", l, 4.0, 60.0).ok_or("unreachable")?;
    let n = if c.quick { 200 } else { 1000 };
    let p = sample(l).unwrap_or_default();
    k.load("slow", &format!("{n} slowloris clients"), &format!("model = \"closed\"\nconnections = {n}\nrequests = [{{ path = {p:?} }}]\nbehaviour = {{ kind = \"slow_headers\", interval = \"1s\", max_hold = \"10m\" }}"));
    with_normal(&mut k, &p);
    Ok(vec![k])
}

/// `slow-upload`: POST bodies trickled at 16 bytes/s, next to normal clients.
pub fn slow_upload(c: &Ctx<'_>) -> Gen {
    let l = *proxied(c.m).first().ok_or("no proxied location")?;
    let mut k = case(c, "slow-upload", l, 4.0, 60.0).ok_or("unreachable")?;
    let n = if c.quick { 50 } else { 300 };
    let p = sample(l).unwrap_or_default();
    k.load("slow", &format!("{n} slow uploads"), &format!("model = \"closed\"\nconnections = {n}\nrequests = [{{ path = {p:?}, method = \"POST\" }}]\nbehaviour = {{ kind = \"slow_body\", declared_bytes = 100000, chunk_bytes = 16, interval = \"1s\", max_hold = \"10m\" }}"));
    with_normal(&mut k, &p);
    Ok(vec![k])
}

/// `slow-reader`: clients reading a 2 MiB response at 16 KiB/s, next to normal clients.
pub fn slow_reader(c: &Ctx<'_>) -> Gen {
    let l = *proxied(c.m).first().ok_or("no proxied location")?;
    let mut k = case(c, "slow-reader", l, 4.0, 60.0).ok_or("unreachable")?;
    k.app = App {
        body_bytes: 2 * 1024 * 1024,
        ..App::default()
    };
    let n = if c.quick { 20 } else { 100 };
    let p = sample(l).unwrap_or_default();
    k.load("slow", &format!("{n} slow readers"), &format!("model = \"closed\"\nconnections = {n}\nrequests = [{{ path = {p:?} }}]\nbehaviour = {{ kind = \"slow_reader\", bytes_per_sec = 16384, max_hold = \"10m\" }}"));
    k.load("normal", "normal GET clients (2 MiB)", &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = 5, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?} }}]", k.duration));
    Ok(vec![k])
}

/// `reload`: SIGHUP with the same config under load.
pub fn reload(c: &Ctx<'_>) -> Gen {
    let l = *proxied(c.m).first().ok_or("no proxied location")?;
    let mut k = case(c, "reload", l, 4.0, 30.0).ok_or("unreachable")?;
    let p = sample(l).unwrap_or_default();
    k.load("get", "GET under reload", &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = 100, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?} }}]", k.duration));
    k.faults
        .push("at = \"2s\"\naction = \"reload\"\nconfig = \"proxy.conf\"".into());
    Ok(vec![k])
}

/// The effective `proxy_read_timeout` of `l` (nginx's default 60 s).
fn read_timeout(l: &Loc<'_>) -> f64 {
    l.value("proxy_read_timeout")
        .and_then(|n| parse_time(n.arg0(), false))
        .map_or(60.0, |d| d.as_secs_f64())
}

/// `websocket-idle`: idle WebSockets on each location that forwards `Upgrade`. The fake
/// upstream echoes WebSockets on every path (its routes are marked `websocket`), so the
/// upgrade goes through the location exactly as configured; the sockets stay idle past the
/// location's `proxy_read_timeout` when the run is long enough to show it.
pub fn websocket_idle(c: &Ctx<'_>) -> Gen {
    let ws: Vec<_> = c
        .m
        .locs
        .iter()
        .filter(|l| {
            l.inherited("proxy_set_header")
                .is_some_and(|(_, v)| v.iter().any(|h| h.arg0().eq_ignore_ascii_case("upgrade")))
        })
        .filter(|l| sample(l).is_some())
        .collect();
    if ws.is_empty() {
        return Err("no location forwards Upgrade (no WebSocket location)".into());
    }
    let mut out = Vec::new();
    for l in ws.into_iter().take(2) {
        let t = read_timeout(l);
        // Long enough to pass the timeout when a short run can (quick: up to 10 s).
        let (quick, full) = if t <= 8.0 {
            (t + 2.0, t + 10.0)
        } else {
            (3.0, (t + 10.0).min(90.0))
        };
        let Some(mut k) = case(c, "websocket-idle", l, quick, full) else {
            continue;
        };
        k.app.websocket = true;
        k.notes.push(("read_timeout".into(), format!("{t}")));
        let p = sample(l).unwrap_or_default();
        k.load("idle", "idle WebSockets", &format!("model = \"closed\"\nconnections = 10\nrequests = [{{ path = {p:?} }}]\nbehaviour = {{ kind = \"ws_idle\", hold = \"10m\" }}"));
        out.push(k);
    }
    Ok(out)
}

/// `connections`: idle connections beyond `worker_connections`, next to normal clients.
pub fn connections(c: &Ctx<'_>) -> Gen {
    let l = *proxied(c.m).first().ok_or("no proxied location")?;
    let wc: u64 =
        c.m.events
            .and_then(|e| {
                level(e, "worker_connections")
                    .last()
                    .and_then(|n| n.arg0().parse().ok())
            })
            .unwrap_or(512);
    let workers = c.m.worker_processes();
    let total = wc * workers;
    let cap = if c.quick { 2000 } else { 12000 };
    if total + 50 > cap {
        return Err(format!(
            "worker_connections × workers = {total}: more than this mode opens ({cap})"
        ));
    }
    let mut k = case(c, "connections", l, 3.0, 20.0).ok_or("unreachable")?;
    let p = sample(l).unwrap_or_default();
    k.load("hoard", &format!("{} idle connections", total + 50), &format!("model = \"closed\"\nconnections = {}\nrequests = [{{ path = {p:?} }}]\nbehaviour = {{ kind = \"idle_hoarder\", hold = \"10m\" }}", total + 50));
    with_normal(&mut k, &p);
    Ok(vec![k])
}
