//! Unit tests of the static handler on a temp dir: status, headers, bodies, traversal.

use super::*;
use http_body_util::BodyExt;
use hyper::header::{
    CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, RANGE,
};
use std::time::{Duration, UNIX_EPOCH};

struct Fixture {
    dir: tempfile::TempDir,
    conf: StaticConf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), b"hello world\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/index.html"), b"<p>i</p>").unwrap();
    std::fs::create_dir(d.join("empty")).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.join("big.bin"), &big).unwrap();
    let conf = StaticConf::new(DocRoot::Root(d.to_path_buf()));
    Fixture { dir, conf }
}

fn req<'a>(m: &'a Method, uri: &'a str, h: &'a HeaderMap) -> StaticRequest<'a> {
    StaticRequest {
        method: m,
        uri: uri.as_bytes(),
        args: None,
        version: Version::HTTP_11,
        headers: h,
        add_headers: &[],
        now: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

async fn body_of(r: Response<Body>) -> (StatusCode, HeaderMap, Vec<u8>, usize) {
    let (parts, mut body) = r.into_parts();
    let mut out = Vec::new();
    let mut frames = 0;
    while let Some(f) = body.frame().await {
        if let Ok(d) = f.unwrap().into_data() {
            frames += 1;
            out.extend_from_slice(&d);
        }
    }
    (parts.status, parts.headers, out, frames)
}

fn response(o: StaticOutcome) -> Response<Body> {
    match o {
        StaticOutcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn status_of(o: &StaticOutcome) -> u16 {
    match o {
        StaticOutcome::Response(r) => r.status().as_u16(),
        StaticOutcome::Special { status, .. } => status.as_u16(),
        StaticOutcome::InternalRedirect(_) => 0,
    }
}

#[tokio::test]
async fn get_head_and_headers() {
    let f = fixture();
    let h = HeaderMap::new();
    let (st, hd, body, _) =
        body_of(response(serve(&f.conf, &req(&Method::GET, "/a.txt", &h)))).await;
    assert_eq!(st, 200);
    assert_eq!(body, b"hello world\n");
    assert_eq!(hd["content-type"], "text/plain");
    assert_eq!(hd["content-length"], "12");
    assert_eq!(hd["accept-ranges"], "bytes");
    let meta = std::fs::metadata(f.dir.path().join("a.txt")).unwrap();
    let mt = unix_secs(meta.modified().unwrap());
    assert_eq!(hd["etag"], format!("\"{mt:x}-c\"").as_str());
    assert_eq!(hd["last-modified"], http_date(mt).as_str());
    let (st, hd, body, _) =
        body_of(response(serve(&f.conf, &req(&Method::HEAD, "/a.txt", &h)))).await;
    assert_eq!((st.as_u16(), body.len()), (200, 0));
    assert_eq!(hd["content-length"], "12");
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::POST, "/a.txt", &h))),
        405
    );
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::PUT, "/a.txt", &h))),
        405
    );
}

#[tokio::test]
async fn big_file_is_streamed_in_chunks() {
    let f = fixture();
    let h = HeaderMap::new();
    let (st, _, body, frames) =
        body_of(response(serve(&f.conf, &req(&Method::GET, "/big.bin", &h)))).await;
    assert_eq!(st, 200);
    assert_eq!(body, std::fs::read(f.dir.path().join("big.bin")).unwrap());
    assert_eq!(frames, 300_000usize.div_ceil(CHUNK));
}

/// The multipart boundary of a response (it differs per response) and its body bytes with
/// the boundary replaced by `B`.
fn unbounded(h: &HeaderMap, bytes: &[u8]) -> Vec<u8> {
    let ct = h[CONTENT_TYPE].to_str().unwrap();
    let b = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let text = bytes.iter().map(|&c| c as char).collect::<String>();
    text.replace(b, "B").chars().map(|c| c as u8).collect()
}

