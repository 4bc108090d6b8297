//! proxy_cache judged by real nginx on the wire: the same request sequences through nginx and
//! our proxy (each in front of its own counting origin), comparing `$upstream_cache_status`
//! (sent back as `X-Cache-Status`), status, body, and the number of requests each origin got:
//! fresh and expired entries, Set-Cookie / no-store / max-age, bypass, no_cache, min_uses,
//! stale answers on error and on 500, UPDATING, background update, revalidation with 304,
//! the lock with concurrent misses, chunked bodies; conditional and range requests answered
//! from the cache (304, 412, 206 single and multipart, 416, If-Range), whole heads compared.
//! Expiry is time itself: the tests wait past a 1 s validity.

mod cache_support;
mod common;

use cache_support::Origin;
use common::{Ours, conf, request, wait_until};
use proxylab_testkit::Nginx;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

const HTTP: &str = "proxy_cache_path {DIR}/cache levels=1:2 keys_zone=c:1m;\n\
  proxy_cache_path {DIR}/cache2 keys_zone=d:1m;\n\
  server { listen 127.0.0.1:{PORT};\n\
    add_header X-Cache-Status $upstream_cache_status always;\n\
    proxy_cache c; proxy_cache_valid 200 1s;\n\
    location / { proxy_pass http://ORIGIN; }\n\
    location /bypass { proxy_cache_key $uri; proxy_cache_bypass $arg_nocache;\n\
      proxy_no_cache $arg_nostore; proxy_pass http://ORIGIN; }\n\
    location /min { proxy_cache_min_uses 2; proxy_pass http://ORIGIN; }\n\
    location /stale { proxy_cache_use_stale error timeout http_500; proxy_pass http://ORIGIN; }\n\
    location /upd/ { proxy_cache_use_stale updating; proxy_pass http://ORIGIN/slow/; }\n\
    location /bg/ { proxy_cache_use_stale updating; proxy_cache_background_update on;\n\
      proxy_pass http://ORIGIN/slow/; }\n\
    location /lm { proxy_cache_revalidate on; proxy_pass http://ORIGIN; }\n\
    location /lock/ { proxy_cache_lock on; proxy_pass http://ORIGIN/slow/; }\n\
    location /nolock/ { proxy_pass http://ORIGIN/slow2/; }\n\
    location /ranges { proxy_cache_valid 200 10m; proxy_pass http://ORIGIN; }\n\
    location /lm10 { proxy_cache_valid 200 10m; proxy_pass http://ORIGIN; }\n\
    location /e/any/ { proxy_cache_valid any 10m; proxy_pass http://ORIGIN/; }\n\
    location /e/def/ { proxy_cache_valid 10m; proxy_pass http://ORIGIN/; }\n\
    location /e/404/ { proxy_cache_valid 200 10m; proxy_cache_valid 404 10m;\n\
      proxy_pass http://ORIGIN/; }\n\
    location /v/ { proxy_cache $arg_z; proxy_cache_valid 200 10m; proxy_pass http://ORIGIN/; }\n\
    location /e/gw/ { proxy_cache_valid 502 504 2s; proxy_pass http://ORIGIN/; }\n\
  }";

/// nginx and our proxy, each in front of its own origin.
struct Pair {
    nginx: (Nginx, Origin),
    ours: (Ours, Origin),
}

fn pair() -> Option<Pair> {
    let on = Origin::start();
    let oo = Origin::start();
    let nginx = Nginx::start_full(&conf(&HTTP.replace("ORIGIN", &on.addr.to_string())))?;
    let ours = Ours::start_full(&conf(&HTTP.replace("ORIGIN", &oo.addr.to_string())));
    Some(Pair {
        nginx: (nginx, on),
        ours: (ours, oo),
    })
}

/// `STATUS CACHE-STATUS BODY` of one GET.
fn get(addr: SocketAddr, path: &str, extra: &str) -> String {
    let r = request(addr, "GET", path, extra, b"");
    format!(
        "{} {} {}",
        r.status,
        r.header("x-cache-status").unwrap_or("-"),
        if r.status == 200 {
            String::from_utf8_lossy(&r.body).into_owned()
        } else {
            String::new()
        }
    )
}

