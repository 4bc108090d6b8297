//! Differential test of the static-file handler against real nginx 1.22 serving the same
//! directory with the same locations: status, ETag, Last-Modified, Content-Type,
//! Content-Length, Content-Range, Accept-Ranges, Expires/Cache-Control, add_header, Location
//! and bodies must agree. nginx uses Debian's `/etc/nginx/mime.types`, so this also checks
//! our embedded MIME table against the real file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Version};
use proxylab_proxy::static_files::{
    AddHeader, DocRoot, Expires, StaticConf, StaticOutcome, StaticRequest, apply_add_headers,
    normalize_uri, parse_http_date, serve,
};
use proxylab_testkit::Nginx;

const CONF: &str = r#"
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:{PORT};
        root {DIR}/www;
        location / { }
        location /exp/ { expires 1h; add_header X-A 1; add_header X-B 2 always; }
        location /epoch/ { expires epoch; alias {DIR}/www/; }
        location /max/ { expires max; alias {DIR}/www/; }
        location /neg/ { expires -30m; alias {DIR}/www/; }
        location /mod/ { expires modified +1h; alias {DIR}/www/; }
        location /al/ { alias {DIR}/www/sub/; }
        location ~ ^/re/(.+)$ { alias {DIR}/www/sub/$1; }
    }
"#;

/// Our per-location config, mirroring CONF. Returns None for URIs no location serves.
fn our_conf(dir: &Path, uri: &str) -> (StaticConf, Vec<AddHeader>) {
    let www = dir.join("www");
    let mut c = StaticConf::new(DocRoot::Root(www.clone()));
    c.default_type = "application/octet-stream".into();
    let mut adds = Vec::new();
    let alias = |loc: &str| DocRoot::Alias {
        path: dir.join("www/"),
        location: loc.into(),
    };
    if let Some(rest) = uri.strip_prefix("/re/").filter(|r| !r.is_empty()) {
        c.root = DocRoot::AliasRegex(www.join("sub").join(rest));
    } else if uri.starts_with("/exp/") {
        c.expires = Expires::Access(3600);
        let h = |n: &str, v: &'static str, always| AddHeader {
            name: HeaderName::from_bytes(n.as_bytes()).unwrap(),
            value: HeaderValue::from_static(v),
            always,
        };
        adds = vec![h("x-a", "1", false), h("x-b", "2", true)];
    } else if uri.starts_with("/epoch/") {
        c.expires = Expires::Epoch;
        c.root = alias("/epoch/");
    } else if uri.starts_with("/max/") {
        c.expires = Expires::Max;
        c.root = alias("/max/");
    } else if uri.starts_with("/neg/") {
        c.expires = Expires::Access(-1800);
        c.root = alias("/neg/");
    } else if uri.starts_with("/mod/") {
        c.expires = Expires::Modified(3600);
        c.root = alias("/mod/");
    } else if uri.starts_with("/al/") {
        c.root = DocRoot::Alias {
            path: dir.join("www/sub/"),
            location: "/al/".into(),
        };
    }
    (c, adds)
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: BTreeMap<String, Vec<String>>,
    body: Vec<u8>,
}

fn nginx_get(addr: SocketAddr, method: &str, target: &str, extra: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        let (k, v) = l.split_once(": ").unwrap();
        headers
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.to_string());
    }
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

