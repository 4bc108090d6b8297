//! Probes of the upstream pool: the keep-alive race made reproducible, and one sick (503) or
//! slow instance among healthy ones.

use super::http::crash_target;
use super::scenario::App;
use super::targets::{pool_of, proxied, sample, zone_rate};
use super::{Ctx, Gen, case};
use crate::audit::model::level;
use crate::audit::rewrite::Patch;

/// How late the relay passes the upstream's FIN on (the race window), seconds.
pub const RACE_WINDOW: f64 = 1.0;

/// `keepalive-race`: the upstream closes idle kept connections after its keep-alive timeout
/// `t` (Uvicorn's `--timeout-keep-alive`); a relay on the proxy→pool link passes that close on
/// `RACE_WINDOW` late, as a loaded network or host does for a few milliseconds. POSTs arrive
/// so that each instance's kept connection has been idle `t + 0.3 s`: when the proxy keeps
/// idle connections longer than `t` it writes them onto a closed connection (502, not
/// retried); when its `keepalive_timeout` is shorter it has closed them first.
pub fn keepalive_race(c: &Ctx<'_>) -> Gen {
    let f = c
        .findings
        .iter()
        .find(|f| f.check == "keepalive-race")
        .ok_or("no upstream keeps connections and none asks for it")?;
    let at = f.at();
    let u =
        c.m.upstreams
            .iter()
            .copied()
            .find(|u| u.at() == at || level(u, "keepalive").iter().any(|k| k.at() == at))
            .ok_or("the upstream of the finding is not in the model")?;
    let l = proxied(c.m)
        .into_iter()
        .find(|l| c.m.upstream_of(l).is_some_and(|x| x.at() == u.at()))
        .ok_or("no probe-able location uses the upstream")?;
    let pool = pool_of(c.m, c.map, l).ok_or("the upstream is not mapped")?;
    let n = pool.instances.len().max(1) as f64;
    let t = c.upstream_keepalive.as_secs_f64();
    // Open loop, evenly spaced: instance i is used again n arrivals later, after t + 0.3 s.
    let period = (t + 0.3) / n;
    let quick = n * period + RACE_WINDOW + 1.0;
    let Some(mut k) = case(c, "keepalive-race", l, quick, 120.0) else {
        return Ok(vec![]);
    };
    if level(u, "keepalive").is_empty() {
        k.patches.push(Patch {
            block: u.at(),
            add: vec!["keepalive 16;".into()],
            replace: vec![],
        });
        k.label = format!(
            "{} with `keepalive 16` added (what the config asks for)",
            l.label()
        );
    }
    k.pool_keys.push(format!("timeout_keep_alive = \"{t}s\""));
    k.faults.push(format!(
        "at = \"0s\"\naction = \"slow_close\"\ndelay = \"{}ms\"\ndirection = \"down\"\ntarget = \"link:proxy->{}\"\nlabel = \"upstream FINs reach the proxy {RACE_WINDOW} s late\"",
        (RACE_WINDOW * 1000.0) as u64,
        pool.name
    ));
    let p = sample(l).unwrap_or_default();
    let d = k.duration;
    // One client connection, so one proxy worker carries every request: without a `zone`
    // each worker keeps its own balancer turn and connection cache (nginx and ours), and
    // requests spread over two workers would reuse each instance half as often.
    k.loadgen_threads = Some(1);
    k.load(
        "post",
        &format!("POST every {period:.2} s (each instance idle {:.1} s), one client connection", t + 0.3),
        &format!("model = \"open\"\nmax_connections = 1\nstages = [{{ shape = \"constant\", rate = {:.4}, duration = \"{d}s\" }}]\nrequests = [{{ path = {p:?}, method = \"POST\", body_size = 64 }}]", 1.0 / period),
    );
    Ok(vec![k])
}

