//! Static files through both proxies (the `static_files` module behind our phases): the
//! article's `/static/` alias location with `expires` and `add_header`, `root`, index,
//! directory redirect, HEAD, conditional 304, ranges, 404/405, and traversal attempts; and a
//! location with neither `expires` nor `add_header` (our allocation-free direct path); and a
//! file that changes under the open files our proxy keeps per worker.

mod common;

use common::{both, parse, raw};
use std::time::Duration;

/// A response as compared: the head without Date, Server and Expires, the port replaced,
/// and the body (none for HEAD).
fn view(b: &[u8], port: u16, head_only: bool) -> String {
    let text = String::from_utf8_lossy(b).replace(&port.to_string(), "PORT");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let head: Vec<&str> = head
        .lines()
        .filter(|l| {
            !l.starts_with("Date: ") && !l.starts_with("Server: ") && !l.starts_with("Expires: ")
        })
        .collect();
    let body = if head_only { "" } else { body };
    format!("{}\n\n{}", head.join("\n"), body)
}

#[test]
fn static_files_match_nginx() {
    let files = tempfile::tempdir().expect("tempdir");
    let d = files.path();
    std::fs::create_dir_all(d.join("static/css")).expect("mkdir");
    std::fs::create_dir_all(d.join("www/sub")).expect("mkdir");
    std::fs::write(d.join("static/app.js"), "console.log(1);\n".repeat(100)).expect("write");
    std::fs::write(d.join("static/css/site.css"), "body{}\n").expect("write");
    std::fs::write(d.join("www/index.html"), "<h1>home</h1>\n").expect("write");
    std::fs::write(d.join("www/sub/page.txt"), "page\n").expect("write");
    std::fs::write(d.join("secret.txt"), "secret\n").expect("write");
    std::fs::create_dir_all(d.join("www/plain/dir")).expect("mkdir");
    let data: String = (0..500).map(|i| format!("{i:09}\n")).collect();
    std::fs::write(d.join("www/plain/data.txt"), &data).expect("write");
    std::fs::write(d.join("www/plain/UP.JS"), "x\n").expect("write");
    std::fs::write(d.join("www/plain/dir/index.html"), "<p>dir</p>\n").expect("write");
    let http = format!(
        "types {{ text/html html; text/css css; application/javascript js; text/plain txt; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; server_name example.com;\n\
           location /static/ {{ alias {dir}/static/; expires 30d; add_header Cache-Control \"public, immutable\"; }}\n\
           location /plain/ {{ root {dir}/www; }}\n\
           location / {{ root {dir}/www; add_header X-Always yes always; }} }}",
        dir = d.display()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let lm_probe = raw(
        nginx.addr(),
        b"HEAD /static/app.js HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let lm = String::from_utf8_lossy(&lm_probe)
        .lines()
        .find_map(|l| l.strip_prefix("Last-Modified: ").map(str::to_string))
        .unwrap_or_default();
    let plain_probe = raw(
        nginx.addr(),
        b"HEAD /plain/data.txt HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let plain_text = String::from_utf8_lossy(&plain_probe);
    let header = |name: &str| {
        plain_text
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::to_string))
            .unwrap_or_default()
    };
    let (plain_lm, plain_etag) = (header("Last-Modified: "), header("ETag: "));
    assert!(!plain_etag.is_empty(), "nginx sent no ETag: {plain_text}");
    let cases: Vec<String> = vec![
        "GET /static/app.js".into(),
        "HEAD /static/app.js".into(),
        "GET /static/css/site.css".into(),
        "GET /static/missing.js".into(),
        "GET /static/css".into(),
        "GET /".into(),
        "GET /sub".into(),
        "GET /sub/page.txt".into(),
        "GET /nothing".into(),
        "GET /static/../secret.txt".into(),
        "GET /static/%2e%2e/secret.txt".into(),
        "GET /%2e%2e/secret.txt".into(),
        "DELETE /sub/page.txt".into(),
        format!("GET /static/app.js\r\nIf-Modified-Since: {lm}"),
        "GET /static/app.js\r\nRange: bytes=0-9".into(),
        "GET /static/app.js\r\nRange: bytes=99999-".into(),
        // no expires / add_header: the direct path
        "GET /plain/data.txt".into(),
        "HEAD /plain/data.txt".into(),
        "GET /plain/UP.JS".into(),
        "GET /plain/dir/".into(),
        "GET /plain/dir".into(),
        "GET /plain/missing".into(),
        "POST /plain/data.txt".into(),
        format!("GET /plain/data.txt\r\nIf-Modified-Since: {plain_lm}"),
        format!("GET /plain/data.txt\r\nIf-None-Match: {plain_etag}"),
        "GET /plain/data.txt\r\nIf-None-Match: \"other\"".into(),
        format!("GET /plain/data.txt\r\nIf-Match: {plain_etag}"),
        "GET /plain/data.txt\r\nIf-Match: \"other\"".into(),
        "GET /plain/data.txt\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT".into(),
        "GET /plain/data.txt\r\nRange: bytes=10-29".into(),
        "GET /plain/data.txt\r\nRange: bytes=-15".into(),
        "GET /plain/data.txt\r\nRange: bytes=4990-".into(),
        "GET /plain/data.txt\r\nRange: bytes=0-1,10-12".into(),
        "GET /plain/data.txt\r\nRange: bytes=5000-".into(),
        format!("GET /plain/data.txt\r\nRange: bytes=0-3\r\nIf-Range: {plain_etag}"),
        "GET /plain/data.txt\r\nRange: bytes=0-3\r\nIf-Range: \"stale\"".into(),
    ];
    let mut bad = Vec::new();
    for c in &cases {
        let (line, extra) = c
            .split_once("\r\n")
            .map_or((c.as_str(), ""), |(a, b)| (a, b));
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("{extra}\r\n")
        };
        let req =
            format!("{line} HTTP/1.1\r\nHost: example.com\r\n{extra}Connection: close\r\n\r\n");
        let n = raw(nginx.addr(), req.as_bytes(), Duration::from_secs(10));
        let o = raw(ours.addr(), req.as_bytes(), Duration::from_secs(10));
        let head_only = line.starts_with("HEAD");
        let (vn, vo) = (
            view(&n, nginx.port(), head_only),
            view(&o, ours.addr().port(), head_only),
        );
        if vn != vo {
            let short = |v: &str| v.chars().take(400).collect::<String>();
            bad.push(format!(
                "{c}:\n--- nginx\n{}\n--- ours\n{}",
                short(&vn),
                short(&vo)
            ));
        }
        let _ = parse(&n);
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Our proxy keeps recently served files open per worker (`static_files/files.rs`) where nginx
/// opens each time: after the file is rewritten in place, replaced by a rename, removed and
/// created again, every answer (status, length, Last-Modified, ETag, body) is nginx's.
#[test]
fn kept_open_files_answer_as_nginx_when_the_file_changes() {
    let files = tempfile::tempdir().expect("tempdir");
    let d = files.path();
    let f = d.join("f.txt");
    std::fs::write(&f, "one\n").expect("write");
    let http = format!(
        "types {{ text/plain txt; }}\n\
         server {{ listen 127.0.0.1:{{PORT}}; location / {{ root {dir}; }} }}",
        dir = d.display()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let req = b"GET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let compare = |step: &str, want: u16| {
        let n = raw(nginx.addr(), req, Duration::from_secs(10));
        let o = raw(ours.addr(), req, Duration::from_secs(10));
        let (vn, vo) = (
            view(&n, nginx.port(), false),
            view(&o, ours.addr().port(), false),
        );
        assert_eq!(vo, vn, "{step}: ours vs nginx");
        let status = parse(&o).map(|(r, _)| r.status);
        assert_eq!(status, Some(want), "{step}: {vo}");
    };
    compare("first", 200);
    compare("again (kept open)", 200);
    std::fs::write(&f, "three three\n").expect("rewrite");
    compare("rewritten in place", 200);
    let g = d.join("g.txt");
    std::fs::write(&g, "replaced by rename, longer than before\n").expect("write");
    std::fs::rename(&g, &f).expect("rename");
    compare("renamed over", 200);
    std::fs::remove_file(&f).expect("remove");
    compare("removed", 404);
    std::fs::write(&f, "back\n").expect("write");
    compare("created again", 200);
}
