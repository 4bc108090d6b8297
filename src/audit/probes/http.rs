//! Probes of the request path: baseline, a 10× spike, a crashed and a hung upstream instance,
//! every instance at its concurrency limit, large upstream headers, bodies above
//! client_max_body_size.

use super::scenario::App;
use super::targets::{body_limit, pool_of, proxied, sample, zone_rate};
use super::{Ctx, Gen, case};
use crate::audit::model::Loc;

fn first_proxied<'a>(c: &Ctx<'a>) -> Result<Vec<&'a Loc<'a>>, String> {
    let v = proxied(c.m);
    if v.is_empty() {
        Err("no location proxies to an upstream".into())
    } else {
        Ok(v)
    }
}

/// `baseline`: closed loop on each proxied location (up to three).
pub fn baseline(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    let n = if c.quick { 1 } else { 3 };
    for l in first_proxied(c)?.into_iter().take(n) {
        let Some(mut k) = case(c, "baseline", l, 2.0, 20.0) else {
            continue;
        };
        let p = sample(l).unwrap_or_default();
        match zone_rate(c.m, l) {
            // Under a rate limit: half the rate, open loop (a closed loop would only measure
            // the limit).
            Some(r) => {
                let rate = (r / 2.0).max(1.0).round();
                let d = k.duration;
                k.load(
                    "get",
                    &format!("GET at {rate}/s (half the limit_req rate)"),
                    &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = {rate}, duration = \"{d}s\" }}]\nrequests = [{{ path = {p:?} }}]"),
                );
            }
            None => k.load(
                "get",
                "GET",
                &format!("model = \"closed\"\nconnections = 4\nrequests = [{{ path = {p:?} }}]"),
            ),
        }
        out.push(k);
    }
    Ok(out)
}

/// `spike`: 10× the base rate for a while, on rate-limited locations (else the first one).
pub fn spike(c: &Ctx<'_>) -> Gen {
    let all = first_proxied(c)?;
    let limited: Vec<_> = all
        .iter()
        .copied()
        .filter(|l| l.inherited("limit_req").is_some())
        .take(2)
        .collect();
    let targets = if limited.is_empty() {
        vec![all[0]]
    } else {
        limited
    };
    let mut out = Vec::new();
    for l in targets {
        let base = zone_rate(c.m, l)
            .map_or(30.0, |r| (r / 2.0).clamp(1.0, 100.0))
            .round();
        let Some(mut k) = case(c, "spike", l, 4.0, 30.0) else {
            continue;
        };
        let (at, hold) = if c.quick {
            ("1s", "2500ms")
        } else {
            ("5s", "15s")
        };
        let d = k.duration;
        let p = sample(l).unwrap_or_default();
        k.load(
            "spike",
            "GET during a 10x spike",
            &format!(
                "model = \"open\"\nstages = [{{ shape = \"spike\", base = {base}, height = {}, at = \"{at}\", hold = \"{hold}\", duration = \"{d}s\" }}]\nrequests = [{{ path = {p:?} }}]",
                base * 10.0
            ),
        );
        out.push(k);
    }
    Ok(out)
}

pub(super) fn crash_target<'a>(c: &Ctx<'a>) -> Result<(&'a Loc<'a>, String), String> {
    let all = first_proxied(c)?;
    let size = |l: &Loc<'_>| pool_of(c.m, c.map, l).map_or(0, |p| p.instances.len());
    let mut l = all[0];
    for x in &all {
        if size(x) > size(l) {
            l = x;
        }
    }
    let pool = pool_of(c.m, c.map, l).ok_or("the location's upstream is not mapped")?;
    Ok((l, pool.name.clone()))
}

/// `crash`: one upstream instance killed under GET and POST load.
pub fn crash(c: &Ctx<'_>) -> Gen {
    let (l, pool) = crash_target(c)?;
    let Some(mut k) = case(c, "crash", l, 4.0, 30.0) else {
        return Ok(vec![]);
    };
    k.app = App {
        latency_ms: 40,
        ..App::default()
    };
    let p = sample(l).unwrap_or_default();
    let rate = if c.quick { 40 } else { 100 };
    for (n, m) in [("get", "GET"), ("post", "POST")] {
        let body = if m == "POST" { ", body_size = 512" } else { "" };
        k.load(n, m, &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = {rate}, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?}, method = \"{m}\"{body} }}]", k.duration));
    }
    let at = if c.quick { "1500ms" } else { "5s" };
    k.faults.push(format!(
        "at = \"{at}\"\naction = \"kill\"\ntarget = \"{pool}.0\"\nlabel = \"kill {pool}.0\""
    ));
    Ok(vec![k])
}