/// `sick-instance`: one instance of the largest pool answers 503 to everything (its database
/// is gone, its health fails) while the others are fine, under GET and POST load. Whether
/// users see the 503s depends on `proxy_next_upstream` (retry elsewhere) and
/// `max_fails`/`fail_timeout` (stop sending there).
pub fn sick_instance(c: &Ctx<'_>) -> Gen {
    let (l, pool) = crash_target(c)?;
    let size = pool_of(c.m, c.map, l).map_or(0, |p| p.instances.len());
    if size < 2 {
        return Err("no upstream has two servers: nothing to fail over to".into());
    }
    let Some(mut k) = case(c, "sick-instance", l, 4.0, 30.0) else {
        return Ok(vec![]);
    };
    k.app = App {
        health: true,
        ..App::default()
    };
    let p = sample(l).unwrap_or_default();
    // Under a rate limit, half its rate in all (its 503s are not the sick instance's).
    let total = zone_rate(c.m, l).map_or(50.0, |r| (r / 2.0).clamp(2.0, 50.0));
    // Poisson arrivals: evenly spaced GETs and POSTs line up with the balancer's turn order,
    // so the POSTs' share of the sick instance swung from 1/40 to 16/40 between runs.
    for (name, method, rate) in [("get", "GET", total * 0.8), ("post", "POST", total * 0.2)] {
        let body = if method == "POST" {
            ", body_size = 256"
        } else {
            ""
        };
        k.load(name, method, &format!("model = \"open\"\narrivals = \"poisson\"\nstages = [{{ shape = \"constant\", rate = {rate:.1}, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?}, method = \"{method}\"{body} }}]", k.duration));
    }
    let at = if c.quick { "1s" } else { "5s" };
    k.faults.push(format!(
        "at = \"{at}\"\naction = \"unhealthy\"\ntarget = \"{pool}.0\"\nlabel = \"{pool}.0 answers 503 to everything\""
    ));
    let line = "proxy_next_upstream error timeout http_502 http_503 http_504;";
    k.remedy = Some((
        format!("add to {} ({}):\n{line}", l.label(), l.node.at()),
        Patch {
            block: l.node.at(),
            add: vec![line.into()],
            replace: vec!["proxy_next_upstream".into()],
        },
    ));
    Ok(vec![k])
}

/// How long the slow instance's link holds each response (and, on a new connection, the
/// request's first bytes too: about 1 s per request without upstream keep-alive).
pub const SLOW_BY_MS: u64 = 500;

/// The balancing method an upstream sets (None: round robin).
fn method(u: &crate::audit::source::Node) -> Option<&'static str> {
    ["least_conn", "hash", "ip_hash", "random"]
        .into_iter()
        .find(|d| !level(u, d).is_empty())
}

/// `slow-instance`: one instance of the largest pool answers every request ~1 s late (a GC
/// pause, a slow disk or database behind it) while the others are fine. It does not fail, so
/// neither `max_fails` nor `proxy_next_upstream` notice it: how many users wait depends on the
/// balancer. Round robin keeps sending it a full share; `least_conn` sends it a request only
/// when it holds no more than the others.
pub fn slow_instance(c: &Ctx<'_>) -> Gen {
    let (l, pool) = crash_target(c)?;
    let size = pool_of(c.m, c.map, l).map_or(0, |p| p.instances.len());
    if size < 2 {
        return Err("no upstream has two servers: nothing to balance over".into());
    }
    let Some(mut k) = case(c, "slow-instance", l, 4.0, 30.0) else {
        return Ok(vec![]);
    };
    let p = sample(l).unwrap_or_default();
    let rate = zone_rate(c.m, l).map_or(40.0, |r| (r / 2.0).clamp(2.0, 40.0));
    k.load("get", &format!("GET at {rate}/s (Poisson arrivals)"), &format!("model = \"open\"\narrivals = \"poisson\"\nstages = [{{ shape = \"constant\", rate = {rate:.1}, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?} }}]", k.duration));
    let at = if c.quick { "500ms" } else { "5s" };
    k.faults.push(format!(
        "at = \"{at}\"\naction = \"latency\"\nlatency = \"{SLOW_BY_MS}ms\"\ndirection = \"down\"\ntarget = \"link:proxy->{pool}.0\"\nlabel = \"{pool}.0 slow (+{SLOW_BY_MS} ms per response)\""
    ));
    let u = c.m.upstream_of(l);
    let how = u.and_then(method).unwrap_or("round robin");
    k.notes.push(("balancer".into(), how.into()));
    k.notes.push(("pool".into(), pool.clone()));
    if let Some(u) = u.filter(|u| method(u).is_none()) {
        k.remedy = Some((
            format!("add to upstream {} ({}):\nleast_conn;", u.arg0(), u.at()),
            Patch {
                block: u.at(),
                add: vec!["least_conn;".into()],
                replace: vec![],
            },
        ));
    }
    Ok(vec![k])
}
