//! The 200/206/304/412/416 part of serving a file, once it is open. The common case (no
//! `expires`, no `add_header`, a whole file, one range or a 304) becomes a [`FileResponse`]:
//! fixed fields with inline values, which the proxy writes straight into its output buffer
//! without building a `HeaderMap`; everything else is built as a `HeaderMap` in the order
//! nginx's filters produce it.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue,
    IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, LAST_MODIFIED,
    RANGE,
};
use hyper::{Method, Response, StatusCode, Version};

use super::body::{Body, Part, empty, file_part, file_parts, give_path_buf};
use super::conditional::{self, Conditionals, Precondition};
use super::headers::{Expires, apply_add_headers};
use super::range::{self, RangeDecision};
use super::text::HeaderText;
use super::{StaticConf, StaticOutcome, StaticRequest, special};

/// A 200, 206 (one range) or 304 response carrying only the static module's own headers
/// (the location has neither `expires` nor `add_header`). Header order on the wire, as
/// nginx: `Content-Type`, `Content-Length`, `Last-Modified` in their slots, then `ETag`,
/// `Content-Range`, `Accept-Ranges`.
#[derive(Debug)]
pub struct FileResponse<'c> {
    /// 200, 206 or 304.
    pub status: StatusCode,
    /// `Content-Type` (`None` on 304): the location's MIME type for the URI's extension,
    /// or its `default_type`.
    pub content_type: Option<&'c str>,
    /// `Content-Length` in bytes (`None` on 304; a HEAD keeps the GET's length).
    pub content_length: Option<u64>,
    /// `Last-Modified` (an HTTP date).
    pub last_modified: HeaderText,
    /// `ETag` (`"mtime-size"` in hex).
    pub etag: HeaderText,
    /// `Content-Range` (206 only).
    pub content_range: Option<HeaderText>,
    /// `Accept-Ranges: bytes` (200 only).
    pub accept_ranges: bool,
    /// The body (empty for HEAD and 304).
    pub body: Body,
}

impl FileResponse<'_> {
    /// As an `http::Response` (what [`super::serve`] returns), headers in the order the
    /// `HeaderMap` path produces them.
    pub fn into_response(self) -> Response<Body> {
        let hv =
            |t: &[u8]| HeaderValue::from_bytes(t).unwrap_or_else(|_| HeaderValue::from_static(""));
        let mut h = HeaderMap::with_capacity(6);
        if self.status == StatusCode::NOT_MODIFIED {
            // what is left of the 200 headers after the 304 dropped the entity ones
            h.insert(ETAG, hv(self.etag.as_bytes()));
            h.insert(LAST_MODIFIED, hv(self.last_modified.as_bytes()));
        } else {
            if let Some(t) = self.content_type {
                h.insert(CONTENT_TYPE, hv(t.as_bytes()));
            }
            if let Some(n) = self.content_length {
                h.insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
            h.insert(LAST_MODIFIED, hv(self.last_modified.as_bytes()));
            h.insert(ETAG, hv(self.etag.as_bytes()));
        }
        if let Some(r) = &self.content_range {
            h.insert(CONTENT_RANGE, hv(r.as_bytes()));
        }
        if self.accept_ranges {
            h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        response(self.status, h, self.body)
    }
}

/// What [`super::serve_direct`] decided: a [`FileResponse`] in the common case, else the
/// general [`StaticOutcome`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned once per request, never stored
pub enum Served<'c> {
    /// A 200/206/304 with only the module's own headers.
    File(FileResponse<'c>),
    /// Anything else (including responses with `expires`/`add_header` headers).
    Other(StaticOutcome),
}

impl Served<'_> {
    /// As a [`StaticOutcome`] (a [`FileResponse`] becomes an `http::Response`).
    pub fn into_outcome(self) -> StaticOutcome {
        match self {
            Served::File(f) => StaticOutcome::Response(f.into_response()),
            Served::Other(o) => o,
        }
    }
}

fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn finish<'c>(status: StatusCode, headers: HeaderMap, body: Body) -> Served<'c> {
    Served::Other(StaticOutcome::Response(response(status, headers, body)))
}