/// Runs `f` against both sides at once; returns (nginx's, ours).
fn on_both<T: Send>(p: &Pair, f: impl Fn(SocketAddr, &Origin) -> T + Sync) -> (T, T) {
    std::thread::scope(|s| {
        let n = s.spawn(|| f(p.nginx.0.addr(), &p.nginx.1));
        let o = f(p.ours.0.addr(), &p.ours.1);
        (n.join().expect("nginx side"), o)
    })
}

/// Past a 1 s validity (nginx compares whole seconds).
fn expire() {
    std::thread::sleep(Duration::from_millis(2100));
}

#[test]
fn fresh_expired_and_upstream_headers_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v = vec![get(a, "/a", ""), get(a, "/a", "")];
        for path in [
            "/cookie", "/cookie", "/nostore", "/nostore", "/maxage", "/maxage",
        ] {
            v.push(get(a, path, ""));
        }
        v.push(get(a, "/chunked", ""));
        let hit = request(a, "GET", "/chunked", "", b"");
        v.push(format!(
            "{:?} {:?}",
            hit.header("transfer-encoding"),
            hit.body
        ));
        let head = request(a, "HEAD", "/a", "", b"");
        v.push(head.header("x-cache-status").unwrap_or("-").to_string());
        expire();
        v.push(get(a, "/a", ""));
        v.push(get(a, "/a", ""));
        v.push(get(a, "/maxage", ""));
        for prefix in ["/a", "/cookie", "/nostore", "/maxage", "/chunked"] {
            v.push(format!("origin {prefix}: {}", origin.count(prefix)));
        }
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[0], "200 MISS /a #1");
    assert_eq!(o[1], "200 HIT /a #1");
    assert!(o.contains(&"200 EXPIRED /a #2".to_string()), "{o:#?}");
}

#[test]
fn vary_variants_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v: Vec<String> = ["a", "b", "a", "b", "c", "a"]
            .iter()
            .map(|x| get(a, "/vary", &format!("X-V: {x}\r\n")))
            .collect();
        v.push(get(a, "/vary", ""));
        v.push(format!("origin {}", origin.count("/vary")));
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[2], "200 HIT /vary #1 a");
}

#[test]
fn bypass_no_cache_and_min_uses_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let v = vec![
            get(a, "/bypass1?nocache=1", ""),
            get(a, "/bypass1", ""),
            get(a, "/bypass2?nostore=1", ""),
            get(a, "/bypass2", ""),
            get(a, "/bypass2", ""),
            get(a, "/min", ""),
            get(a, "/min", ""),
            get(a, "/min", ""),
            format!(
                "origin {} {}",
                origin.count("/bypass"),
                origin.count("/min")
            ),
        ];
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[0], "200 BYPASS /bypass1?nocache=1 #1");
    assert_eq!(o[1], "200 HIT /bypass1?nocache=1 #1");
}

#[test]
fn stale_answers_on_error_and_500_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v = vec![get(a, "/stale1", ""), get(a, "/stale2", "")];
        expire();
        origin.state.status500.store(true, Ordering::Relaxed);
        v.push(get(a, "/stale1", ""));
        origin.state.status500.store(false, Ordering::Relaxed);
        origin.state.down.store(true, Ordering::Relaxed);
        v.push(get(a, "/stale2", ""));
        v.push(get(a, "/stale3", ""));
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[2], "200 STALE /stale1 #1");
    assert_eq!(o[3], "200 STALE /stale2 #1");
}

#[test]
fn updating_background_update_and_revalidation_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v = vec![get(a, "/upd/u", ""), get(a, "/bg/b", ""), get(a, "/lm", "")];
        expire();
        // One request updates the expired entry (the origin takes 1 s); one more meanwhile.
        let (first, second) = std::thread::scope(|s| {
            let t = s.spawn(|| get(a, "/upd/u", ""));
            wait_until(Duration::from_secs(5), || origin.count("/slow/u") == 2);
            let second = get(a, "/upd/u", "");
            (t.join().expect("first"), second)
        });
        v.extend([first, second, get(a, "/upd/u", "")]);
        v.push(get(a, "/bg/b", ""));
        wait_until(Duration::from_secs(5), || origin.count("/slow/b") == 2);
        std::thread::sleep(Duration::from_millis(1500));
        v.push(get(a, "/bg/b", ""));
        v.push(get(a, "/lm", ""));
        v.push(get(a, "/lm", ""));
        let conditional: Vec<String> = origin
            .heads()
            .iter()
            .filter(|h| h.starts_with("GET /lm"))
            .map(|h| {
                h.lines()
                    .filter(|l| l.to_ascii_lowercase().starts_with("if-"))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        v.push(format!("conditional {conditional:?}"));
        v.push(format!(
            "origin {} {}",
            origin.count("/slow"),
            origin.count("/lm")
        ));
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[4], "200 UPDATING /slow/u #1");
}