/// `hung`: one upstream instance stopped (accepts, never answers).
pub fn hung(c: &Ctx<'_>) -> Gen {
    let (l, pool) = crash_target(c)?;
    let Some(mut k) = case(c, "hung", l, 5.0, 75.0) else {
        return Ok(vec![]);
    };
    let p = sample(l).unwrap_or_default();
    k.load("get", "GET", &format!("model = \"open\"\nstages = [{{ shape = \"constant\", rate = 20, duration = \"{}s\" }}]\nrequests = [{{ path = {p:?} }}]", k.duration));
    let hold = k.duration - 1.5;
    k.faults.push(format!("at = \"1s\"\naction = \"pause\"\ntarget = \"{pool}.0\"\nfor = \"{}ms\"\nlabel = \"SIGSTOP {pool}.0\"", (hold * 1000.0) as u64));
    k.request_timeout = Some(if c.quick { "3s".into() } else { "70s".into() });
    Ok(vec![k])
}

/// `big-headers`: the upstream answers with a 6 KiB header.
pub fn big_headers(c: &Ctx<'_>) -> Gen {
    let l = first_proxied(c)?[0];
    let Some(mut k) = case(c, "big-headers", l, 2.0, 10.0) else {
        return Ok(vec![]);
    };
    k.app
        .headers
        .push(("x-audit-large".into(), "a".repeat(6000)));
    let p = sample(l).unwrap_or_default();
    k.load(
        "get",
        "GET, 6 KiB response header",
        &format!("model = \"closed\"\nconnections = 2\nrequests = [{{ path = {p:?} }}]"),
    );
    Ok(vec![k])
}

/// `body-size`: a POST 1 KiB above client_max_body_size on each location that sets one and
/// on one that does not.
pub fn body_size(c: &Ctx<'_>) -> Gen {
    let all = first_proxied(c)?;
    let mut picks: Vec<_> = all
        .iter()
        .copied()
        .filter(|l| !l.own("client_max_body_size").is_empty())
        .take(3)
        .collect();
    if let Some(o) = all
        .iter()
        .copied()
        .find(|l| l.value("client_max_body_size").is_none())
    {
        picks.push(o);
    }
    let mut out = Vec::new();
    for l in picks {
        let lim = body_limit(l);
        if lim == 0 || lim > 64 * 1024 * 1024 {
            continue;
        }
        let Some(mut k) = case(c, "body-size", l, 2.0, 5.0) else {
            continue;
        };
        let p = sample(l).unwrap_or_default();
        k.load("over", &format!("POST {} bytes (limit + 1 KiB)", lim + 1024), &format!("model = \"closed\"\nconnections = 1\nmax_requests = 2\nrequests = [{{ path = {p:?}, method = \"POST\", body_size = {} }}]", lim + 1024));
        k.load("under", &format!("POST {} bytes (limit − 1 KiB)", lim.saturating_sub(1024)), &format!("model = \"closed\"\nconnections = 1\nmax_requests = 2\nrequests = [{{ path = {p:?}, method = \"POST\", body_size = {} }}]", lim.saturating_sub(1024)));
        out.push(k);
    }
    if out.is_empty() {
        return Err("no location with a client_max_body_size that a probe can send".into());
    }
    Ok(out)
}

/// `upstream-503`: every instance limited to 2 concurrent requests (Uvicorn's
/// `--limit-concurrency`) under 12 clients: Uvicorn answers 503, and whether nginx passes it on
/// or tries another server depends on `proxy_next_upstream`.
pub fn upstream_503(c: &Ctx<'_>) -> Gen {
    let (l, _) = crash_target(c)?;
    let Some(mut k) = case(c, "upstream-503", l, 3.0, 20.0) else {
        return Ok(vec![]);
    };
    k.app = App {
        latency_ms: 20,
        ..App::default()
    };
    k.pool_keys.push("limit_concurrency = 2".into());
    let p = sample(l).unwrap_or_default();
    k.load(
        "get",
        "GET, 12 clients, each instance limited to 2",
        &format!("model = \"closed\"\nconnections = 12\nrequests = [{{ path = {p:?} }}]"),
    );
    Ok(vec![k])
}