async fn ours(dir: &Path, method: &str, target: &str, extra: &[(&str, &str)]) -> Resp {
    let (path, args) = match target.split_once('?') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let Ok(uri) = normalize_uri(path.as_bytes()) else {
        return Resp {
            status: 400,
            headers: BTreeMap::new(),
            body: Vec::new(),
        };
    };
    let mut hm = HeaderMap::new();
    for (k, v) in extra {
        hm.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let mut uri = uri;
    for _ in 0..3 {
        let u = String::from_utf8(uri.clone()).unwrap();
        let (conf, adds) = our_conf(dir, &u);
        let req = StaticRequest {
            method: &m,
            uri: &uri,
            args,
            version: Version::HTTP_11,
            headers: &hm,
            add_headers: &adds,
            now: SystemTime::now(),
        };
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        match serve(&conf, &req) {
            StaticOutcome::InternalRedirect(next) => {
                uri = next;
                continue;
            }
            StaticOutcome::Special {
                status,
                headers: mut h,
                ..
            } => {
                // what the core does for an error page: expires + add_header for its status
                conf.expires.apply(status, &mut h, SystemTime::now(), None);
                apply_add_headers(status, &mut h, &adds);
                for (k, v) in &h {
                    headers
                        .entry(k.to_string())
                        .or_default()
                        .push(v.to_str().unwrap().to_string());
                }
                return Resp {
                    status: status.as_u16(),
                    headers,
                    body: Vec::new(),
                };
            }
            StaticOutcome::Response(r) => {
                for (k, v) in r.headers() {
                    headers
                        .entry(k.to_string())
                        .or_default()
                        .push(v.to_str().unwrap().to_string());
                }
                let status = r.status().as_u16();
                let body = r
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes()
                    .to_vec();
                return Resp {
                    status,
                    headers,
                    body,
                };
            }
        }
    }
    panic!("redirect loop");
}

/// (request target, method, extra request headers).
type Case<'a> = (String, &'a str, Vec<(&'a str, String)>);

const COMPARED: &[&str] = &[
    "etag",
    "last-modified",
    "content-type",
    "content-length",
    "content-range",
    "accept-ranges",
    "cache-control",
    "x-a",
    "x-b",
];

fn compare(case: &str, theirs: &Resp, mine: &Resp) {
    assert_eq!(
        mine.status, theirs.status,
        "{case}: status\nnginx: {theirs:?}\nours: {mine:?}"
    );
    // error pages (bodies, their Content-Type/Length) are the core's; the rest is compared
    let own = matches!(theirs.status, 200 | 206 | 304);
    for h in COMPARED {
        if !own && matches!(*h, "content-type" | "content-length") {
            continue;
        }
        let (t, m) = (theirs.headers.get(*h), mine.headers.get(*h));
        if *h == "content-type"
            && theirs.status == 206
            && t.is_some_and(|v| v[0].starts_with("multipart/"))
        {
            assert!(
                m.is_some_and(|v| v[0].starts_with("multipart/byteranges; boundary=")),
                "{case}"
            );
            continue;
        }
        assert_eq!(
            m, t,
            "{case}: header {h}\nnginx: {theirs:?}\nours: {mine:?}"
        );
    }
    match (theirs.headers.get("expires"), mine.headers.get("expires")) {
        (Some(t), Some(m)) => {
            let (t, m) = (
                parse_http_date(t[0].as_bytes()).unwrap(),
                parse_http_date(m[0].as_bytes()).unwrap(),
            );
            assert!((t - m).abs() <= 2, "{case}: Expires {t} vs {m}");
        }
        (t, m) => assert_eq!(t.is_some(), m.is_some(), "{case}: Expires presence"),
    }
    if let Some(loc) = theirs.headers.get("location") {
        let mine_loc = &mine.headers.get("location").expect("our Location")[0];
        assert!(
            loc[0].ends_with(mine_loc.as_str()),
            "{case}: Location {loc:?} vs {mine_loc}"
        );
    }
    if own {
        let boundary = |r: &Resp| {
            r.headers
                .get("content-type")
                .and_then(|v| v[0].split_once("boundary="))
                .map(|(_, b)| b.to_string())
        };
        match (boundary(theirs), boundary(mine)) {
            (Some(tb), Some(mb)) => {
                let norm = String::from_utf8_lossy(&theirs.body).replace(&tb, "B");
                assert_eq!(
                    String::from_utf8_lossy(&mine.body).replace(&mb, "B"),
                    norm,
                    "{case}: multipart body"
                );
            }
            _ => assert!(
                mine.body == theirs.body,
                "{case}: body differs ({} vs {} bytes)",
                mine.body.len(),
                theirs.body.len()
            ),
        }
    }
}

#[tokio::test]
async fn static_files_match_nginx() {
    let Some(ngx) = Nginx::start(CONF) else {
        return;
    };
    let dir = ngx.dir().to_path_buf();
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::create_dir_all(www.join("noindex")).unwrap();
    std::fs::write(www.join("a.txt"), b"hello world\n").unwrap();
    std::fs::write(www.join("page.html"), b"<h1>x</h1>").unwrap();
    std::fs::write(www.join("app.JS"), b"let a=1;").unwrap();
    std::fs::write(www.join("noext"), b"raw").unwrap();
    // mtime two hours ago: `expires modified +1h` lies in the past → no-cache
    std::fs::write(www.join("old.txt"), b"old").unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(www.join("old.txt"))
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    std::fs::write(www.join("empty.css"), b"").unwrap();
    std::fs::write(www.join("sub/index.html"), b"<p>index</p>").unwrap();
    std::fs::write(www.join("sub/data.json"), b"{\"k\":1}").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(www.join("big.bin"), &big).unwrap();
    for ext in [
        "woff2", "svg", "pdf", "mp4", "wasm", "docx", "webp", "ico", "xhtml", "tar",
    ] {
        std::fs::write(www.join(format!("f.{ext}")), ext.as_bytes()).unwrap();
    }
    let addr = ngx.addr();
    let first = nginx_get(addr, "GET", "/a.txt", &[]);
    let etag = first.headers["etag"][0].clone();
    let lm = first.headers["last-modified"][0].clone();
    let mut cases: Vec<Case> = vec![
        ("/a.txt".into(), "GET", vec![]),
        ("/a.txt".into(), "HEAD", vec![]),
        ("/page.html".into(), "GET", vec![]),
        ("/app.JS".into(), "GET", vec![]),
        ("/noext".into(), "GET", vec![]),
        ("/empty.css".into(), "GET", vec![]),
        ("/big.bin".into(), "GET", vec![]),
        ("/missing".into(), "GET", vec![]),
        ("/sub".into(), "GET", vec![]),
        ("/sub?x=1".into(), "GET", vec![]),
        ("/sub/".into(), "GET", vec![]),
        ("/noindex/".into(), "GET", vec![]),
        ("/nodir/".into(), "GET", vec![]),
        ("/a.txt".into(), "POST", vec![]),
        ("/a.txt".into(), "DELETE", vec![]),
        (
            "/a.txt".into(),
            "GET",
            vec![("If-None-Match", etag.clone())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("If-None-Match", format!("\"x\", {etag}"))],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("If-None-Match", "\"other\"".into())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("If-Modified-Since", lm.clone())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT".into())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![
                ("If-Modified-Since", lm.clone()),
                ("If-None-Match", "\"x\"".into()),
            ],
        ),
        ("/a.txt".into(), "GET", vec![("If-Match", "\"x\"".into())]),
        (
            "/a.txt".into(),
            "GET",
            vec![(
                "If-Unmodified-Since",
                "Mon, 01 Jan 2001 00:00:00 GMT".into(),
            )],
        ),
        ("/a.txt".into(), "GET", vec![("Range", "bytes=0-4".into())]),
        ("/a.txt".into(), "GET", vec![("Range", "bytes=-3".into())]),
        ("/a.txt".into(), "GET", vec![("Range", "bytes=6-".into())]),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=3-1000".into())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=0-1,4-6".into())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=0-11,0-11".into())],
        ),
        ("/a.txt".into(), "GET", vec![("Range", "bytes=12-".into())]),
        ("/a.txt".into(), "GET", vec![("Range", "bytes=x".into())]),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=0-1".into()), ("If-Range", etag.clone())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=0-1".into()), ("If-Range", "\"zz\"".into())],
        ),
        (
            "/a.txt".into(),
            "GET",
            vec![("Range", "bytes=0-1".into()), ("If-Range", lm.clone())],
        ),
        ("/a.txt".into(), "HEAD", vec![("Range", "bytes=0-1".into())]),
        (
            "/empty.css".into(),
            "GET",
            vec![("Range", "bytes=0-".into())],
        ),
        (
            "/big.bin".into(),
            "GET",
            vec![("Range", "bytes=70000-140000".into())],
        ),
        ("/exp/../a.txt".into(), "GET", vec![]),
        ("/exp/x".into(), "GET", vec![]),
        ("/epoch/a.txt".into(), "GET", vec![]),
        ("/max/a.txt".into(), "GET", vec![]),
        ("/neg/a.txt".into(), "GET", vec![]),
        ("/mod/a.txt".into(), "GET", vec![]),
        ("/mod/old.txt".into(), "GET", vec![]),
        ("/al/data.json".into(), "GET", vec![]),
        ("/al/".into(), "GET", vec![]),
        ("/re/data.json".into(), "GET", vec![]),
        ("/re/nope.json".into(), "GET", vec![]),
        ("/../etc/passwd".into(), "GET", vec![]),
        ("/%2e%2e/etc/passwd".into(), "GET", vec![]),
        ("/sub/%2e%2e/%2e%2e/etc/passwd".into(), "GET", vec![]),
        ("/sub/..%2f..%2fetc/passwd".into(), "GET", vec![]),
        ("/a%2etxt".into(), "GET", vec![]),
        ("/sub%2fdata.json".into(), "GET", vec![]),
        ("/a.txt%00.html".into(), "GET", vec![]),
    ];
    for ext in [
        "woff2", "svg", "pdf", "mp4", "wasm", "docx", "webp", "ico", "xhtml", "tar",
    ] {
        cases.push((format!("/f.{ext}"), "GET", vec![]));
    }
    // expires/add_header on a 304
    std::fs::create_dir_all(www.join("exp")).unwrap();
    std::fs::write(www.join("exp/e.txt"), b"e").unwrap();
    let e2 = nginx_get(addr, "GET", "/exp/e.txt", &[]).headers["etag"][0].clone();
    cases.push(("/exp/e.txt".into(), "GET", vec![]));
    cases.push(("/exp/e.txt".into(), "GET", vec![("If-None-Match", e2)]));
    cases.push((
        "/exp/e.txt".into(),
        "GET",
        vec![("Range", "bytes=5-".into())],
    ));
    for (target, method, extra) in &cases {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let theirs = nginx_get(addr, method, target, &extra);
        let mine = ours(&dir, method, target, &extra).await;
        compare(&format!("{method} {target} {extra:?}"), &theirs, &mine);
    }
}