/// A header value from text the module formatted (always valid; empty otherwise).
fn text_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The 200/206/304/412/416 part, once the file is open.
pub(super) fn respond<'c>(
    conf: &'c StaticConf,
    req: &StaticRequest<'_>,
    file: std::sync::Arc<std::fs::File>,
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
) -> Served<'c> {
    let raw = |n| {
        if req.headers.is_empty() {
            return None;
        }
        req.headers.get(n).map(|v: &HeaderValue| v.as_bytes())
    };
    let v = conditional::validators(mtime, size);
    let (lm, tag) = (v.lm, v.etag.as_bytes());
    let cond = Conditionals {
        if_modified_since: raw(IF_MODIFIED_SINCE),
        if_none_match: raw(IF_NONE_MATCH),
        if_unmodified_since: raw(IF_UNMODIFIED_SINCE),
        if_match: raw(IF_MATCH),
    };
    let precondition = conditional::evaluate(&cond, tag, lm, conf.if_modified_since);
    if precondition == Precondition::Failed {
        return Served::Other(special(StatusCode::PRECONDITION_FAILED, None));
    }
    let entity = Entity {
        file,
        path,
        size,
        mtime,
        ctype: conf.mime.for_uri(req.uri, &conf.default_type),
        v,
    };
    let direct = req.add_headers.is_empty() && conf.expires == Expires::Off;
    if precondition == Precondition::NotModified {
        return entity.not_modified(conf, req, direct);
    }
    let decision = if req.version >= Version::HTTP_10 {
        range::evaluate(raw(RANGE), raw(IF_RANGE), tag, lm, size, conf.max_ranges)
    } else {
        RangeDecision::Full
    };
    let head = req.method == Method::HEAD;
    match decision {
        d @ (RangeDecision::Full | RangeDecision::Single(_)) if direct => entity.direct(d, head),
        d => entity.with_headers(conf, req, d, head),
    }
}

/// The open file and what every response of it shares.
struct Entity<'c> {
    file: std::sync::Arc<std::fs::File>,
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
    /// The location's MIME type for the URI.
    ctype: &'c str,
    v: conditional::Validators,
}

/// A [`FileResponse`] of a file with validators `v`.
fn file_response<'c>(
    v: &conditional::Validators,
    status: StatusCode,
    content_type: Option<&'c str>,
    content_length: Option<u64>,
    content_range: Option<HeaderText>,
    accept_ranges: bool,
    body: Body,
) -> Served<'c> {
    Served::File(FileResponse {
        status,
        content_type,
        content_length,
        last_modified: v.last_modified,
        etag: v.etag,
        content_range,
        accept_ranges,
        body,
    })
}

