//! Static files as nginx 1.22's static, index, not_modified, range and headers modules serve
//! them: `root`/`alias` mapping, `index`, MIME types, `ETag`/`Last-Modified`, 304/412,
//! ranges (206/416, multipart), HEAD, `expires` and `add_header`. Bodies are streamed in
//! chunks from the open file, never read whole.
//!
//! The caller (the proxy core) owns: location matching and URI normalisation (use
//! [`normalize_uri`] if needed; [`serve`] refuses non-normalised URIs with 400), evaluation of
//! `add_header` values and `alias` captures, the standard error pages for
//! [`StaticOutcome::Special`] (with their `add_header … always`), making a `Location`
//! absolute, and `Server`/`Date`/`Connection` headers.

mod body;
mod conditional;
mod headers;
mod mime;
mod mime_table;
mod path;
mod range;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue,
    IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, LAST_MODIFIED,
    LOCATION, RANGE,
};
use hyper::{Method, Response, StatusCode, Version};

pub use body::{Body, CHUNK, Part, empty, file_parts, full};
pub use conditional::{
    Conditionals, ImsMode, Precondition, etag, etag_list_matches, http_date, parse_http_date,
    unix_secs,
};
pub use headers::{AddHeader, Expires, ExpiresError, apply_add_headers, is_safe_status};
pub use mime::{MimeTypes, NGINX_MIME_TYPES};
pub use path::{
    DocRoot, UriError, escape_uri, exten, is_normalized, map_uri_to_path, normalize_uri,
};
pub use range::{ByteRange, RangeDecision};

/// Per-location static settings (after inheritance).
#[derive(Debug, Clone)]
pub struct StaticConf {
    /// `root` (default `html` under the prefix) or `alias`.
    pub root: DocRoot,
    /// `index` files in order (default `index.html`); an entry starting with `/` is a URI.
    pub index: Vec<String>,
    /// `default_type` (nginx default `text/plain`; Debian's nginx.conf sets
    /// `application/octet-stream`).
    pub default_type: String,
    /// The `types {}` table in effect.
    pub mime: Arc<MimeTypes>,
    /// `expires` (default off).
    pub expires: Expires,
    /// `if_modified_since` (default exact).
    pub if_modified_since: ImsMode,
    /// `max_ranges` (default unlimited = `None`).
    pub max_ranges: Option<usize>,
}

impl StaticConf {
    /// nginx defaults with the given root: `index index.html`, `default_type text/plain`,
    /// nginx's full `mime.types`, no `expires`.
    pub fn new(root: DocRoot) -> StaticConf {
        StaticConf {
            root,
            index: vec!["index.html".into()],
            default_type: "text/plain".into(),
            mime: Arc::new(MimeTypes::nginx_default()),
            expires: Expires::Off,
            if_modified_since: ImsMode::Exact,
            max_ranges: None,
        }
    }
}

/// One request as the static handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct StaticRequest<'a> {
    /// Method.
    pub method: &'a Method,
    /// Normalised URI path (see [`normalize_uri`]).
    pub uri: &'a [u8],
    /// Query string without `?`, if any (kept in the directory redirect).
    pub args: Option<&'a str>,
    /// HTTP version (ranges need ≥ HTTP/1.0).
    pub version: Version,
    /// Request headers (conditionals, Range, If-Range).
    pub headers: &'a HeaderMap,
    /// `add_header` entries of the location, values evaluated.
    pub add_headers: &'a [AddHeader],
    /// Current time (for `expires`).
    pub now: SystemTime,
}

/// What the static handler decided.
#[derive(Debug)]
pub enum StaticOutcome {
    /// A finished response: 200, 206 or 304 (HEAD: headers only, same Content-Length).
    Response(Response<Body>),
    /// nginx answers with its standard page for `status` (301 to add a slash, 400, 403, 404,
    /// 405, 412, 416, 500) plus `headers` (`Location` — relative, the caller makes it
    /// absolute —, `Content-Range` for 416). The caller then applies `expires` and
    /// `add_header` for `status` as for any error page (for 416 nginx has already added the
    /// 200-time ones, included in `headers`, so `always` headers appear twice, as in nginx).
    /// `log` is nginx's error-log text, if it logs one.
    Special {
        /// Status.
        status: StatusCode,
        /// Extra headers for the page.
        headers: HeaderMap,
        /// Error-log message (without client context).
        log: Option<String>,
    },
    /// An `index` file exists: internally redirect to this URI (location matching again).
    InternalRedirect(Vec<u8>),
}

