//! gzip through both proxies, nginx as the judge: proxied responses (Content-Length, chunked
//! and close-delimited; by type, length, status, existing Content-Encoding, ETag and
//! Accept-Ranges), static files (ranges ignored when gzipped), `return` text and error
//! pages, `gzip_static` (`on`, `always`, with `gzip_vary`), and the request side:
//! `Accept-Encoding` variants (q=0, identity, `*`, case), HTTP/1.0, HEAD, `gzip_http_version`,
//! `gzip_disable` (msie6 and a regex), and `gzip_proxied` against `Via` with `Expires`,
//! `Cache-Control`, `ETag` and `Authorization`. Heads are compared line by line (Date and
//! Server aside); gzipped bodies are compared after decompression, byte for byte (the
//! compressed bytes themselves, and `$gzip_ratio`: `diff_gzip_bytes.rs`).

mod common;

use common::{both, parse, raw};
use std::io::{Read, Write};
use std::time::Duration;

/// A JSON-like text of about `n` bytes.
fn json(n: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item-{}\",\"ok\":true}},",
            i * 7 % 1000
        ));
        i += 1;
    }
    s.push_str("{}]");
    s
}

/// The canned upstream answer for `path` (the head lines after the status line, the body,
/// and how it is framed).
fn canned(path: &str) -> (u16, Vec<String>, Vec<u8>, &'static str) {
    let html = "<p>hello gzip</p>\n".repeat(300);
    let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let past = "Expires: Thu, 01 Jan 1970 00:00:01 GMT";
    let future = "Expires: Fri, 01 Jan 2100 00:00:00 GMT";
    let (code, head, body, framing) = match path {
        "/up/json" => (
            200,
            h(&["Content-Type: application/json"]),
            json(16384),
            "cl",
        ),
        "/up/html" => (
            200,
            h(&["Content-Type: text/html; charset=utf-8"]),
            html,
            "cl",
        ),
        "/up/css" => (200, h(&["Content-Type: text/css"]), html, "cl"),
        "/up/short" => (200, h(&["Content-Type: text/html"]), "x".repeat(99), "cl"),
        "/up/empty" => (200, h(&["Content-Type: text/html"]), String::new(), "cl"),
        "/up/emptych" => (
            200,
            h(&["Content-Type: text/html"]),
            String::new(),
            "chunked",
        ),
        "/up/edge" => (200, h(&["Content-Type: text/html"]), "y".repeat(100), "cl"),
        "/up/chunked" => (200, h(&["Content-Type: text/html"]), html, "chunked"),
        "/up/close" => (200, h(&["Content-Type: text/plain"]), html, "close"),
        "/up/etag" => (
            200,
            h(&[
                "Content-Type: text/html",
                "ETag: \"v1\"",
                "Accept-Ranges: bytes",
            ]),
            html,
            "cl",
        ),
        "/up/badetag" => (200, h(&["Content-Type: text/html", "ETag: v1"]), html, "cl"),
        "/up/weak" => (
            200,
            h(&["Content-Type: text/html", "ETag: W/\"v1\""]),
            html,
            "cl",
        ),
        "/up/encoded" => (
            200,
            h(&["Content-Type: text/html", "Content-Encoding: br"]),
            html,
            "cl",
        ),
        "/up/nocache" => (
            200,
            h(&[
                "Content-Type: text/html",
                "Cache-Control: max-age=0, no-cache",
            ]),
            html,
            "cl",
        ),
        "/up/public" => (
            200,
            h(&["Content-Type: text/html", "Cache-Control: public"]),
            html,
            "cl",
        ),
        "/up/expired" => (200, h(&["Content-Type: text/html", past]), html, "cl"),
        "/up/future" => (200, h(&["Content-Type: text/html", future]), html, "cl"),
        "/up/lm" => (
            200,
            h(&[
                "Content-Type: text/html",
                "Last-Modified: Thu, 01 Jan 2015 00:00:00 GMT",
            ]),
            html,
            "cl",
        ),
        "/up/missing" => (404, h(&["Content-Type: text/html"]), html, "cl"),
        "/up/forbidden" => (403, h(&["Content-Type: text/html"]), html, "chunked"),
        "/up/error" => (500, h(&["Content-Type: text/html"]), html, "cl"),
        "/up/created" => (201, h(&["Content-Type: text/html"]), html, "cl"),
        _ => (
            404,
            h(&["Content-Type: text/plain"]),
            "no route\n".into(),
            "cl",
        ),
    };
    (code, head, body.into_bytes(), framing)
}