#[test]
fn lock_sends_one_request_for_concurrent_misses_as_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut out = Vec::new();
        for path in ["/lock/k", "/nolock/k"] {
            let mut got: Vec<String> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..5).map(|_| s.spawn(|| get(a, path, ""))).collect();
                hs.into_iter().map(|h| h.join().expect("client")).collect()
            });
            got.sort();
            out.push(format!("{got:?}"));
        }
        out.push(format!(
            "origin {} {}",
            origin.count("/slow/k"),
            origin.count("/slow2/k")
        ));
        out
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert!(
        o[0].contains("MISS") && o[0].matches("HIT").count() == 4,
        "{o:#?}"
    );
}

/// A HEAD's head lines but Date and Server.
fn head_lines(addr: SocketAddr, path: &str, extra: &str) -> String {
    let req = format!("HEAD {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
    let raw = common::raw(addr, req.as_bytes(), Duration::from_secs(10));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let lines: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.starts_with("Server:") && !l.starts_with("Date:"))
        .collect();
    lines.join("|")
}

/// Status, every header but Date/Server (the multipart boundary masked) and the body.
fn whole(addr: SocketAddr, method: &str, path: &str, extra: &str) -> String {
    if method == "HEAD" {
        return head_lines(addr, path, extra);
    }
    let r = request(addr, method, path, extra, b"");
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let boundary = r
        .header("content-type")
        .and_then(|c| c.split("boundary=").nth(1))
        .map(str::to_string);
    let norm = |s: &str| match &boundary {
        Some(b) => s.replace(b.as_str(), "BOUNDARY"),
        None => s.to_string(),
    };
    format!(
        "{} {} {:?} {:?}",
        r.status,
        r.reason,
        r.comparable_headers()
            .iter()
            .map(|(n, v)| format!("{n}: {}", norm(v)))
            .collect::<Vec<_>>(),
        norm(&body)
    )
}

#[test]
fn conditional_and_range_requests_from_the_cache_match_nginx() {
    let Some(p) = pair() else { return };
    const LM: &str = "Mon, 07 Dec 2026 10:00:00 GMT";
    let (n, o) = on_both(&p, |a, origin| {
        let cases: Vec<(&str, &str, String)> = vec![
            ("GET", "/ranges1", "Range: bytes=0-3\r\n".into()),
            ("GET", "/ranges1", "Range: bytes=0-3\r\n".into()),
            ("GET", "/ranges1", String::new()),
            ("GET", "/ranges1", "Range: bytes=0-1,4-5\r\n".into()),
            ("GET", "/ranges1", "Range: bytes=-3\r\n".into()),
            ("GET", "/ranges1", "Range: bytes=100-200\r\n".into()),
            ("GET", "/ranges1", "If-None-Match: \"v1\"\r\n".into()),
            ("GET", "/ranges1", "If-None-Match: \"v2\"\r\n".into()),
            ("GET", "/ranges1", format!("If-Modified-Since: {LM}\r\n")),
            ("GET", "/ranges1", "If-Match: \"zz\"\r\n".into()),
            ("GET", "/ranges1", format!("If-Unmodified-Since: {LM}\r\n")),
            (
                "GET",
                "/ranges1",
                "If-Range: \"v1\"\r\nRange: bytes=2-4\r\n".into(),
            ),
            (
                "GET",
                "/ranges1",
                "If-Range: \"v0\"\r\nRange: bytes=2-4\r\n".into(),
            ),
            ("HEAD", "/ranges1", "Range: bytes=0-3\r\n".into()),
            // a miss being stored: one range at most, conditionals answered
            ("GET", "/ranges2", "Range: bytes=0-1,4-5\r\n".into()),
            ("GET", "/ranges3", "If-None-Match: \"v1\"\r\n".into()),
            ("GET", "/ranges4", "Range: bytes=1-2\r\n".into()),
            // no Accept-Ranges from the upstream: no ranges; conditionals still
            ("GET", "/lm10", String::new()),
            ("GET", "/lm10", "Range: bytes=0-3\r\n".into()),
            ("GET", "/lm10", "If-None-Match: \"v1\"\r\n".into()),
            // not stored (Set-Cookie): passed as the upstream sent it
            (
                "GET",
                "/cookie-r",
                "If-None-Match: \"v1\"\r\nRange: bytes=0-1\r\n".into(),
            ),
            (
                "GET",
                "/ranges1",
                "Range: bytes=0-1\r\nAccept-Encoding: gzip\r\n".into(),
            ),
        ];
        let mut v: Vec<String> = cases
            .iter()
            .map(|(m, path, extra)| format!("{m} {path} {extra:?} -> {}", whole(a, m, path, extra)))
            .collect();
        v.push(format!(
            "origin {} {}",
            origin.count("/ranges"),
            origin.count("/lm10")
        ));
        v
    });
    for (a, b) in n.iter().zip(&o) {
        assert_eq!(a, b, "\nnginx: {n:#?}\nours: {o:#?}");
    }
    assert_eq!(n.len(), o.len());
    assert!(o[0].contains("-> 206 "), "{o:#?}");
}