fn special(status: StatusCode, log: Option<String>) -> StaticOutcome {
    StaticOutcome::Special {
        status,
        headers: HeaderMap::new(),
        log,
    }
}

fn open_error(path: &std::path::Path, e: &io::Error, what: &str) -> StaticOutcome {
    let status = match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => StatusCode::NOT_FOUND,
        Some(libc::EACCES | libc::ELOOP | libc::EMLINK) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let code = e.raw_os_error().unwrap_or(0);
    let msg = e.to_string();
    let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
    special(
        status,
        Some(format!(
            "{what} \"{}\" failed ({code}: {msg})",
            path.display()
        )),
    )
}

static BOUNDARY: AtomicU64 = AtomicU64::new(1);

/// Serves a static file for `req` under `conf`, as nginx's content phase does for a
/// location without `proxy_pass`/`return`. Opening and `stat` are synchronous (as nginx
/// without aio); the body is streamed.
pub fn serve(conf: &StaticConf, req: &StaticRequest<'_>) -> StaticOutcome {
    if !is_normalized(req.uri) {
        return special(StatusCode::BAD_REQUEST, None);
    }
    let (get, head, post) = (
        req.method == Method::GET,
        req.method == Method::HEAD,
        req.method == Method::POST,
    );
    if !(get || head || post) {
        return special(StatusCode::METHOD_NOT_ALLOWED, None);
    }
    if req.uri.ends_with(b"/") {
        return index(conf, req);
    }
    let path = map_uri_to_path(&conf.root, req.uri);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return open_error(&path, &e, "open()"),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return open_error(&path, &e, "fstat()"),
    };
    if meta.is_dir() {
        let mut loc = escape_uri(req.uri);
        loc.push(b'/');
        if let Some(a) = req.args.filter(|a| !a.is_empty()) {
            loc.push(b'?');
            loc.extend_from_slice(a.as_bytes());
        }
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&loc) {
            headers.insert(LOCATION, v);
        }
        return StaticOutcome::Special {
            status: StatusCode::MOVED_PERMANENTLY,
            headers,
            log: None,
        };
    }
    if !meta.is_file() {
        return special(
            StatusCode::NOT_FOUND,
            Some(format!("\"{}\" is not a regular file", path.display())),
        );
    }
    if post {
        return special(StatusCode::METHOD_NOT_ALLOWED, None);
    }
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let size = meta.len();
    respond(conf, req, file, path, size, mtime)
}

