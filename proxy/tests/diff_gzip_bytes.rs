//! gzip bytes, nginx as the judge: the compressed bodies our proxy sends are byte-identical to
//! nginx's (both call the system zlib with nginx's parameters: `gzip_comp_level`, the window
//! and hash sizes lowered for short bodies of known length, `gzip_window` / `gzip_hash`), for
//! proxied responses with `Content-Length` and chunked (relayed, being stored in the cache and
//! from it), static files, `return` text and error pages, 100 B to 1 MiB, levels 1, 6 and 9;
//! and `$gzip_ratio` is logged as nginx logs it,
//! our own pages included. (Unbuffered proxying is left out: nginx flushes at each upstream
//! read, whose boundaries depend on timing.)

mod common;

use common::{both, parse, raw};
use std::io::{Read, Write};
use std::time::Duration;

const SIZES: [usize; 6] = [100, 1000, 5000, 20_000, 100_000, 1 << 20];

/// `n` bytes of API-like JSON, varied enough that the levels compress differently
/// (a linear congruential generator picks the words and numbers).
fn text(n: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima",
    ];
    let mut s = String::with_capacity(n + 64);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    while s.len() < n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let w = WORDS[(x >> 33) as usize % WORDS.len()];
        s.push_str(&format!(
            "{{\"id\":{},\"tag\":\"{w}\"}},",
            (x >> 40) % 100_000
        ));
    }
    s.truncate(n);
    s.into_bytes()
}

/// The upstream (answers in [`answer`]): `/c/N` answers N bytes with `Content-Length`,
/// `/k/N` chunked (pieces of 3000 bytes), then closes.
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
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let mut parts = path.rsplit('/');
    let n: usize = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let chunked = parts.next() == Some("k");
    let body = text(n);
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n".to_vec();
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(3000) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes());
        out.extend_from_slice(&body);
    }
    let _ = s.write_all(&out);
}

/// The gzip body of a GET of `path` (dechunked), or what came instead.
fn gzipped(addr: std::net::SocketAddr, path: &str) -> Result<Vec<u8>, String> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: b\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    let out = raw(addr, req.as_bytes(), Duration::from_secs(30));
    let (r, _) = parse(&out).ok_or_else(|| format!("{path}: unparsable response"))?;
    if r.header("content-encoding") != Some("gzip") {
        return Err(format!("{path}: status {} not gzipped", r.status));
    }
    Ok(r.body)
}

/// The first byte where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn gzipped_bytes_are_nginxs_for_every_size_level_and_source() {
    let up = upstream();
    let files = tempfile::tempdir().expect("tempdir");
    for n in SIZES {
        std::fs::write(files.path().join(format!("{n}.json")), text(n)).expect("write");
    }
    let mut locations = String::new();
    for level in [1, 6, 9] {
        locations.push_str(&format!(
            "  location /p{level}/ {{ gzip_comp_level {level}; proxy_pass http://127.0.0.1:{}/; }}\n\
             location /s{level}/ {{ gzip_comp_level {level}; alias {}/; }}\n",
            up.port,
            files.path().display()
        ));
    }
    let http = format!(
        "types {{ application/json json; }}\n\
         gzip on; gzip_types application/json text/plain;\n\
         proxy_cache_path {{DIR}}/cache keys_zone=z:1m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n{locations}\
           location /pc/ {{ proxy_cache z; proxy_cache_valid 200 1h; gzip_comp_level 6;\n\
             proxy_pass http://127.0.0.1:{p}/; }}\n\
           location /w/ {{ gzip_window 4k; gzip_hash 8k; gzip_comp_level 6;\n\
             proxy_pass http://127.0.0.1:{p}/; }}\n\
           location = /ret {{ return 200 \"{long}\"; }}\n\
         }}",
        p = up.port,
        long = "returned text, ".repeat(40),
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut paths = vec!["/ret".to_string(), "/missing".to_string()];
    // stored (MISS), then from the cache (HIT)
    for _ in 0..2 {
        for p in ["/pc/c/5000", "/pc/k/5000", "/pc/c/100000", "/pc/k/100000"] {
            paths.push(p.to_string());
        }
    }
    for n in SIZES {
        for level in [1, 6, 9] {
            paths.push(format!("/p{level}/c/{n}"));
            paths.push(format!("/p{level}/k/{n}"));
            paths.push(format!("/s{level}/{n}.json"));
        }
        paths.push(format!("/w/c/{n}"));
        paths.push(format!("/w/k/{n}"));
    }
    let mut bad = Vec::new();
    for p in &paths {
        let (n, o) = (gzipped(nginx.addr(), p), gzipped(ours.addr(), p));
        match (n, o) {
            (Ok(n), Ok(o)) if n == o => {}
            (Ok(n), Ok(o)) => bad.push(format!(
                "{p}: nginx {} B, ours {} B ({:.3}x), first difference at byte {}",
                n.len(),
                o.len(),
                o.len() as f64 / n.len() as f64,
                first_difference(&n, &o)
            )),
            (n, o) => bad.push(format!("{p}: nginx {:?}, ours {:?}", n.err(), o.err())),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        paths.len(),
        bad.join("\n")
    );
}

/// `$gzip_ratio` in the access log, the same line for line on both proxies: proxied
/// (Content-Length and chunked), static files, `return` text and the 404 page gzipped (our own
/// pages included), and `-` for HEAD, for a client that does not take gzip and for a body
/// below `gzip_min_length`.
#[test]
fn gzip_ratio_is_logged_as_nginx_logs_it() {
    let up = upstream();
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(files.path().join("f.json"), text(30_000)).expect("write");
    let http = format!(
        "types {{ application/json json; }}\n\
         gzip on; gzip_types application/json text/plain; gzip_min_length 100;\n\
         log_format g '$request_method $request_uri $status $gzip_ratio';\n\
         server {{ listen 127.0.0.1:{{PORT}}; access_log {{DIR}}/gz.log g;\n\
           location /up/ {{ proxy_pass http://127.0.0.1:{p}/; gzip_comp_level 6; }}\n\
           location /st/ {{ alias {dir}/; }}\n\
           location = /ret {{ return 200 \"{long}\"; }}\n\
         }}",
        p = up.port,
        dir = files.path().display(),
        long = "returned text, ".repeat(40),
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let gz = "Accept-Encoding: gzip\r\n";
    let cases: [(&str, &str, &str); 9] = [
        ("GET", "/up/c/50000", gz),
        ("GET", "/up/k/7000", gz),
        ("GET", "/up/c/50", gz),
        ("GET", "/st/f.json", gz),
        ("GET", "/ret", gz),
        ("GET", "/missing", gz),
        ("HEAD", "/ret", gz),
        ("GET", "/ret", ""),
        ("HEAD", "/st/f.json", gz),
    ];
    let mut logs = Vec::new();
    for (name, addr, dir) in [
        ("nginx", nginx.addr(), nginx.dir().to_path_buf()),
        ("ours", ours.addr(), ours.dir().to_path_buf()),
    ] {
        for (method, path, extra) in cases {
            common::request(addr, method, path, extra, b"");
        }
        let log = dir.join("gz.log");
        let ok = common::wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= cases.len())
        });
        let got = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(ok, "{name}: {got}");
        logs.push(got);
    }
    assert_eq!(logs[1], logs[0], "ours (left) vs nginx (right)");
    let lines: Vec<&str> = logs[0].lines().collect();
    let gzipped = lines.iter().filter(|l| !l.ends_with(" -")).count();
    assert_eq!(
        gzipped, 5,
        "five gzipped responses in nginx's log:\n{}",
        logs[0]
    );
}
