//! limit_req through both proxies: back-to-back bursts (burst+1 pass), `limit_req_status`,
//! `dry_run`, the phase order (return before limit_req, limit_req before deny) and
//! `$limit_req_status` in the access log.

mod common;

use common::{both, log_lines, request};

#[test]
fn limit_req_decisions_match_nginx() {
    let http = "log_format lr '$status $limit_req_status \"$request\"';\n\
        limit_req_zone $binary_remote_addr zone=a:1m rate=2r/s;\n\
        limit_req_zone $binary_remote_addr zone=b:1m rate=2r/s;\n\
        limit_req_zone $binary_remote_addr zone=c:1m rate=2r/s;\n\
        limit_req_zone $binary_remote_addr zone=d:1m rate=2r/s;\n\
        server { listen 127.0.0.1:{PORT}; access_log {DIR}/access.log lr;\n\
          location /burst/ { limit_req zone=a burst=3 nodelay; proxy_pass http://127.0.0.1:{PORT2}/; }\n\
          location /status429/ { limit_req zone=b; limit_req_status 429; proxy_pass http://127.0.0.1:{PORT2}/; }\n\
          location /dry/ { limit_req zone=c; limit_req_dry_run on; proxy_pass http://127.0.0.1:{PORT2}/; }\n\
          location /ret/ { limit_req zone=d; return 200 r; }\n\
          location /deny/ { limit_req zone=d; deny all; } }\n\
        server { listen 127.0.0.1:{PORT2}; access_log off; return 200 ok; }";
    let Some((nginx, ours)) = both(http) else {
        return;
    };
    let mut logs = Vec::new();
    for (addr, read) in [
        (
            nginx.addr(),
            Box::new(|| nginx.access_log()) as Box<dyn Fn() -> String>,
        ),
        (ours.addr(), Box::new(|| ours.access_log())),
    ] {
        let mut n = 0;
        for (path, count) in [
            ("/burst/", 6),
            ("/status429/", 3),
            ("/dry/", 3),
            ("/ret/", 3),
            ("/deny/", 3),
        ] {
            for _ in 0..count {
                request(addr, "GET", path, "", b"");
                n += 1;
            }
        }
        logs.push(log_lines(&*read, n));
    }
    assert_eq!(
        logs[0], logs[1],
        "\nnginx: {:#?}\nours: {:#?}",
        logs[0], logs[1]
    );
    assert_eq!(
        logs[1]
            .iter()
            .filter(|l| l.starts_with("200 PASSED \"GET /burst/"))
            .count(),
        4
    );
}
