//! Upstream checks: keep-alive pools that are not used or race Uvicorn's idle timeout,
//! `max_fails` that never sees the statuses Uvicorn answers with, retries of POSTs.

use super::{Assumptions, Finding, add, proxying_to};
use crate::audit::finding::Severity;
use crate::audit::model::{Model, level};
use crate::audit::source::Node;
use proxylab_proxy::conf::values::parse_time;
use std::time::Duration;

pub(super) fn check(m: &Model<'_>, a: &Assumptions, out: &mut Vec<Finding>) {
    for u in &m.upstreams {
        keepalive(m, u, a, out);
        max_fails(m, u, out);
    }
    for l in &m.locs {
        if let Some(n) = l.value("proxy_next_upstream")
            && n.args.iter().any(|x| x == "non_idempotent")
        {
            out.push(
                Finding::new(
                    "retry-non-idempotent",
                    Severity::High,
                    &n.at(),
                    format!("{} retries POST/PATCH on another upstream", l.label()),
                )
                .detail(
                    "`non_idempotent` lets nginx send a POST that an upstream may already have \
                     processed to the next server: a timeout or reset becomes a duplicate \
                     order, payment or write.",
                )
                .probe("crash")
                .fix("remove `non_idempotent` from proxy_next_upstream", None),
            );
        }
    }
}

/// A WebSocket location: it forwards `Upgrade` and must send `Connection: upgrade`.
fn websocket(l: &crate::audit::model::Loc<'_>) -> bool {
    l.inherited("proxy_set_header")
        .is_some_and(|(_, v)| v.iter().any(|n| n.arg0().eq_ignore_ascii_case("upgrade")))
}

fn asks_keepalive(l: &crate::audit::model::Loc<'_>) -> bool {
    let v11 = l
        .value("proxy_http_version")
        .is_some_and(|n| n.arg0() == "1.1");
    let conn_empty = l.inherited("proxy_set_header").is_some_and(|(_, v)| {
        v.iter().any(|n| {
            n.arg0().eq_ignore_ascii_case("connection")
                && n.args.get(1).is_some_and(String::is_empty)
        })
    });
    v11 && conn_empty
}

fn keepalive(m: &Model<'_>, u: &Node, a: &Assumptions, out: &mut Vec<Finding>) {
    let locs = proxying_to(m, u);
    let ka = level(u, "keepalive").first().copied();
    let timeout = level(u, "keepalive_timeout")
        .first()
        .and_then(|n| parse_time(n.arg0(), false))
        .unwrap_or(Duration::from_secs(60));
    let secs = |d: Duration| format!("{}s", d.as_secs_f64());
    let up = secs(a.upstream_keepalive);
    let safe = Duration::from_millis((a.upstream_keepalive.as_millis() as u64 * 4 / 5).max(500));
    match ka {
        Some(k) => {
            for l in locs.iter().filter(|l| !asks_keepalive(l) && !websocket(l)) {
                out.push(
                    Finding::new(
                        "keepalive-without-http11",
                        Severity::Medium,
                        &l.node.at(),
                        format!("{} cannot reuse the `keepalive` pool of upstream {}", l.label(), u.arg0()),
                    )
                    .detail(format!(
                        "upstream {} keeps idle connections ({}), but {} sends HTTP/1.0 or \
                         Connection: close, so every request opens a new connection.",
                        u.arg0(),
                        k.at(),
                        l.label()
                    ))
                    .fix(
                        format!("add to {} ({}):\nproxy_http_version 1.1;\nproxy_set_header Connection \"\";", l.label(), l.node.at()),
                        None,
                    ),
                );
            }
            if timeout >= a.upstream_keepalive {
                out.push(race(
                    u,
                    &k.at(),
                    Severity::High,
                    &secs(timeout),
                    &up,
                    &secs(safe),
                    false,
                ));
            }
        }
        None if locs.iter().any(|l| asks_keepalive(l)) => {
            out.push(race(
                u,
                &u.at(),
                Severity::Medium,
                "60s",
                &up,
                &secs(safe),
                true,
            ));
        }
        None => {}
    }
}

fn race(
    u: &Node,
    at: &str,
    sev: Severity,
    ours: &str,
    up: &str,
    safe: &str,
    latent: bool,
) -> Finding {
    let mut add_lines = vec![format!("keepalive_timeout {safe};")];
    let (title, detail) = if latent {
        add_lines.insert(0, "keepalive 16;".into());
        (
            format!(
                "upstream {}: keep-alive asked for but off; turning it on races Uvicorn",
                u.arg0()
            ),
            format!(
                "Locations send `proxy_http_version 1.1` and `Connection \"\"` to keep upstream \
                 connections open, but upstream {} has no `keepalive`, so nginx closes every \
                 connection after one request. The moment `keepalive N` is added, idle \
                 connections are kept {ours} (nginx's default keepalive_timeout) while Uvicorn \
                 closes them after {up} (--timeout-keep-alive): a request sent as Uvicorn \
                 closes fails; nginx retries a GET, a POST becomes a 502.",
                u.arg0()
            ),
        )
    } else {
        (
            format!(
                "upstream {}: idle connections kept {ours}, Uvicorn closes them after {up}: keep-alive race",
                u.arg0()
            ),
            format!(
                "nginx reuses an idle upstream connection for up to {ours}; Uvicorn closes it \
                 after {up}. A request written as Uvicorn closes finds the connection gone: \
                 nginx retries a GET, but a POST already sent is answered 502 (sporadic, \
                 grows with traffic gaps near {up})."
            ),
        )
    };
    Finding::new("keepalive-race", sev, at, title)
        .detail(detail)
        .probe("keepalive-race")
        .fix(
            format!(
                "in upstream {} ({}), after its balancing method (least_conn, hash, ...):\n{}",
                u.arg0(),
                u.at(),
                add_lines.join("\n")
            ),
            Some(add(u.at(), add_lines)),
        )
}

fn max_fails(m: &Model<'_>, u: &Node, out: &mut Vec<Finding>) {
    let Some(s) = level(u, "server").into_iter().find(|s| {
        s.args
            .iter()
            .any(|a| a.starts_with("max_fails=") && a != "max_fails=0")
    }) else {
        return;
    };
    let locs = proxying_to(m, u);
    let blind: Vec<_> = locs
        .iter()
        .filter(|l| {
            !l.value("proxy_next_upstream")
                .is_some_and(|n| n.args.iter().any(|x| x == "http_503"))
        })
        .collect();
    let Some(first) = blind.first() else { return };
    let labels: Vec<String> = blind.iter().map(|l| l.label()).collect();
    let line = "proxy_next_upstream error timeout http_502 http_503;";
    out.push(
        Finding::new(
            "max-fails-ignores-503",
            Severity::Medium,
            &s.at(),
            format!(
                "upstream {}: max_fails never counts Uvicorn's 503s",
                u.arg0()
            ),
        )
        .detail(format!(
            "max_fails counts only the failures proxy_next_upstream names (default: error and \
             timeout). Uvicorn answers 503 when --limit-concurrency is reached and FastAPI 500 on \
             errors: a server answering those is never marked failed and keeps its full share \
             ({}). Adding http_503 has a cost the fix run shows when every instance is at its \
             limit: all servers are marked failed for fail_timeout and clients get 502 (no live \
             upstreams) instead of some 503s, so size --limit-concurrency and max_fails with it.",
            labels.join(", ")
        ))
        .probe("sick-instance")
        .fix(
            format!("add to {} ({}):\n{line}", first.label(), first.node.at()),
            Some(add(first.node.at(), vec![line.into()])),
        ),
    );
}