impl<'c> Entity<'c> {
    /// The module's own headers of a 200, in nginx's order.
    fn base_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(8);
        h.insert(CONTENT_TYPE, text_value(self.ctype));
        h.insert(CONTENT_LENGTH, HeaderValue::from(self.size));
        h.insert(LAST_MODIFIED, text_value(self.v.last_modified.as_str()));
        h.insert(ETAG, text_value(self.v.etag.as_str()));
        h
    }

    /// `len` bytes from `offset` (nothing for HEAD: the path buffer goes back).
    fn body(self, head: bool, offset: u64, len: u64) -> Body {
        if head {
            give_path_buf(self.path);
            empty()
        } else {
            file_part(self.file, self.path, offset, len)
        }
    }

    /// The body of the `HeaderMap` path (nothing for HEAD).
    fn parts(self, head: bool, parts: Vec<Part>) -> Body {
        if head {
            empty()
        } else {
            file_parts(self.file, self.path, parts)
        }
    }

    /// 304: only the validators (and `expires`/`add_header` on the `HeaderMap` path).
    fn not_modified(self, conf: &StaticConf, req: &StaticRequest<'_>, direct: bool) -> Served<'c> {
        let status = StatusCode::NOT_MODIFIED;
        if direct {
            give_path_buf(self.path);
            return file_response(&self.v, status, None, None, None, false, empty());
        }
        let mut h = self.base_headers();
        h.remove(CONTENT_TYPE);
        h.remove(CONTENT_LENGTH);
        conf.expires
            .apply(status, &mut h, req.now, Some(self.mtime));
        apply_add_headers(status, &mut h, req.add_headers);
        finish(status, h, empty())
    }

    /// The whole file or one range as a [`FileResponse`].
    fn direct(self, decision: RangeDecision, head: bool) -> Served<'c> {
        let (v, ctype, size) = (self.v, self.ctype, self.size);
        if let RangeDecision::Single(r) = decision {
            let mut cr = HeaderText::new();
            // at most 6 + 20 + 1 + 20 + 1 + 20 bytes: always fits
            let _ = write!(cr, "bytes {}-{}/{size}", r.start, r.end - 1);
            let len = r.end - r.start;
            let body = self.body(head, r.start, len);
            let status = StatusCode::PARTIAL_CONTENT;
            return file_response(&v, status, Some(ctype), Some(len), Some(cr), false, body);
        }
        let body = self.body(head, 0, size);
        file_response(
            &v,
            StatusCode::OK,
            Some(ctype),
            Some(size),
            None,
            true,
            body,
        )
    }

    /// The `HeaderMap` path: `expires` and `add_header` applied as for a 200 (nginx's
    /// headers filter runs before the range filter), then the range decision.
    fn with_headers(
        self,
        conf: &StaticConf,
        req: &StaticRequest<'_>,
        decision: RangeDecision,
        head: bool,
    ) -> Served<'c> {
        let mut h = self.base_headers();
        conf.expires
            .apply(StatusCode::OK, &mut h, req.now, Some(self.mtime));
        apply_add_headers(StatusCode::OK, &mut h, req.add_headers);
        let size = self.size;
        match decision {
            RangeDecision::Full => {
                h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                let b = self.parts(
                    head,
                    vec![Part::File {
                        offset: 0,
                        len: size,
                    }],
                );
                finish(StatusCode::OK, h, b)
            }
            RangeDecision::Single(r) => {
                let len = r.end - r.start;
                let range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
                h.insert(CONTENT_RANGE, text_value(&range));
                h.insert(CONTENT_LENGTH, HeaderValue::from(len));
                let b = self.parts(
                    head,
                    vec![Part::File {
                        offset: r.start,
                        len,
                    }],
                );
                finish(StatusCode::PARTIAL_CONTENT, h, b)
            }
            RangeDecision::Multi(ranges) => {
                let (content_type, len, parts) = multipart(&ranges, self.ctype, size);
                h.insert(CONTENT_TYPE, text_value(&content_type));
                h.insert(CONTENT_LENGTH, HeaderValue::from(len));
                finish(StatusCode::PARTIAL_CONTENT, h, self.parts(head, parts))
            }
            RangeDecision::Unsatisfiable => unsatisfiable(&h, size),
        }
    }
}

/// A `multipart/byteranges` body of `ranges` of a `size`-byte file of type `ctype`: its
/// Content-Type, its length and its parts.
fn multipart(ranges: &[range::ByteRange], ctype: &str, size: u64) -> (String, u64, Vec<Part>) {
    let m = range::Multipart::new(ranges, ctype, size);
    let mut parts = Vec::new();
    for (head, r) in m.heads.into_iter().zip(ranges) {
        parts.push(Part::Mem(Bytes::from(head)));
        parts.push(Part::File {
            offset: r.start,
            len: r.end - r.start,
        });
    }
    parts.push(Part::Mem(Bytes::from(m.tail)));
    (m.content_type, m.len, parts)
}

