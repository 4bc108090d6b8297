//! Per probe: did the run go wrong for clients (in a way the config can change), and the
//! one-line conclusion that says what happened.

use super::load::Pop;
use super::scenario::Case;
use super::tls::HELLOS;
use std::collections::BTreeMap;

/// Whether the case went wrong for clients, and the one-line conclusion.
pub fn conclude(
    k: &Case,
    pops: &BTreeMap<String, Pop>,
    all: &Pop,
    served: &BTreeMap<String, u64>,
) -> (bool, String) {
    let empty = Pop::default();
    let get = |n: &str| pops.get(n).unwrap_or(&empty);
    match k.probe.as_str() {
        "spike" => (
            all.n(503) > 0,
            format!("over the limit: {} × 503, {} × 429", all.n(503), all.n(429)),
        ),
        "crash" => crash(get("get"), get("post")),
        "sick-instance" => sick(get("get"), get("post")),
        "slow-instance" => slow(k, get("get"), served),
        "upstream-503" => (
            all.range(500, 599) > 0,
            format!(
                "{} × 503 from Uvicorn and {} × 502 (no live upstreams) reached the clients",
                all.n(503),
                all.n(502)
            ),
        ),
        "hung" => hung(all),
        "keepalive-race" => (
            all.n(502) > 0,
            format!(
                "{} × 502 on POST: requests written on kept upstream connections the upstream had just closed",
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
        "headers" => (
            all.n(412) > 0,
            format!(
                "{} × 412 (the app did not get {}), {} × 2xx",
                all.n(412),
                k.note("required").unwrap_or(""),
                all.range(200, 299)
            ),
        ),
        "redirect" => (
            all.range(300, 399) == 0,
            format!("{} redirects", all.range(300, 399)),
        ),
        "websocket-idle" => websocket(k, get("idle")),
        "cache-control" => cache_control(get("get")),
        "response-headers" => response_headers(k, get("get")),
        "alias-traversal" => alias_traversal(get("up")),
        "tls-versions" => tls_versions(k, pops),
        _ => normal(pops, all),
    }
}

/// A hung instance: requests that waited until a timeout (read timeouts and 504s).
fn hung(all: &Pop) -> (bool, String) {
    let t = all.errors.get("read_timeout").copied().unwrap_or(0) + all.n(504);
    (
        t > 0,
        format!("{t} requests waited for the stopped instance until a timeout"),
    )
}

/// `alias` without its trailing slash: was the file one directory above the alias served.
fn alias_traversal(up: &Pop) -> (bool, String) {
    let served = up.range(200, 299);
    let how = if served > 0 {
        "the file was read through the location's missing slash, one directory above the alias"
    } else {
        "not served"
    };
    (served > 0, format!("{served} × 2xx: {how}"))
}

/// Probes whose question is "do normal clients still get through".
fn normal(pops: &BTreeMap<String, Pop>, all: &Pop) -> (bool, String) {
    let p = pops.get("normal").unwrap_or(all);
    if p.finished() == 0 && p.sent > 0 {
        // Nothing came back within the run: the clients were starved, not served.
        return (
            true,
            format!("none of {} normal requests finished within the run", p.sent),
        );
    }
    let b = p.range(500, 599) + p.failures();
    (
        b as f64 / p.finished().max(1) as f64 > 0.01,
        format!("{b} of {} normal requests failed", p.finished()),
    )
}

fn crash(g: &Pop, p: &Pop) -> (bool, String) {
    let gbad = g.range(500, 599) + g.failures();
    let pbad = p.range(500, 599) + p.failures();
    // POSTs already sent to the instance that died cannot be retried (nginx neither): only
    // failed GETs are the config's doing (proxy_next_upstream).
    (
        gbad > 0,
        format!(
            "GETs failed: {gbad} (nginx retries them on the next server); POSTs failed: {pbad} (sent to the killed instance, not retried by design)"
        ),
    )
}

fn sick(g: &Pop, p: &Pop) -> (bool, String) {
    let gbad = g.range(500, 599) + g.failures();
    let pbad = p.range(500, 599) + p.failures();
    (
        gbad as f64 / g.finished().max(1) as f64 > 0.01,
        format!(
            "the sick instance's 503s reached clients: {gbad} of {} GETs, {pbad} of {} POSTs",
            g.finished(),
            p.finished()
        ),
    )
}

/// The slow instance's share of the requests (from the fake upstreams' counters) against
/// its fair share 1/N: bad when the balancer still gave it half its fair share or more, as
/// round robin does. Without counters (real uvicorn): bad when the GETs' p90 waited for it.
fn slow(k: &Case, g: &Pop, served: &BTreeMap<String, u64>) -> (bool, String) {
    let by = super::pool::SLOW_BY_MS as f64;
    let pool = k.note("pool").unwrap_or("");
    let mine: Vec<u64> = served
        .iter()
        .filter(|(i, _)| i.rsplit_once('.').is_some_and(|(p, _)| p == pool))
        .map(|(_, n)| *n)
        .collect();
    let total: u64 = mine.iter().sum();
    let slow = served.get(&format!("{pool}.0")).copied().unwrap_or(0);
    let how = k.note("balancer").unwrap_or("round robin");
    let lat = format!(
        "GETs p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms",
        g.p50_ms, g.p90_ms, g.p99_ms
    );
    if total == 0 || mine.len() < 2 {
        let bad = g.finished() > 0 && g.p90_ms >= by / 2.0;
        let share = if bad { "more" } else { "less" };
        return (
            bad,
            format!(
                "{lat} with {pool}.0 slow (+{by:.0} ms per response, {how}): {share} than a tenth of the users waited for it"
            ),
        );
    }
    let share = slow as f64 / total as f64;
    let fair = 1.0 / mine.len() as f64;
    (
        share >= fair / 2.0,
        format!(
            "{pool}.0, slow (+{by:.0} ms per response), answered {slow} of {total} requests ({:.0} %; its fair share {:.0} %) under {how}: {lat}",
            share * 100.0,
            fair * 100.0
        ),
    )
}

/// Cache-Control lines per response: bad when a response carries more than one.
pub fn cache_control(p: &Pop) -> (bool, String) {
    let ok = p.range(200, 399);
    let lines = p.header_lines("cache-control");
    if ok == 0 {
        return (
            false,
            format!(
                "no 2xx/3xx response to count Cache-Control on ({})",
                p.describe()
            ),
        );
    }
    let values: Vec<String> = p
        .headers
        .iter()
        .filter_map(|(k, n)| Some(format!("{} ×{n}", k.strip_prefix("cache-control: ")?)))
        .collect();
    (
        lines > ok,
        format!(
            "{} Cache-Control line(s) per response ({lines} in {ok} responses: {})",
            per_response(lines, ok),
            values.join(", ")
        ),
    )
}

/// The headers a location should send (the ones its own add_header drops) on every 2xx/3xx
/// response: bad when one is missing.
fn response_headers(k: &Case, p: &Pop) -> (bool, String) {
    let ok = p.range(200, 399);
    if ok == 0 {
        return (false, format!("no 2xx/3xx response ({})", p.describe()));
    }
    let want: Vec<&str> = k
        .note("expected")
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
        .collect();
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|n| p.header_lines(n) < ok)
        .collect();
    let text = if missing.is_empty() {
        format!("{} on every one of {ok} responses", want.join(", "))
    } else {
        format!("missing from the {ok} responses: {}", missing.join(", "))
    };
    (!missing.is_empty(), text)
}

/// `2` for 10 lines in 5 responses, `1.4` for 7 in 5.
pub fn per_response(lines: u64, responses: u64) -> String {
    let r = lines as f64 / responses.max(1) as f64;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

fn websocket(k: &Case, p: &Pop) -> (bool, String) {
    let up = p.n(101);
    let refused = p.finished() - up;
    let closed: u64 = p
        .outcomes
        .iter()
        .filter(|(o, _)| o.as_str() != "held_to_end" && o.as_str() != "cut_at_run_end")
        .map(|(_, n)| n)
        .sum();
    let t = k.note("read_timeout").unwrap_or("60");
    let text = format!(
        "{up} upgraded (101), {refused} not; {closed} closed while idle within {:.0} s (proxy_read_timeout {t} s; the upstream pings every 20 s)",
        k.duration
    );
    (refused > 0 || closed > 0, text)
}

fn tls_offered(p: Option<&Pop>) -> Option<String> {
    p?.outcomes
        .keys()
        .find_map(|o| o.strip_prefix("accepted_").map(str::to_string))
}

/// Which versions were offered, for comparing the proxies (cipher classes differ by design:
/// rustls has no CBC or static-RSA suites).
pub fn tls_signature(pops: &BTreeMap<String, Pop>) -> String {
    HELLOS[..4]
        .iter()
        .map(|(n, _, v, _)| {
            let want = format!("TLSv{}_", v.trim_end_matches(".0"));
            let ok = tls_offered(pops.get(*n)).is_some_and(|o| o.starts_with(&want));
            format!("{v}={}", if ok { "offered" } else { "refused" })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tls_versions(k: &Case, pops: &BTreeMap<String, Pop>) -> (bool, String) {
    let sig = tls_signature(pops);
    let old = sig.contains("1.0=offered") || sig.contains("1.1=offered");
    let legacy = tls_offered(pops.get("legacy")).is_some();
    let weak: Vec<&str> = ["cbc", "rsa"]
        .into_iter()
        .filter(|n| tls_offered(pops.get(*n)).is_some())
        .collect();
    let configured = k.note("protocols").unwrap_or("");
    let mut text = format!("{sig}; configured: {configured}");
    if !old && (configured.contains("TLSv1 ") || configured.contains("TLSv1.1")) {
        text.push_str("; TLSv1/1.1 are configured but this build's TLS library refuses them (OpenSSL 3 at its default security level; an nginx on OpenSSL 1.1.1 offers them)");
    }
    if legacy {
        text.push_str("; 3DES/RC4/NULL/EXPORT/anonymous suites accepted");
    }
    if !weak.is_empty() {
        text.push_str(&format!("; also accepted on TLS 1.2: {}", weak.join(", ")));
    }
    (old || legacy, text)
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
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    (
        !missed.is_empty() || !over.is_empty(),
        format!(
            "reached the app although meant blocked: {}; blocked although legitimate: {}",
            list(&missed),
            list(&over)
        ),
    )
}