/// The server's writer fills its buffer with `read_into` across parts: with any buffer size
/// the bytes are those of the frames, and a file that shrank is an error.
#[tokio::test]
async fn read_into_matches_frames_and_detects_truncation() {
    let f = fixture();
    let mut h = HeaderMap::new();
    h.insert(
        RANGE,
        HeaderValue::from_static("bytes=0-9,100000-299999,5-6"),
    );
    let get = || response(serve(&f.conf, &req(&Method::GET, "/big.bin", &h)));
    let r = get();
    let len: usize = r.headers()[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let h2 = r.headers().clone();
    let (st, _, frames_bytes, _) = body_of(r).await;
    assert_eq!(st, 206);
    assert_eq!(frames_bytes.len(), len);
    let expected = unbounded(&h2, &frames_bytes);
    for size in [1, 7, 4096, CHUNK, 3 * CHUNK] {
        let r = get();
        let mut out = Vec::new();
        let mut buf = vec![0u8; size];
        let hd = r.headers().clone();
        let mut body = r.into_body();
        loop {
            let n = body.read_into(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert!(unbounded(&hd, &out) == expected, "buffer of {size} bytes");
        assert_eq!(body.remaining(), 0);
    }
    let mut body = response(serve(
        &f.conf,
        &req(&Method::GET, "/big.bin", &HeaderMap::new()),
    ))
    .into_body();
    std::fs::write(f.dir.path().join("big.bin"), vec![1u8; 1000]).unwrap();
    let mut buf = vec![0u8; CHUNK];
    let e = body.read_into(&mut buf).unwrap_err();
    assert!(e.to_string().contains("was truncated"), "{e}");
    assert_eq!(body.remaining(), 0);
}

#[test]
fn not_found_dirs_and_index() {
    let f = fixture();
    let h = HeaderMap::new();
    let o = serve(&f.conf, &req(&Method::GET, "/missing.txt", &h));
    let StaticOutcome::Special { status, log, .. } = o else {
        panic!()
    };
    assert_eq!(status, 404);
    assert!(
        log.unwrap()
            .contains("failed (2: No such file or directory)")
    );
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/a.txt/x", &h))),
        404
    );
    // directory without slash → 301 with the slash and the args
    let mut r = req(&Method::GET, "/sub", &h);
    r.args = Some("q=1");
    let StaticOutcome::Special {
        status, headers, ..
    } = serve(&f.conf, &r)
    else {
        panic!()
    };
    assert_eq!(
        (status.as_u16(), headers["location"].to_str().unwrap()),
        (301, "/sub/?q=1")
    );
    match serve(&f.conf, &req(&Method::GET, "/sub/", &h)) {
        StaticOutcome::InternalRedirect(u) => assert_eq!(u, b"/sub/index.html"),
        o => panic!("{o:?}"),
    }
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/empty/", &h))),
        403
    );
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/nodir/", &h))),
        404
    );
}

#[test]
fn traversal_attempts_never_leave_the_root() {
    let f = fixture();
    let h = HeaderMap::new();
    let outside = f
        .dir
        .path()
        .parent()
        .unwrap()
        .join("proxylab-outside-secret");
    std::fs::write(&outside, b"secret").unwrap();
    let name = "proxylab-outside-secret";
    for raw in [
        format!("/../{name}"),
        format!("/%2e%2e/{name}"),
        format!("/sub/..%2f..%2f{name}"),
        format!("/%2E%2E%2F{name}"),
        "/a.txt%00.html".to_string(),
    ] {
        assert!(normalize_uri(raw.as_bytes()).is_err(), "{raw} normalised");
        // a caller that skipped normalisation gets 400 (raw `..`, NUL) or a literal name that
        // does not exist (serve never decodes): never the file outside
        let st = status_of(&serve(&f.conf, &req(&Method::GET, &raw, &h)));
        assert!(st == 400 || st == 404, "{raw}: {st}");
    }
    let undecoded = format!("/sub/../../{name}");
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, &undecoded, &h))),
        400
    );
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/a.txt\0", &h))),
        400
    );
    // a symlink inside the root pointing outside is followed (nginx's disable_symlinks off)
    std::os::unix::fs::symlink(&outside, f.dir.path().join("link")).unwrap();
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/link", &h))),
        200
    );
    let _ = std::fs::remove_file(outside);
}