/// The 416 answer. An nginx quirk (verified): the headers filter already ran with status
/// 200, so the page keeps `expires` and every add_header of `h`, in their order (not
/// `HeaderMap::remove`, which moves the last header into the gap); the entity headers go.
fn unsatisfiable<'c>(h: &HeaderMap, size: u64) -> Served<'c> {
    let entity = [CONTENT_TYPE, CONTENT_LENGTH, LAST_MODIFIED, ETAG];
    let mut kept = HeaderMap::with_capacity(h.len());
    for (n, v) in h.iter().filter(|(n, _)| !entity.contains(n)) {
        kept.append(n.clone(), v.clone());
    }
    kept.insert(CONTENT_RANGE, text_value(&format!("bytes */{size}")));
    Served::Other(StaticOutcome::Special {
        status: StatusCode::RANGE_NOT_SATISFIABLE,
        headers: kept,
        log: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{AddHeader, DocRoot, StaticConf, StaticRequest, serve, serve_direct};
    use super::*;
    use http_body_util::BodyExt;
    use hyper::header::HeaderName;

    /// The direct path gives exactly what the `HeaderMap` path gives (an `add_header` with an
    /// empty value adds nothing but forces that path): status, headers in order, body.
    #[tokio::test]
    async fn direct_responses_equal_the_header_map_path() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.path().join("f.css"), &data).unwrap();
        let conf = StaticConf::new(DocRoot::Root(dir.path().to_path_buf()));
        let probe = HeaderMap::new();
        fn req<'a>(
            method: &'a Method,
            headers: &'a HeaderMap,
            version: Version,
            add_headers: &'a [AddHeader],
        ) -> StaticRequest<'a> {
            StaticRequest {
                method,
                uri: b"/f.css",
                args: None,
                version,
                headers,
                add_headers,
                now: SystemTime::UNIX_EPOCH,
            }
        }
        let first = serve(&conf, &req(&Method::GET, &probe, Version::HTTP_11, &[]));
        let StaticOutcome::Response(first) = first else {
            panic!("no response")
        };
        let (etag, lm) = (
            first.headers()[ETAG].clone(),
            first.headers()[LAST_MODIFIED].clone(),
        );
        type Case = (Method, Vec<(HeaderName, HeaderValue)>, Version, Option<u16>);
        let cases: Vec<Case> = vec![
            (Method::GET, vec![], Version::HTTP_11, Some(200)),
            (Method::HEAD, vec![], Version::HTTP_11, Some(200)),
            (Method::GET, vec![], Version::HTTP_09, Some(200)),
            (
                Method::GET,
                vec![(IF_MODIFIED_SINCE, lm.clone())],
                Version::HTTP_11,
                Some(304),
            ),
            (
                Method::HEAD,
                vec![(IF_NONE_MATCH, etag.clone())],
                Version::HTTP_11,
                Some(304),
            ),
            (
                Method::GET,
                vec![(RANGE, HeaderValue::from_static("bytes=10-19"))],
                Version::HTTP_11,
                Some(206),
            ),
            (
                Method::HEAD,
                vec![(RANGE, HeaderValue::from_static("bytes=-7"))],
                Version::HTTP_11,
                Some(206),
            ),
            (
                Method::GET,
                vec![(RANGE, HeaderValue::from_static("bytes=4990-"))],
                Version::HTTP_10,
                Some(206),
            ),
            (
                Method::GET,
                vec![(RANGE, HeaderValue::from_static("bytes=0-1,5-6"))],
                Version::HTTP_11,
                None,
            ),
            (
                Method::GET,
                vec![(RANGE, HeaderValue::from_static("bytes=9999-"))],
                Version::HTTP_11,
                None,
            ),
            (
                Method::GET,
                vec![
                    (RANGE, HeaderValue::from_static("bytes=1-2")),
                    (IF_RANGE, etag.clone()),
                ],
                Version::HTTP_11,
                Some(206),
            ),
            (
                Method::GET,
                vec![
                    (RANGE, HeaderValue::from_static("bytes=1-2")),
                    (IF_RANGE, HeaderValue::from_static("\"x\"")),
                ],
                Version::HTTP_11,
                Some(200),
            ),
            (
                Method::GET,
                vec![(IF_MATCH, HeaderValue::from_static("\"x\""))],
                Version::HTTP_11,
                None,
            ),
        ];
        let none = [AddHeader {
            name: HeaderName::from_static("x-none"),
            value: HeaderValue::from_static(""),
            always: false,
        }];
        for (method, hs, version, direct_status) in cases {
            let mut headers = HeaderMap::new();
            for (n, v) in hs {
                headers.insert(n, v);
            }
            let direct = serve_direct(&conf, &req(&method, &headers, version, &[]));
            let general = serve_direct(&conf, &req(&method, &headers, version, &none));
            let what = format!("{method} {headers:?} {version:?}");
            assert!(matches!(general, Served::Other(_)), "{what}");
            match (&direct, direct_status) {
                (Served::File(f), Some(s)) => assert_eq!(f.status.as_u16(), s, "{what}"),
                (Served::Other(_), None) => {}
                (d, _) => panic!("{what}: unexpected {d:?}"),
            }
            if direct_status.is_none() {
                continue; // multipart, 412, 416: the same code path twice
            }
            let (d, g) = (direct.into_outcome(), general.into_outcome());
            let (StaticOutcome::Response(d), StaticOutcome::Response(g)) = (d, g) else {
                panic!("{what}: not responses");
            };
            let list = |h: &HeaderMap| {
                h.iter()
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(d.status(), g.status(), "{what}");
            assert_eq!(list(d.headers()), list(g.headers()), "{what}");
            let db = d.into_body().collect().await.unwrap().to_bytes();
            let gb = g.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(db, gb, "{what}");
        }
    }
}