/// The upstream (answers in [`answer`]): one canned answer per request, then close.
fn upstream() -> common::servers::Answering {
    common::servers::answering(answer)
}

fn answer(mut s: std::net::TcpStream) {
    s.set_nonblocking(false).ok();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (code, head, body, framing) = canned(&path);
    let mut out = format!("HTTP/1.1 {code} X\r\n");
    for l in head {
        out.push_str(&l);
        out.push_str("\r\n");
    }
    let mut bytes = match framing {
        "cl" => format!("{out}Content-Length: {}\r\n\r\n", body.len()).into_bytes(),
        "chunked" => format!("{out}Transfer-Encoding: chunked\r\n\r\n").into_bytes(),
        _ => format!("{out}Connection: close\r\n\r\n").into_bytes(),
    };
    if framing == "chunked" {
        for piece in body.chunks(1000) {
            bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            bytes.extend_from_slice(piece);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
    } else {
        bytes.extend_from_slice(&body);
    }
    let _ = s.write_all(&bytes);
}

/// A response as compared: head lines without Date and Server (port replaced), then the
/// body, gunzipped when `Content-Encoding: gzip` (an invalid stream shows as such).
fn view(b: &[u8], port: u16, head_only: bool) -> String {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return format!("no head: {:?}", String::from_utf8_lossy(b));
    };
    let head = String::from_utf8_lossy(&b[..end]).replace(&port.to_string(), "PORT");
    let lines: Vec<&str> = head
        .lines()
        .filter(|l| !l.starts_with("Date: ") && !l.starts_with("Server: "))
        .collect();
    let gz = lines.contains(&"Content-Encoding: gzip");
    let body = if head_only {
        String::new()
    } else if let Some((r, _)) = parse(b) {
        if gz {
            let mut v = Vec::new();
            match flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut v) {
                Ok(_) => format!("gunzipped {} bytes: {}", v.len(), digest(&v)),
                Err(e) => format!("invalid gzip ({e}), {} bytes", r.body.len()),
            }
        } else {
            format!("plain {} bytes: {}", r.body.len(), digest(&r.body))
        }
    } else {
        "unparsable body".into()
    };
    format!("{}\n\n{body}", lines.join("\n"))
}

/// A short fingerprint of a body (length and FNV-1a hash).
fn digest(b: &[u8]) -> String {
    let h = b.iter().fold(0xcbf29ce484222325u64, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x100000001b3)
    });
    format!("{:016x}", h)
}

/// Sends every case to both proxies; returns the differences.
fn compare(
    nginx: std::net::SocketAddr,
    ours: std::net::SocketAddr,
    cases: &[String],
) -> Vec<String> {
    let mut bad = Vec::new();
    for c in cases {
        let head_only = c.starts_with("HEAD");
        let n = raw(nginx, c.as_bytes(), Duration::from_secs(10));
        let o = raw(ours, c.as_bytes(), Duration::from_secs(10));
        let (vn, vo) = (
            view(&n, nginx.port(), head_only),
            view(&o, ours.port(), head_only),
        );
        if vn != vo {
            bad.push(format!("{c:?}:\n--- nginx\n{vn}\n--- ours\n{vo}"));
        }
    }
    bad
}

/// `METHOD PATH HTTP/1.x` with Host, Connection: close and `extra` header lines.
fn req(method: &str, path: &str, minor: u8, extra: &[&str]) -> String {
    let mut s = format!("{method} {path} HTTP/1.{minor}\r\nHost: example.com\r\n");
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("Connection: close\r\n\r\n");
    s
}

const GZ: &str = "Accept-Encoding: gzip, deflate";

