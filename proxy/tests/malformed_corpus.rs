//! The malformed-request corpus judged by real nginx: every case of
//! `proxy/tests/corpus/malformed/*.toml` is sent raw on its own connection to nginx and to our
//! proxy (same config, each in front of its own recording upstream); the client's answer
//! (statuses, connection left open or closed) and what reached the upstream (each request's
//! line, headers, framing and body) must be the same.
//!
//! A case whose outcome differs must carry a `known` reason in its file (and in
//! docs/hardening.md); the test fails on an unlisted difference, on a listed one that is gone,
//! and always when ours forwards more requests than nginx, forwards one nginx refused, or
//! frames a forwarded body differently (smuggling-class defects, never acceptable as known). `PROXYLAB_CORPUS_FILTER=text` runs only the cases whose name contains
//! `text`; `PROXYLAB_CORPUS_VERBOSE=1` prints every outcome.

mod common;
mod corpus_support;

use common::Ours;
use corpus_support::cases::{Case, load};
use corpus_support::probe::{Answer, send};
use corpus_support::recorder::Recorder;
use proxylab_testkit::Nginx;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Parallel lanes (one listening port and one recorder per lane and proxy).
const LANES: usize = 3;
const PORTS: [&str; LANES] = ["{PORT}", "{PORT2}", "{PORT3}"];
/// Each lane's second address (the same port): another default server.
const ALT: [u8; 4] = [127, 0, 0, 2];

/// The `http {}` body: per lane a default server proxying to the lane's recorder (raw target
/// under `/`, normalised target under `/n/`, guarded paths, a websocket location, a small
/// body limit), a server without `merge_slashes`, and one answering by itself; on the lane's
/// second address ([`ALT`], cases with `to = "alt"`) the reverse: a default server without
/// `merge_slashes` and a named one with it.
fn lane_servers(port: &str, rec: SocketAddr) -> String {
    let alt = Ipv4Addr::from(ALT);
    let main = lane_main(port, rec);
    format!(
        "{main}\
         server {{ listen {alt}:{port}; server_name alt-off.test; merge_slashes off;\n\
           location / {{ proxy_pass http://{rec}/off/; }} }}\n\
         server {{ listen {alt}:{port}; server_name alt-on.test;\n\
           location / {{ proxy_pass http://{rec}/on/; }}\n\
           location = /a/b {{ return 403; }}\n\
           location /p/ {{ return 403; }} }}\n"
    )
}

/// The servers of a lane's first address (see [`lane_servers`]).
fn lane_main(port: &str, rec: SocketAddr) -> String {
    format!(
        "server {{ listen 127.0.0.1:{port}; server_name a.test localhost;\n\
           client_header_timeout 3s; client_body_timeout 3s;\n\
           location / {{ proxy_pass http://{rec}; }}\n\
           location /n/ {{ proxy_pass http://{rec}/n/; }}\n\
           location = /secret {{ return 403; }}\n\
           location /private/ {{ return 403; }}\n\
           location = /ws {{ proxy_pass http://{rec}; proxy_http_version 1.1;\n\
             proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection upgrade; }}\n\
           location /small/ {{ client_max_body_size 10; proxy_pass http://{rec}; }} }}\n\
         server {{ listen 127.0.0.1:{port}; server_name noms.test; merge_slashes off;\n\
           location / {{ proxy_pass http://{rec}/noms/; }} }}\n\
         server {{ listen 127.0.0.1:{port}; server_name other.test;\n\
           location / {{ return 200 \"other\\n\"; }} }}\n"
    )
}

fn config(recs: &[Recorder]) -> String {
    let body: String = PORTS
        .iter()
        .zip(recs)
        .map(|(p, r)| lane_servers(p, r.addr))
        .collect();
    common::conf(&body)
}

/// What one proxy did with one case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    answer: Answer,
    upstream: Vec<String>,
}

fn run_one(addr: SocketAddr, rec: &Recorder, case: &Case) -> Outcome {
    let answer = send(addr, &case.bytes);
    let port = rec.addr.to_string();
    let upstream = rec
        .take(Duration::from_secs(5))
        .into_iter()
        .map(|r| r.replace(&port, "REC"))
        .collect();
    Outcome { answer, upstream }
}

/// The framing and body of a recorded request (what a smuggling defect changes).
fn framing(rec: &str) -> Vec<&str> {
    rec.split(" | ").skip(2).collect()
}

/// A security defect: ours forwards more requests than nginx, forwards a request nginx
/// refused, or frames a forwarded request's body differently.
fn security(n: &Outcome, o: &Outcome) -> bool {
    o.upstream.len() > n.upstream.len()
        || o.upstream
            .iter()
            .zip(&n.upstream)
            .any(|(a, b)| framing(a) != framing(b))
}

/// The verdict on one case, or None when it passes.
fn judge(case: &Case, n: &Outcome, o: &Outcome) -> Option<String> {
    let detail = || format!("\n    nginx {n:?}\n    ours  {o:?}");
    if security(n, o) {
        return Some(format!(
            "SECURITY {}: ours forwards more, or frames differently, than nginx{}",
            case.name,
            detail()
        ));
    }
    match (n == o, &case.known) {
        (true, None) | (false, Some(_)) => None,
        (false, None) => Some(format!("UNLISTED difference {}:{}", case.name, detail())),
        (true, Some(why)) => Some(format!(
            "LISTED difference gone {} (was: {why}); remove `known`",
            case.name
        )),
    }
}

#[test]
fn malformed_requests_match_nginx() {
    let nrecs: Vec<Recorder> = (0..LANES).map(|_| Recorder::start()).collect();
    let orecs: Vec<Recorder> = (0..LANES).map(|_| Recorder::start()).collect();
    let Some(nginx) = Nginx::start_full(&config(&nrecs)) else {
        return;
    };
    let ours = Ours::start_full(&config(&orecs));
    let filter = std::env::var("PROXYLAB_CORPUS_FILTER").unwrap_or_default();
    let verbose = std::env::var_os("PROXYLAB_CORPUS_VERBOSE").is_some();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/malformed");
    let cases: Vec<Case> = load(&dir)
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    if filter.is_empty() {
        assert!(cases.len() >= 150, "corpus has {} cases", cases.len());
    }
    let (nports, oports) = (nginx.ports(), ours.ports);
    let verdicts: Vec<String> = std::thread::scope(|sc| {
        let lanes: Vec<_> = (0..LANES)
            .map(|lane| {
                let (nrec, orec) = (&nrecs[lane], &orecs[lane]);
                let mine: Vec<&Case> = cases.iter().skip(lane).step_by(LANES).collect();
                let (nport, oport) = (nports[lane], oports[lane]);
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for case in mine {
                        let ip = if case.alt { ALT } else { [127, 0, 0, 1] };
                        let naddr: SocketAddr = (ip, nport).into();
                        let oaddr: SocketAddr = (ip, oport).into();
                        let (n, o) = std::thread::scope(|s2| {
                            let n = s2.spawn(|| run_one(naddr, nrec, case));
                            let o = run_one(oaddr, orec, case);
                            (n.join().expect("nginx side"), o)
                        });
                        if verbose {
                            println!("{}\n    nginx {n:?}\n    ours  {o:?}", case.name);
                        }
                        out.extend(judge(case, &n, &o));
                    }
                    out
                })
            })
            .collect();
        lanes
            .into_iter()
            .flat_map(|h| h.join().expect("lane"))
            .collect()
    });
    println!(
        "corpus: {} cases, {} failing verdicts",
        cases.len(),
        verdicts.len()
    );
    assert!(verdicts.is_empty(), "\n{}", verdicts.join("\n"));
}