#[test]
fn cached_error_statuses_match_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v = Vec::new();
        // statuses the upstream sent: stored by proxy_cache_valid for them (`any`, or a
        // list); without codes only 200 301 302
        for path in [
            "/e/any/missing1",
            "/e/any/missing1",
            "/e/any/oops1",
            "/e/any/oops1",
            "/e/def/missing2",
            "/e/def/missing2",
            "/e/404/missing3",
            "/e/404/missing3",
            "/e/404/oops3",
            "/e/404/oops3",
        ] {
            v.push(format!("{path} {}", get(a, path, "")));
        }
        v.push(format!(
            "origin {} {}",
            origin.count("/missing"),
            origin.count("/oops")
        ));
        // no answer from the upstream: the 502 is kept in the index (no file) while
        // proxy_cache_valid for 502 allows, then the key starts anew
        origin.state.down.store(true, Ordering::Relaxed);
        for path in [
            "/e/gw/x", "/e/gw/x", "/e/any/y", "/e/any/y", "/e/def/z", "/e/def/z",
        ] {
            v.push(format!("{path} {}", get(a, path, "")));
        }
        v.push(format!(
            "origin {} {} {}",
            origin.count("/x"),
            origin.count("/y"),
            origin.count("/z")
        ));
        origin.state.down.store(false, Ordering::Relaxed);
        v.push(format!("/e/gw/x {}", get(a, "/e/gw/x", "")));
        expire();
        v.push(format!("/e/gw/x {}", get(a, "/e/gw/x", "")));
        v.push(format!("origin {}", origin.count("/x")));
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert!(o.iter().any(|l| l == "/e/gw/x 502 HIT "), "{o:#?}");
}

#[test]
fn proxy_cache_with_variables_matches_nginx() {
    let Some(p) = pair() else { return };
    let (n, o) = on_both(&p, |a, origin| {
        let mut v: Vec<String> = [
            "/v/a?z=c",
            "/v/a?z=c",
            "/v/a?z=d",
            "/v/a?z=d",
            "/v/a?z=",
            "/v/a?z=off",
            "/v/a",
            "/v/a?z=nope",
        ]
        .iter()
        .map(|path| format!("{path} {}", get(a, path, "")))
        .collect();
        v.push(format!("origin {}", origin.count("/a")));
        v
    });
    assert_eq!(n, o, "\nnginx: {n:#?}\nours: {o:#?}");
    assert_eq!(o[1], "/v/a?z=c 200 HIT /a?z=c #1");
    let log = |text: String| text.contains("cache \"nope\" not found");
    assert!(log(p.nginx.0.error_log()) && log(p.ours.0.error_log()));
}