/// The 200/206/304/412/416 part, once the file is open.
#[allow(clippy::too_many_arguments)]
fn respond(
    conf: &StaticConf,
    req: &StaticRequest<'_>,
    file: std::fs::File,
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
) -> StaticOutcome {
    let hv = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""));
    let raw = |n| req.headers.get(n).map(|v: &HeaderValue| v.as_bytes());
    let ctype = conf.mime.for_uri(req.uri, &conf.default_type);
    let v = conditional::validators(mtime, size);
    let (lm, tag) = (v.lm, v.etag.to_str().unwrap_or_default());
    let mut h = HeaderMap::with_capacity(8);
    h.insert(CONTENT_TYPE, hv(ctype));
    h.insert(CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(LAST_MODIFIED, v.last_modified.clone());
    h.insert(ETAG, v.etag.clone());
    let cond = Conditionals {
        if_modified_since: raw(IF_MODIFIED_SINCE),
        if_none_match: raw(IF_NONE_MATCH),
        if_unmodified_since: raw(IF_UNMODIFIED_SINCE),
        if_match: raw(IF_MATCH),
    };
    match conditional::evaluate(&cond, tag, lm, conf.if_modified_since) {
        Precondition::Failed => return special(StatusCode::PRECONDITION_FAILED, None),
        Precondition::NotModified => {
            h.remove(CONTENT_TYPE);
            h.remove(CONTENT_LENGTH);
            conf.expires
                .apply(StatusCode::NOT_MODIFIED, &mut h, req.now, Some(mtime));
            apply_add_headers(StatusCode::NOT_MODIFIED, &mut h, req.add_headers);
            return finish(StatusCode::NOT_MODIFIED, h, empty());
        }
        Precondition::Full => {}
    }
    // headers filter runs before the range filter: it sees status 200
    conf.expires
        .apply(StatusCode::OK, &mut h, req.now, Some(mtime));
    apply_add_headers(StatusCode::OK, &mut h, req.add_headers);
    let decision = if req.version >= Version::HTTP_10 {
        range::evaluate(raw(RANGE), raw(IF_RANGE), tag, lm, size, conf.max_ranges)
    } else {
        RangeDecision::Full
    };
    let head = req.method == Method::HEAD;
    let body = |parts: Vec<Part>| {
        if head {
            empty()
        } else {
            file_parts(file, path, parts)
        }
    };
    match decision {
        RangeDecision::Full => {
            h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            let b = body(vec![Part::File {
                offset: 0,
                len: size,
            }]);
            finish(StatusCode::OK, h, b)
        }
        RangeDecision::Single(r) => {
            h.insert(
                CONTENT_RANGE,
                hv(&format!("bytes {}-{}/{size}", r.start, r.end - 1)),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
            let b = body(vec![Part::File {
                offset: r.start,
                len: r.end - r.start,
            }]);
            finish(StatusCode::PARTIAL_CONTENT, h, b)
        }
        RangeDecision::Multi(ranges) => {
            let boundary = format!("{:020}", BOUNDARY.fetch_add(1, Ordering::Relaxed));
            let part_head =
                format!("\r\n--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes ");
            let mut parts = Vec::new();
            let mut len = 0u64;
            for r in &ranges {
                let head = format!("{part_head}{}-{}/{size}\r\n\r\n", r.start, r.end - 1);
                len += head.len() as u64 + (r.end - r.start);
                parts.push(Part::Mem(Bytes::from(head)));
                parts.push(Part::File {
                    offset: r.start,
                    len: r.end - r.start,
                });
            }
            let tail = format!("\r\n--{boundary}--\r\n");
            len += tail.len() as u64;
            parts.push(Part::Mem(Bytes::from(tail)));
            h.insert(
                CONTENT_TYPE,
                hv(&format!("multipart/byteranges; boundary={boundary}")),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
            finish(StatusCode::PARTIAL_CONTENT, h, body(parts))
        }
        RangeDecision::Unsatisfiable => {
            // nginx quirk (verified): the headers filter already ran with status 200, so the
            // 416 page keeps `expires` and every add_header; the entity headers go.
            for n in [CONTENT_TYPE, CONTENT_LENGTH, LAST_MODIFIED, ETAG] {
                h.remove(n);
            }
            h.insert(CONTENT_RANGE, hv(&format!("bytes */{size}")));
            StaticOutcome::Special {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                headers: h,
                log: None,
            }
        }
    }
}

fn finish(status: StatusCode, headers: HeaderMap, body: Body) -> StaticOutcome {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    StaticOutcome::Response(resp)
}

/// nginx's index module for a URI ending in `/`.
fn index(conf: &StaticConf, req: &StaticRequest<'_>) -> StaticOutcome {
    let dir = map_uri_to_path(&conf.root, req.uri);
    for name in &conf.index {
        if name.starts_with('/') {
            return StaticOutcome::InternalRedirect(name.as_bytes().to_vec());
        }
        let mut p = dir.as_os_str().as_bytes().to_vec();
        p.extend_from_slice(name.as_bytes());
        let candidate = PathBuf::from(std::ffi::OsStr::from_bytes(&p));
        match std::fs::metadata(&candidate) {
            Ok(_) => {
                let mut uri = req.uri.to_vec();
                uri.extend_from_slice(name.as_bytes());
                return StaticOutcome::InternalRedirect(uri);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return open_error(&candidate, &e, "open()"),
        }
    }
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => special(
            StatusCode::FORBIDDEN,
            Some(format!(
                "directory index of \"{}\" is forbidden",
                dir.display()
            )),
        ),
        Ok(_) => special(StatusCode::NOT_FOUND, None),
        Err(e) => open_error(&dir, &e, "stat()"),
    }
}

#[cfg(test)]
mod tests;