#[tokio::test]
async fn conditional_requests() {
    let f = fixture();
    let mut h = HeaderMap::new();
    let (_, hd, _, _) = body_of(response(serve(&f.conf, &req(&Method::GET, "/a.txt", &h)))).await;
    h.insert(IF_NONE_MATCH, hd["etag"].clone());
    let (st, h304, body, _) =
        body_of(response(serve(&f.conf, &req(&Method::GET, "/a.txt", &h)))).await;
    assert_eq!((st.as_u16(), body.len()), (304, 0));
    assert!(h304.get("content-length").is_none() && h304.get("content-type").is_none());
    assert!(h304.get("accept-ranges").is_none());
    assert_eq!(h304["etag"], hd["etag"]);
    let mut h = HeaderMap::new();
    h.insert(IF_MODIFIED_SINCE, hd["last-modified"].clone());
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/a.txt", &h))),
        304
    );
    h.insert(IF_NONE_MATCH, HeaderValue::from_static("\"nope\""));
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/a.txt", &h))),
        200
    );
    let mut h = HeaderMap::new();
    h.insert(IF_MATCH, HeaderValue::from_static("\"nope\""));
    assert_eq!(
        status_of(&serve(&f.conf, &req(&Method::GET, "/a.txt", &h))),
        412
    );
}

#[tokio::test]
async fn ranges() {
    let f = fixture();
    let mut h = HeaderMap::new();
    h.insert(RANGE, HeaderValue::from_static("bytes=0-4"));
    let (st, hd, body, _) =
        body_of(response(serve(&f.conf, &req(&Method::GET, "/a.txt", &h)))).await;
    assert_eq!((st.as_u16(), body.as_slice()), (206, &b"hello"[..]));
    assert_eq!(hd["content-range"], "bytes 0-4/12");
    assert_eq!(hd["content-length"], "5");
    assert!(hd.get("accept-ranges").is_none());
    h.insert(RANGE, HeaderValue::from_static("bytes=0-1,-3"));
    let (st, hd, body, _) =
        body_of(response(serve(&f.conf, &req(&Method::GET, "/a.txt", &h)))).await;
    assert_eq!(st, 206);
    let ct = hd["content-type"].to_str().unwrap().to_string();
    let b = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let expect = format!(
        "\r\n--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/12\r\n\r\nhe\
         \r\n--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 9-11/12\r\n\r\nld\n\r\n--{b}--\r\n"
    );
    assert_eq!(String::from_utf8(body).unwrap(), expect);
    assert_eq!(hd["content-length"], expect.len().to_string().as_str());
    h.insert(RANGE, HeaderValue::from_static("bytes=50-"));
    let StaticOutcome::Special {
        status, headers, ..
    } = serve(&f.conf, &req(&Method::GET, "/a.txt", &h))
    else {
        panic!()
    };
    assert_eq!(
        (status.as_u16(), headers["content-range"].to_str().unwrap()),
        (416, "bytes */12")
    );
}

#[tokio::test]
async fn expires_and_add_header() {
    let mut f = fixture();
    f.conf.expires = Expires::Access(3600);
    let adds = [
        AddHeader {
            name: "x-a".parse().unwrap(),
            value: HeaderValue::from_static("1"),
            always: false,
        },
        AddHeader {
            name: "x-b".parse().unwrap(),
            value: HeaderValue::from_static("2"),
            always: true,
        },
    ];
    let h = HeaderMap::new();
    let mut r = req(&Method::GET, "/a.txt", &h);
    r.add_headers = &adds;
    let (_, hd, _, _) = body_of(response(serve(&f.conf, &r))).await;
    assert_eq!(hd["cache-control"], "max-age=3600");
    assert_eq!(hd["expires"], http_date(1_700_003_600).as_str());
    assert_eq!(
        (hd["x-a"].to_str().unwrap(), hd["x-b"].to_str().unwrap()),
        ("1", "2")
    );
}

#[test]
fn alias_and_regex_alias() {
    let f = fixture();
    let h = HeaderMap::new();
    let mut c = f.conf.clone();
    c.root = DocRoot::Alias {
        path: f.dir.path().join("sub/"),
        location: "/s/".into(),
    };
    assert_eq!(
        status_of(&serve(&c, &req(&Method::GET, "/s/index.html", &h))),
        200
    );
    c.root = DocRoot::AliasRegex(f.dir.path().join("a.txt"));
    assert_eq!(
        status_of(&serve(&c, &req(&Method::GET, "/anything/x.txt", &h))),
        200
    );
}
