//! Tests of the request head parser ([`super`]): nginx's validation, size limits, and the
//! regressions found by the malformed-request corpus.

use super::*;

const LIM: Limits = TEST_LIMITS;

/// The parse, refusals as nginx's status code.
fn p(s: &str) -> Result<Option<(RequestHead, usize)>, u16> {
    parse(s.as_bytes(), &LIM).map_err(|e| e.status().code())
}

#[test]
fn validation_as_nginx() {
    assert_eq!(p("GET / HTTP/1.1\r\n\r\n").unwrap_err(), 400);
    assert!(p("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    assert_eq!(
        p("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
        400
    );
    assert_eq!(
        p("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap_err(),
        400
    );
    assert_eq!(
        p("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap_err(),
        501
    );
    assert_eq!(
        p("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n").unwrap_err(),
        400
    );
    let (h, _) = p("GET /x HTTP/1.1\r\nHost: Ex.COM.:80\r\nX_U: 1\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.host(), Some(&b"ex.com"[..]));
    let (h, _) = p("GET /x HTTP/1.1\r\nHost: ex.com.:80\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(matches!(h.host, Host::Raw(_)));
    assert_eq!(h.host(), Some(&b"ex.com"[..]));
    let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2".to_vec();
    let h = take(&mut buf, &LIM, &mut Vec::new()).unwrap().unwrap();
    assert_eq!(
        (h.target(), h.host(), &buf[..]),
        (&b"/"[..], Some(&b"a"[..]), &b"GET /2"[..])
    );
    assert_eq!(h.headers.len(), 1);
    assert!(p("GET / HTTP/1.1\r\nHost: a").unwrap().is_none());
}

/// Regressions from the malformed-request corpus (proxy/tests/corpus/malformed): each was
/// forwarded by ours while nginx refused it, or refused while nginx forwarded it.
#[test]
fn corpus_regressions() {
    let status = |s: &[u8]| {
        parse(s, &LIM)
            .map(|r| r.map(|_| ()))
            .map_err(|e| e.status().code())
    };
    for (case, raw, want) in [
        (
            "request_line/lowercase-method",
            &b"get / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            Err(400),
        ),
        (
            "request_line/method-digit",
            b"M1 / HTTP/1.1\r\nHost: a\r\n\r\n",
            Err(400),
        ),
        (
            "request_line/method-trace",
            b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n",
            Err(405),
        ),
        ("smuggling/cl-zero-body-follows", b"hello", Err(400)),
        (
            "smuggling/cl-tab",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t5\r\n\r\n",
            Err(400),
        ),
        (
            "smuggling/te-tab",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n",
            Err(501),
        ),
        (
            "smuggling/te-vtab",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n",
            Err(501),
        ),
        (
            "host/space-inside",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            Err(400),
        ),
        ("host/empty", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Err(400)),
        (
            "host/only-port",
            b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n",
            Err(400),
        ),
        (
            "host/dot-only",
            b"GET / HTTP/1.1\r\nHost: .\r\n\r\n",
            Err(400),
        ),
        (
            "host/leading-dot",
            b"GET / HTTP/1.1\r\nHost: .a\r\n\r\n",
            Ok(Some(())),
        ),
        (
            "request_line/double-space",
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            Ok(Some(())),
        ),
        (
            "request_line/version-1-9",
            b"GET / HTTP/1.9\r\nHost: a\r\n\r\n",
            Ok(Some(())),
        ),
        (
            "request_line/version-10-1",
            b"GET / HTTP/10.1\r\nHost: a\r\n\r\n",
            Err(505),
        ),
        (
            "headers/value-ctl",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\x7f\r\n\r\n",
            Ok(Some(())),
        ),
        (
            "headers/cr-lf-cr",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\r\n\r\n",
            Ok(Some(())),
        ),
    ] {
        assert_eq!(status(raw), want, "{case}");
    }
    let (h, _) = p("GET / HTTP/1.1\r\nHost: a\r\nX.A: 1\r\nX(B: 2\r\nX-C:\tc\t\r\n\r\n")
        .unwrap()
        .unwrap();
    let names: Vec<_> = h.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    assert_eq!(
        names,
        [
            (b"Host".to_vec(), b"a".to_vec()),
            (b"X-C".to_vec(), b"\tc\t".to_vec())
        ]
    );
    let (h, _) = p("GET http://Other.test:8/x HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.host(), h.target()),
        (Some(&b"other.test"[..]), &b"/x"[..])
    );
    let many: String = (0..1000).map(|i| format!("X-{i}: 1\r\n")).collect();
    assert_eq!(
        status(format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes()),
        Err(400)
    );
}

#[test]
fn header_size_limits() {
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    assert_eq!(p(&long_uri).unwrap_err(), 414);
    let ok_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8100));
    assert!(p(&ok_uri).unwrap().is_some());
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    assert_eq!(p(&big).unwrap_err(), 494);
    let h7 = |n: usize| {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..n {
            s.push_str(&format!("X-{i}: {}\r\n", "c".repeat(7000)));
        }
        s + "\r\n"
    };
    assert!(p(&h7(4)).unwrap().is_some());
    assert_eq!(p(&h7(5)).unwrap_err(), 494);
}