#[test]
fn proxied_responses_are_gzipped_as_nginx_does() {
    let up = upstream();
    let http = format!(
        "gzip on; gzip_types application/json text/plain; gzip_min_length 100;\n\
         gzip_vary on; gzip_comp_level 5;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location /up/ {{ proxy_pass http://127.0.0.1:{p}; }}\n\
           location /via/ {{ proxy_pass http://127.0.0.1:{p}/up/;\n\
             gzip_proxied expired no-cache no_etag auth; }}\n\
           location /any/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_proxied any; }}\n\
           location /nolm/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_proxied no_last_modified; }}\n\
           location /off/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip off; }}\n\
           location /unbuf/ {{ proxy_pass http://127.0.0.1:{p}/up/; proxy_buffering off; }}\n\
           location /h10/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_http_version 1.0; }}\n\
           location /dis/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_disable msie6 \"^curl/\"; }}\n\
           location /star/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_types *; }}\n\
           location /zero/ {{ proxy_pass http://127.0.0.1:{p}/up/; gzip_min_length 0; }}\n\
         }}",
        p = up.port
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut cases = Vec::new();
    let paths = [
        "json",
        "html",
        "css",
        "short",
        "edge",
        "chunked",
        "close",
        "etag",
        "badetag",
        "weak",
        "encoded",
        "missing",
        "forbidden",
        "error",
        "created",
    ];
    for p in paths {
        cases.push(req("GET", &format!("/up/{p}"), 1, &[GZ]));
    }
    for ae in [
        "gzip",
        "gzip;q=0",
        "gzip; q=0.000",
        "GZIP;q=0.5",
        "identity",
        "*",
        "deflate, br",
        "br;q=1.0, gzip;q=0.001",
        "xgzip",
    ] {
        cases.push(req(
            "GET",
            "/up/html",
            1,
            &[&format!("Accept-Encoding: {ae}")],
        ));
    }
    cases.push(req("GET", "/up/html", 1, &[]));
    cases.push(req("HEAD", "/up/html", 1, &[GZ]));
    cases.push(req("GET", "/up/html", 0, &[GZ]));
    cases.push(req("GET", "/up/chunked", 0, &[GZ]));
    cases.push(req("GET", "/h10/html", 0, &[GZ]));
    cases.push(req("GET", "/h10/chunked", 0, &[GZ]));
    cases.push(req("GET", "/off/html", 1, &[GZ]));
    cases.push(req("GET", "/unbuf/chunked", 1, &[GZ]));
    cases.push(req("GET", "/star/css", 1, &[GZ]));
    // empty bodies: plain below gzip_min_length, an empty gzip stream at 0
    for path in ["/up/empty", "/zero/empty", "/zero/emptych"] {
        cases.push(req("GET", path, 1, &[GZ]));
        cases.push(req("GET", path, 0, &[GZ]));
        cases.push(req("HEAD", path, 1, &[GZ]));
    }
    let msie6 = "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)";
    let msie6sv1 = "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)";
    for ua in [
        msie6,
        msie6sv1,
        "User-Agent: curl/8.0",
        "User-Agent: Wget/1.0",
    ] {
        cases.push(req("GET", "/dis/html", 1, &[GZ, ua]));
    }
    let via = "Via: 1.1 cdn";
    for p in [
        "html", "expired", "future", "nocache", "public", "etag", "lm", "chunked",
    ] {
        cases.push(req("GET", &format!("/up/{p}"), 1, &[GZ, via]));
        cases.push(req("GET", &format!("/via/{p}"), 1, &[GZ, via]));
        cases.push(req("GET", &format!("/nolm/{p}"), 1, &[GZ, via]));
    }
    cases.push(req(
        "GET",
        "/via/public",
        1,
        &[GZ, via, "Authorization: Basic eDp5"],
    ));
    cases.push(req("GET", "/any/public", 1, &[GZ, via]));
    let bad = compare(nginx.addr(), ours.addr(), &cases);
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn static_files_and_own_answers_are_gzipped_as_nginx_does() {
    let files = tempfile::tempdir().expect("tempdir");
    let d = files.path();
    let page = "<li>static gzip</li>\n".repeat(400);
    std::fs::write(d.join("page.html"), &page).expect("write");
    std::fs::write(d.join("app.js"), "let x = 1;\n".repeat(500)).expect("write");
    std::fs::write(d.join("tiny.html"), "<b>x</b>\n").expect("write");
    std::fs::create_dir_all(d.join("pre")).expect("mkdir");
    std::fs::write(d.join("pre/app.js"), "plain();\n".repeat(300)).expect("write");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all("precompressed();\n".repeat(300).as_bytes())
        .expect("gzip");
    std::fs::write(d.join("pre/app.js.gz"), gz.finish().expect("gzip")).expect("write");
    std::fs::write(d.join("pre/only.js"), "only();\n".repeat(300)).expect("write");
    let http = format!(
        "types {{ text/html html; application/javascript js; }}\n\
         gzip on; gzip_vary on;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ root {dir}; }}\n\
           location /js/ {{ alias {dir}/; gzip_types application/javascript; expires 1h;\n\
             add_header X-Extra yes; }}\n\
           location /pre/ {{ root {dir}; gzip_static on; }}\n\
           location /always/ {{ alias {dir}/pre/; gzip_static always; gzip_vary off; }}\n\
           location = /ret {{ return 200 \"{long}\"; }}\n\
         }}",
        dir = d.display(),
        long = "returned text ".repeat(20),
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut cases = Vec::new();
    for p in [
        "/page.html",
        "/app.js",
        "/tiny.html",
        "/js/app.js",
        "/js/page.html",
        "/missing.html",
        "/ret",
        "/pre/app.js",
        "/pre/only.js",
        "/always/app.js",
    ] {
        cases.push(req("GET", p, 1, &[GZ]));
        cases.push(req("GET", p, 1, &[]));
        cases.push(req("GET", p, 0, &[GZ]));
        cases.push(req("HEAD", p, 1, &[GZ]));
    }
    cases.push(req("GET", "/page.html", 1, &[GZ, "Range: bytes=0-9"]));
    cases.push(req("GET", "/page.html", 1, &["Range: bytes=0-9"]));
    cases.push(req("GET", "/js/app.js", 1, &[GZ, "Range: bytes=5-9"]));
    let probe = raw(
        nginx.addr(),
        req("HEAD", "/pre/app.js", 1, &[GZ]).as_bytes(),
        Duration::from_secs(5),
    );
    let etag = String::from_utf8_lossy(&probe)
        .lines()
        .find_map(|l| l.strip_prefix("ETag: ").map(str::to_string))
        .unwrap_or_default();
    assert!(!etag.is_empty(), "nginx sent no ETag for the .gz file");
    cases.push(req(
        "GET",
        "/pre/app.js",
        1,
        &[GZ, &format!("If-None-Match: {etag}")],
    ));
    let bad = compare(nginx.addr(), ours.addr(), &cases);
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn http2_clients_get_what_nginx_sends() {
    if proxylab_testkit::require("curl", "apt-get install curl").is_none() {
        return;
    }
    let up = upstream();
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        files.path().join("page.html"),
        "<i>h2 gzip</i>\n".repeat(200),
    )
    .expect("write");
    let http = format!(
        "gzip on; gzip_vary on; gzip_types application/json;\n\
         server {{ listen 127.0.0.1:{{PORT}} http2;\n\
           location /up/ {{ proxy_pass http://127.0.0.1:{p}; }}\n\
           location / {{ root {dir}; }} }}",
        p = up.port,
        dir = files.path().display()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let fetch = |port: u16, path: &str, ae: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "10",
                "--http2-prior-knowledge",
                "-D",
                "-",
            ])
            .args(["-H", &format!("Accept-Encoding: {ae}"), "--compressed"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let head: Vec<&str> = head
            .lines()
            .filter(|l| !l.starts_with("date:") && !l.starts_with("server:"))
            .collect();
        format!(
            "{}\n\n{} bytes {}",
            head.join("\n"),
            body.len(),
            digest(body.as_bytes())
        )
    };
    let mut bad = Vec::new();
    for (path, ae) in [
        ("/page.html", "gzip"),
        ("/page.html", "identity"),
        ("/up/json", "gzip"),
        ("/up/chunked", "gzip"),
        ("/up/etag", "gzip;q=0"),
        ("/missing", "gzip"),
    ] {
        let (n, o) = (
            fetch(nginx.port(), path, ae),
            fetch(ours.addr().port(), path, ae),
        );
        if n != o {
            bad.push(format!("{path} {ae}:\n--- nginx\n{n}\n--- ours\n{o}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
