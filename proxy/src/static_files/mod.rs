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
mod files;
mod headers;
mod mime;
mod mime_table;
mod path;
mod range;
mod respond;
mod text;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use hyper::header::{HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Response, StatusCode, Version};

pub use body::{Body, CHUNK, Part, empty, file_part, file_parts, full};
pub use conditional::evaluate as conditional_verdict;
pub use conditional::{
    Conditionals, ImsMode, Precondition, etag, etag_list_matches, http_date, parse_http_date,
    unix_secs,
};
pub use headers::{AddHeader, Expires, ExpiresError, apply_add_headers, is_safe_status};
pub use mime::{MimeTypes, NGINX_MIME_TYPES};
pub use path::{
    DocRoot, UriError, escape_uri, exten, is_normalized, map_uri_to_path, normalize_uri,
};
pub use range::{ByteRange, Multipart, RangeDecision, evaluate as range_verdict};
pub use respond::{FileResponse, Served};
pub use text::{HEADER_TEXT_CAP, HeaderText, write_http_date};

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

/// Serves a static file for `req` under `conf`, as nginx's content phase does for a
/// location without `proxy_pass`/`return`. Opening and `stat` are synchronous (as nginx
/// without aio); the body is streamed. (The proxy itself uses [`serve_direct`], which
/// leaves the common responses unboxed.)
pub fn serve(conf: &StaticConf, req: &StaticRequest<'_>) -> StaticOutcome {
    serve_direct(conf, req).into_outcome()
}

/// [`serve`], with a 200/206/304 of a location without `expires` and `add_header` as a
/// [`FileResponse`] (fixed fields, inline values, no `HeaderMap`): the same headers and
/// body, built without the allocations of an `http::Response`.
pub fn serve_direct<'c>(conf: &'c StaticConf, req: &StaticRequest<'_>) -> Served<'c> {
    match open(conf, req) {
        Opened::File(file, path, size, mtime) => {
            respond::respond(conf, req, file, path, size, mtime)
        }
        Opened::Answer(other) => Served::Other(other),
    }
}

/// What [`open`] found.
enum Opened {
    /// A regular file to send: the open file, its path, size (bytes) and mtime.
    File(Arc<std::fs::File>, PathBuf, u64, SystemTime),
    /// Not a file to send: the answer.
    Answer(StaticOutcome),
}

/// The checks and the `open`/`fstat` before a regular file is answered.
fn open(conf: &StaticConf, req: &StaticRequest<'_>) -> Opened {
    if !is_normalized(req.uri) {
        return Opened::Answer(special(StatusCode::BAD_REQUEST, None));
    }
    let (get, head, post) = (
        req.method == Method::GET,
        req.method == Method::HEAD,
        req.method == Method::POST,
    );
    if !(get || head || post) {
        return Opened::Answer(special(StatusCode::METHOD_NOT_ALLOWED, None));
    }
    if req.uri.ends_with(b"/") {
        return Opened::Answer(index(conf, req));
    }
    let path = path::map_uri_into(&conf.root, req.uri, body::take_path_buf());
    // a regular file this thread still holds open, unchanged (see `files`), else opened now
    let (file, meta, fresh) = match files::reuse(&path) {
        Some((file, meta)) => (file, meta, false),
        None => match open_regular(req, &path) {
            Ok((file, meta)) => (file, meta, true),
            Err(answer) => return Opened::Answer(*answer),
        },
    };
    if post {
        return Opened::Answer(special(StatusCode::METHOD_NOT_ALLOWED, None));
    }
    if fresh {
        files::keep(&path, &file, &meta);
    }
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Opened::File(file, path, meta.len(), mtime)
}

/// `open` + `fstat` of `path`: the open regular file and its metadata, or the answer for a
/// directory (301 to the slash form), another kind of file (404) or an error (boxed: the
/// answer is large and the rare case).
fn open_regular(
    req: &StaticRequest<'_>,
    path: &std::path::Path,
) -> Result<(Arc<std::fs::File>, std::fs::Metadata), Box<StaticOutcome>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => Arc::new(f),
        Err(e) => return Err(Box::new(open_error(path, &e, "open()"))),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Err(Box::new(open_error(path, &e, "fstat()"))),
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
        return Err(Box::new(StaticOutcome::Special {
            status: StatusCode::MOVED_PERMANENTLY,
            headers,
            log: None,
        }));
    }
    if !meta.is_file() {
        return Err(Box::new(special(
            StatusCode::NOT_FOUND,
            Some(format!("\"{}\" is not a regular file", path.display())),
        )));
    }
    Ok((file, meta))
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
