//! What a probe run showed: one line per population, a verdict (did something go wrong that
//! the config can change) and a signature to compare our proxy with real nginx.

use super::load::Pop;
use super::scenario::Case;
use std::collections::BTreeMap;

/// The verdict of one run of a case.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verdict {
    /// One line per population, then the conclusion.
    pub lines: Vec<String>,
    /// Something went wrong for clients.
    pub bad: bool,
    /// Comparable outcome (None: timing-dependent, not compared between proxies).
    pub signature: Option<String>,
}

/// Judges a finished case.
pub fn judge(k: &Case, pops: &BTreeMap<String, Pop>) -> Verdict {
    let mut v = Verdict::default();
    let empty = Pop::default();
    let get = |n: &str| pops.get(n).unwrap_or(&empty);
    for (name, role) in &k.roles {
        v.lines.push(format!("{role}: {}", get(name).describe()));
    }
    let all: Pop = pops.values().fold(Pop::default(), |mut a, p| {
        for (c, n) in &p.status {
            *a.status.entry(*c).or_default() += n;
        }
        for (e, n) in &p.errors {
            *a.errors.entry(e.clone()).or_default() += n;
        }
        a
    });
    let (bad, concl) = conclude(k, pops, &all);
    v.bad = bad;
    if !concl.is_empty() {
        v.lines.push(concl);
    }
    let compared = !matches!(
        k.probe.as_str(),
        "keepalive-race"
            | "websocket-idle"
            | "hung"
            | "slowloris"
            | "slow-upload"
            | "slow-reader"
            | "connections"
            | "reload"
            | "spike"
    );
    if compared {
        let sig: Vec<String> = k
            .roles
            .iter()
            .map(|(n, _)| format!("{n}={}", get(n).signature()))
            .collect();
        v.signature = Some(sig.join(" "));
    } else if k.probe == "spike" {
        v.signature = Some(format!("503={} 429={}", all.n(503) > 0, all.n(429) > 0));
    }
    v
}

/// Whether the case went wrong for clients, and the one-line conclusion.
fn conclude(k: &Case, pops: &BTreeMap<String, Pop>, all: &Pop) -> (bool, String) {
    let empty = Pop::default();
    let get = |n: &str| pops.get(n).unwrap_or(&empty);
    let share = |p: &Pop, n: u64| n as f64 / p.finished().max(1) as f64;
    match k.probe.as_str() {
        "spike" => (
            all.n(503) > 0,
            format!("over the limit: {} × 503, {} × 429", all.n(503), all.n(429)),
        ),
        "crash" => {
            let (g, p) = (get("get"), get("post"));
            let gbad = g.range(500, 599) + g.failures();
            let pbad = p.range(500, 599) + p.failures();
            // POSTs already sent to the instance that died cannot be retried (nginx neither):
            // only failed GETs are the config's doing (proxy_next_upstream).
            (
                gbad > 0,
                format!(
                    "GETs failed: {gbad} (nginx retries them on the next server); POSTs failed: {pbad} (sent to the killed instance, not retried by design)"
                ),
            )
        }
        "upstream-503" => (
            all.range(500, 599) > 0,
            format!(
                "{} × 503 from Uvicorn and {} × 502 (no live upstreams) reached the clients",
                all.n(503),
                all.n(502)
            ),
        ),
        "hung" => {
            let t = all.errors.get("read_timeout").copied().unwrap_or(0) + all.n(504);
            (
                t > 0,
                format!("{t} requests waited for the stopped instance until a timeout"),
            )
        }
        "keepalive-race" => (
            all.n(502) > 0,
            format!(
                "{} × 502 on POST (the race; timing-dependent: 0 does not prove absence)",
                all.n(502)
            ),
        ),
        "big-headers" => (
            all.n(502) > 0,
            format!("{} × 502 (upstream sent too big header)", all.n(502)),
        ),
        "body-size" => (
            get("under").range(400, 599) > 0,
            format!(
                "over the limit: {} × 413; under it: {} × 2xx",
                get("over").n(413),
                get("under").range(200, 299)
            ),
        ),
        "deny-paths" => deny(k, pops),
        "redirect" => (
            all.range(300, 399) == 0,
            format!("{} redirects", all.range(300, 399)),
        ),
        "slowloris" | "slow-upload" | "slow-reader" | "connections" | "reload" | "tls"
        | "baseline" => {
            let p = if pops.contains_key("normal") {
                get("normal")
            } else {
                all
            };
            let b = p.range(500, 599) + p.failures();
            (
                share(p, b) > 0.01,
                format!("{b} of {} normal requests failed", p.finished()),
            )
        }
        "websocket-idle" if get("idle").outcomes.is_empty() => (
            false,
            "not measured: the upstream answered the upgrade with a plain response (the fake Uvicorn's WebSocket echo is at /ws only; use --app with your own app)".into(),
        ),
        "websocket-idle" => {
            let p = get("idle");
            let closed: u64 = p
                .outcomes
                .iter()
                .filter(|(k, _)| k.as_str() != "held_to_end")
                .map(|(_, n)| n)
                .sum();
            (
                closed > 0,
                format!("{closed} idle WebSockets closed before the end"),
            )
        }
        _ => (false, String::new()),
    }
}

fn deny(k: &Case, pops: &BTreeMap<String, Pop>) -> (bool, String) {
    let mut missed = Vec::new();
    let mut over = Vec::new();
    for (name, role) in &k.roles {
        let Some(p) = pops.get(name) else { continue };
        let path = role.split(' ').next().unwrap_or("");
        let passed = p.n(200) > 0;
        if role.contains("meant blocked") && passed {
            missed.push(path.to_string());
        }
        if role.contains("legitimate") && !passed {
            over.push(path.to_string());
        }
    }
    let text = format!(
        "reached the app although meant blocked: {}; blocked although legitimate: {}",
        if missed.is_empty() {
            "none".into()
        } else {
            missed.join(", ")
        },
        if over.is_empty() {
            "none".into()
        } else {
            over.join(", ")
        }
    );
    (!missed.is_empty() || !over.is_empty(), text)
}
