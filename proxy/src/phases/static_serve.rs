//! CONTENT phase for locations without `proxy_pass`: the `static_files` module decides (file,
//! 304, ranges, index, 301 to add a slash, 403/404/405/416 pages); its answer is written by
//! [`super::static_write`] (files, `HeaderMap` responses) and [`super::static_page`] (pages
//! with headers).

use super::static_gzip::{self};
use super::static_page::send_page;
use super::static_write::{file_head, send, write_response};
use crate::conf::model::LogLevel;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::log::log_error;
use crate::request::reply::{keepalive, send_simple};
use crate::request::respond::Ka;
use crate::static_files::{AddHeader, Expires, Served, StaticOutcome, StaticRequest, serve_direct};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::SystemTime;

/// Request headers the static module looks at.
const READ_HEADERS: [&[u8]; 6] = [
    b"if-modified-since",
    b"if-none-match",
    b"if-unmodified-since",
    b"if-match",
    b"range",
    b"if-range",
];

/// Only the request headers the static module reads (conditionals and ranges): most
/// requests have none, and then the map allocates nothing.
fn read_headers(req: &Req<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (n, v) in req.head.headers() {
        // all of them start with `i` or `r`
        let first = n.first().map(u8::to_ascii_lowercase);
        if !matches!(first, Some(b'i' | b'r'))
            || !READ_HEADERS.iter().any(|r| n.eq_ignore_ascii_case(r))
        {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            headers.append(n, v);
        }
    }
    headers
}

/// The location's `add_header` entries, rendered.
fn add_headers(req: &Req<'_>) -> Vec<AddHeader> {
    let mut adds = Vec::new();
    for a in req.loc.add_headers.iter() {
        let v = a.value.render(req);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(a.name.as_bytes()),
            HeaderValue::from_bytes(&v),
        ) {
            adds.push(AddHeader {
                name,
                value,
                always: a.always,
            });
        }
    }
    adds
}

/// Serves the request from the location's root/alias.
pub async fn serve(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let conf = req.loc.static_conf.clone();
    let method = hyper::Method::from_bytes(req.head.method()).unwrap_or(hyper::Method::GET);
    let mut headers = read_headers(req);
    if static_gzip::drops_ranges(req) {
        headers.remove(hyper::header::RANGE);
        headers.remove(hyper::header::IF_RANGE);
    }
    let adds = add_headers(req);
    let args = String::from_utf8_lossy(req.args());
    let version = if req.head.minor == 0 {
        hyper::Version::HTTP_10
    } else {
        hyper::Version::HTTP_11
    };
    let mut uri = std::borrow::Cow::Borrowed(&req.uri[..]);
    // gzip_static found FILE.gz: the response varies on Accept-Encoding (gzip_vary)
    let mut static_vary = false;
    // An index file is served from the same location (nginx re-runs location matching).
    for _ in 0..10 {
        let sreq = StaticRequest {
            method: &method,
            uri: &uri,
            args: Some(&args),
            version,
            headers: &headers,
            add_headers: &adds,
            // only `expires` reads the time
            now: if conf.expires == Expires::Off {
                SystemTime::UNIX_EPOCH
            } else {
                SystemTime::now()
            },
        };
        if let Some(resp) = super::gzip_static::try_serve(req, &conf, &sreq, &mut static_vary) {
            return write_response(client, req, shared, resp, static_vary).await;
        }
        let outcome = match serve_direct(&conf, &sreq) {
            Served::File(f) => {
                // the head is written here and only the body moves into the sending future
                let code = Status::from(f.status);
                let mut ka = keepalive(req, shared, code);
                let mut gz = static_gzip::decide(req, &f);
                gz.vary |= static_vary && req.loc.gzip.vary;
                if gz.gzip && static_gzip::facts(req).closes() {
                    ka = Ka::Close;
                }
                let (scratch, body) = file_head(client, req, f, ka, gz);
                return send(client, req, code, ka, scratch, body, gz.gzip).await;
            }
            Served::Other(o) => o,
        };
        match outcome {
            StaticOutcome::InternalRedirect(u) => uri = std::borrow::Cow::Owned(u),
            StaticOutcome::Special {
                status,
                headers: mut extra,
                log,
            } => {
                let code = Status::from(status);
                if let Some(m) = log {
                    log_error(req.live, req, LogLevel::Error, &m);
                }
                conf.expires
                    .apply(status, &mut extra, SystemTime::now(), None);
                return send_page(client, req, shared, code, extra).await;
            }
            StaticOutcome::Response(resp) => {
                return write_response(client, req, shared, resp, static_vary).await;
            }
        }
    }
    redirection_cycle(client, req, shared).await
}

/// Too many index redirections: nginx's error line and 500 page.
async fn redirection_cycle(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    log_error(
        req.live,
        req,
        LogLevel::Error,
        "rewrite or internal redirection cycle",
    );
    let status = Status::INTERNAL_SERVER_ERROR;
    let body = status.error_page(req.loc.server_tokens);
    send_simple(
        client,
        req,
        shared,
        status,
        Some(b"text/html"),
        &body,
        None,
        false,
    )
    .await
}
