//! TLS and disclosure checks: TLSv1/TLSv1.1 enabled (explicitly or by 1.22's default),
//! `server_tokens` on.

use super::{Finding, add};
use crate::audit::finding::Severity;
use crate::audit::model::{Model, level};

pub(super) fn check(m: &Model<'_>, out: &mut Vec<Finding>) {
    for s in m.servers.iter().filter(|s| s.tls()) {
        let own = level(s.node, "ssl_protocols");
        let p = own.last().copied().or_else(|| {
            m.http
                .and_then(|h| level(h, "ssl_protocols").last().copied())
        });
        let (at, old): (String, Vec<String>) = match p {
            Some(n) => (
                n.at(),
                n.args
                    .iter()
                    .filter(|a| *a == "TLSv1" || *a == "TLSv1.1" || *a == "SSLv3")
                    .cloned()
                    .collect(),
            ),
            None => (s.node.at(), vec!["TLSv1".into(), "TLSv1.1".into()]),
        };
        if old.is_empty() {
            continue;
        }
        let name = s.names.first().cloned().unwrap_or_default();
        out.push(
            Finding::new(
                "tls-old-protocols",
                Severity::Medium,
                &at,
                format!("server {name}: {} enabled", old.join(" and ")),
            )
            .detail(if p.is_none() {
                "No ssl_protocols: nginx 1.22's default is TLSv1 TLSv1.1 TLSv1.2 (TLSv1.3 with OpenSSL 1.1.1). TLSv1.0/1.1 are deprecated (RFC 8996) and fail PCI DSS and most scanners."
            } else {
                "TLSv1.0/1.1 are deprecated (RFC 8996) and fail PCI DSS and most scanners."
            })
            .probe("tls-versions")
            .fix(
                format!("in server {name} ({}):\nssl_protocols TLSv1.2 TLSv1.3;", s.node.at()),
                Some(crate::audit::rewrite::Patch {
                    block: s.node.at(),
                    add: vec!["ssl_protocols TLSv1.2 TLSv1.3;".into()],
                    replace: vec!["ssl_protocols".into()],
                }),
            ),
        );
    }
    server_tokens(m, out);
}

fn server_tokens(m: &Model<'_>, out: &mut Vec<Finding>) {
    let Some(h) = m.http else { return };
    let at_http = level(h, "server_tokens").last().copied();
    if at_http.is_some_and(|n| n.arg0() == "off") {
        return;
    }
    let at = at_http.map(|n| n.at()).unwrap_or_else(|| h.at());
    out.push(
        Finding::new("server-tokens", Severity::Low, &at, "server_tokens on: every error page and Server header names the nginx version")
            .detail("`Server: nginx/1.22.1` and the version on 4xx/5xx pages tell a scanner which CVEs to try.")
            .fix(format!("in http ({}):\nserver_tokens off;", h.at()), Some(add(h.at(), vec!["server_tokens off;".into()]))),
    );
}
