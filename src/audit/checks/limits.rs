//! Limit checks: `limit_req` answering 503 (not 429), `client_max_body_size` set in some
//! locations only, `proxy_buffer_size` against large upstream headers, `worker_connections`
//! against the open-file limit.

use super::{Assumptions, Finding, add};
use crate::audit::finding::Severity;
use crate::audit::model::Model;
use proxylab_proxy::conf::values::{parse_number, parse_size};

pub(super) fn check(m: &Model<'_>, a: &Assumptions, out: &mut Vec<Finding>) {
    limit_req_status(m, out);
    body_size(m, out);
    buffer_size(m, out);
    worker_connections(m, a, out);
}

fn limit_req_status(m: &Model<'_>, out: &mut Vec<Finding>) {
    for l in &m.locs {
        let Some((_, lr)) = l.inherited("limit_req") else {
            continue;
        };
        if l.value("limit_req_status").is_some() {
            continue;
        }
        let at = lr[0].at();
        out.push(
            Finding::new(
                "limit-req-503",
                Severity::Medium,
                &at,
                format!("{}: requests over the limit get 503, not 429", l.label()),
            )
            .detail(
                "limit_req rejects with limit_req_status, 503 by default. Clients, SDKs and \
                 load balancers read 503 as \"the server is down\" (retry elsewhere, alert, \
                 mark unhealthy) instead of 429 \"slow down\"; dashboards count a rate limit as \
                 an outage.",
            )
            .probe("spike")
            .fix(
                format!(
                    "add to {} ({}):\nlimit_req_status 429;",
                    l.label(),
                    l.node.at()
                ),
                Some(add(l.node.at(), vec!["limit_req_status 429;".into()])),
            ),
        );
    }
}

fn body_size(m: &Model<'_>, out: &mut Vec<Finding>) {
    let setters: Vec<_> = m
        .locs
        .iter()
        .filter(|l| !l.own("client_max_body_size").is_empty())
        .collect();
    let Some(s) = setters.first() else { return };
    let others: Vec<String> = m
        .locs
        .iter()
        .filter(|l| l.proxy_pass().is_some() && l.value("client_max_body_size").is_none())
        .map(|l| l.label())
        .collect();
    if others.is_empty() {
        return;
    }
    let n = s.own("client_max_body_size")[0];
    out.push(
        Finding::new(
            "body-size-one-location",
            Severity::Low,
            &n.at(),
            format!("client_max_body_size {} applies to {} only; {} keep the 1m default", n.arg0(), s.label(), others.join(", ")),
        )
        .detail("An upload above 1 MB to any other proxied location is answered 413 by nginx before the app sees it.")
        .probe("body-size"),
    );
}

fn buffer_size(m: &Model<'_>, out: &mut Vec<Finding>) {
    for l in m.locs.iter().filter(|l| l.proxy_pass().is_some()) {
        let Some(n) = l.value("proxy_buffer_size") else {
            continue;
        };
        if parse_size(n.arg0()).is_some_and(|b| b <= 4096) {
            out.push(
                Finding::new(
                    "proxy-buffer-size",
                    Severity::Low,
                    &n.at(),
                    format!(
                        "{}: upstream response headers above {} are a 502",
                        l.label(),
                        n.arg0()
                    ),
                )
                .detail(
                    "The whole upstream response head must fit proxy_buffer_size: a few large \
                     Set-Cookie, JWT or Content-Security-Policy headers pass 4k, and nginx \
                     answers 502 (\"upstream sent too big header\").",
                )
                .probe("big-headers")
                .fix(
                    format!("in {} ({}):\nproxy_buffer_size 16k;", l.label(), n.at()),
                    Some(crate::audit::rewrite::Patch {
                        block: l.node.at(),
                        add: vec![
                            "proxy_buffer_size 16k;".into(),
                            "proxy_busy_buffers_size 24k;".into(),
                        ],
                        replace: vec!["proxy_buffer_size".into(), "proxy_busy_buffers_size".into()],
                    }),
                ),
            );
        }
    }
}

fn worker_connections(m: &Model<'_>, a: &Assumptions, out: &mut Vec<Finding>) {
    let wc_node = m.events.and_then(|e| {
        crate::audit::model::level(e, "worker_connections")
            .into_iter()
            .last()
    });
    let wc = wc_node.and_then(|n| parse_number(n.arg0())).unwrap_or(512);
    let limit = m
        .main_value("worker_rlimit_nofile")
        .and_then(|n| parse_number(n.arg0()))
        .unwrap_or(a.nofile);
    let at = wc_node.or(m.events).map(|n| n.at());
    let Some(at) = at else { return };
    let proxies = m.locs.iter().any(|l| l.proxy_pass().is_some());
    let need = if proxies { wc * 2 } else { wc };
    if need <= limit {
        return;
    }
    let sev = if wc > limit {
        Severity::Medium
    } else {
        Severity::Low
    };
    out.push(
        Finding::new(
            "worker-connections-nofile",
            sev,
            &at,
            format!("worker_connections {wc} needs {need} open files; the limit is {limit}"),
        )
        .detail(format!(
            "Each client connection is a file, and a proxied one a second file to the upstream. \
             nginx under systemd gets a soft limit of 1024 open files unless LimitNOFILE or \
             worker_rlimit_nofile raises it. Past {limit} open files accept() and connect() fail with EMFILE (\"Too many open \
             files\"): new clients are refused while the server has CPU to spare."
        ))
        .probe("connections")
        .fix(format!("in the main context:\nworker_rlimit_nofile {};", need.max(1024) * 2), None),
    );
}
