//! CONTENT phase for locations without `proxy_pass`: the `static_files` module decides (file,
//! 304, ranges, index, 301 to add a slash, 403/404/405/416 pages); this file turns its
//! answer into nginx's bytes on our connection (head order, absolute Location, error pages
//! with `add_header`) and streams the body.

use super::client::Client;
use super::ctx::Req;
use super::phases::{Next, absolute, keepalive, log_error, send_simple};
use super::respond::{Head, Ka, write_head};
use super::shared::Shared;
use crate::conf::model::LogLevel;
use crate::http::status::error_page;
use crate::static_files::{AddHeader, StaticOutcome, StaticRequest, serve as serve_file};
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::SystemTime;

/// Serves the request from the location's root/alias.
pub async fn serve(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let conf = req.loc.static_conf.clone();
    let method = hyper::Method::from_bytes(req.head.method()).unwrap_or(hyper::Method::GET);
    let mut headers = HeaderMap::new();
    for (n, v) in req.head.headers() {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            headers.append(n, v);
        }
    }
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
    let args = String::from_utf8_lossy(req.args()).into_owned();
    let version = if req.head.minor == 0 {
        hyper::Version::HTTP_10
    } else {
        hyper::Version::HTTP_11
    };
    let mut uri = req.uri.clone();
    // An index file is served from the same location (nginx re-runs location matching).
    for _ in 0..10 {
        let sreq = StaticRequest {
            method: &method,
            uri: &uri,
            args: Some(&args),
            version,
            headers: &headers,
            add_headers: &adds,
            now: SystemTime::now(),
        };
        match serve_file(&conf, &sreq) {
            StaticOutcome::InternalRedirect(u) => uri = u,
            StaticOutcome::Special {
                status,
                headers: mut extra,
                log,
            } => {
                let code = status.as_u16();
                if let Some(m) = log {
                    log_error(req.live, req, LogLevel::Error, &m);
                }
                conf.expires
                    .apply(status, &mut extra, SystemTime::now(), None);
                return send_page(client, req, shared, code, extra).await;
            }
            StaticOutcome::Response(resp) => {
                return write_response(client, req, shared, resp).await;
            }
        }
    }
    log_error(
        req.live,
        req,
        LogLevel::Error,
        "rewrite or internal redirection cycle",
    );
    let body = error_page(500, req.loc.server_tokens);
    send_simple(
        client,
        req,
        shared,
        500,
        Some(b"text/html"),
        &body,
        None,
        false,
    )
    .await
}

/// nginx's canonical spelling of a header name (HeaderMap keeps names lowercased): the
/// name as written in `add_header`, else the usual Title-Case.
fn canonical(req: &Req<'_>, name: &str) -> Vec<u8> {
    if let Some(a) = req
        .loc
        .add_headers
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
        return a.name.as_bytes().to_vec();
    }
    match name {
        "etag" => b"ETag".to_vec(),
        "www-authenticate" => b"WWW-Authenticate".to_vec(),
        _ => {
            let mut up = true;
            name.bytes()
                .map(|b| {
                    let c = if up { b.to_ascii_uppercase() } else { b };
                    up = b == b'-';
                    c
                })
                .collect()
        }
    }
}

/// An error page (or the slash redirect) with the module's extra headers.
async fn send_page(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    code: u16,
    extra: HeaderMap,
) -> Next {
    let body = error_page(code, req.loc.server_tokens);
    let ka = keepalive(req, shared, code);
    let mut special_location = None;
    let mut list: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (n, v) in extra.iter() {
        if n == hyper::header::LOCATION {
            let l = v.as_bytes();
            if l.first() == Some(&b'/') && req.loc.absolute_redirect {
                special_location = Some(absolute(req, l));
                continue;
            }
        }
        list.push((canonical(req, n.as_str()), v.as_bytes().to_vec()));
    }
    // add_header entries the module did not already apply (it applies them only to 200/304/416).
    if code != 416 {
        list.extend(super::phases::added_headers(req, code));
    }
    let mut out = Vec::with_capacity(256 + body.len());
    write_head(
        &mut out,
        &Head {
            code,
            content_type: (!body.is_empty()).then_some(&b"text/html"[..]),
            content_length: Some(body.len() as u64),
            location: special_location.as_deref(),
            ka: Some(ka),
            ..Head::default()
        },
        list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    let head_len = out.len();
    if req.head.method() != b"HEAD" {
        out.extend_from_slice(&body);
    }
    req.status = code;
    let r = client.write_all(&out, req.loc.send_timeout).await;
    req.bytes_sent = out.len() as u64;
    req.body_bytes_sent = (out.len() - head_len) as u64;
    match (r, ka) {
        (Ok(()), Ka::KeepAlive(_)) => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}

async fn write_response(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    resp: hyper::Response<crate::static_files::Body>,
) -> Next {
    let code = resp.status().as_u16();
    let ka = keepalive(req, shared, code);
    let (parts, mut body) = resp.into_parts();
    let h = &parts.headers;
    let get = |n: hyper::header::HeaderName| h.get(n).map(HeaderValue::as_bytes);
    let content_length = get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok());
    let special = [
        hyper::header::CONTENT_TYPE,
        hyper::header::CONTENT_LENGTH,
        hyper::header::LAST_MODIFIED,
    ];
    let names: Vec<Vec<u8>> = h
        .iter()
        .filter(|(n, _)| !special.contains(n))
        .map(|(n, _)| canonical(req, n.as_str()))
        .collect();
    let list: Vec<(&[u8], &[u8])> = h
        .iter()
        .filter(|(n, _)| !special.contains(n))
        .zip(&names)
        .map(|((_, v), n)| (n.as_slice(), v.as_bytes()))
        .collect();
    let mut out = Vec::with_capacity(512);
    write_head(
        &mut out,
        &Head {
            code,
            content_type: get(hyper::header::CONTENT_TYPE),
            content_length,
            last_modified: get(hyper::header::LAST_MODIFIED),
            ka: Some(ka),
            ..Head::default()
        },
        list.into_iter(),
    );
    req.status = code;
    let head_len = out.len() as u64;
    let t = req.loc.send_timeout;
    let mut ok = client.write_all(&out, t).await.is_ok();
    req.bytes_sent = if ok { head_len } else { 0 };
    while ok {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    ok = client.write_all(&data, t).await.is_ok();
                    if ok {
                        req.bytes_sent += data.len() as u64;
                    }
                }
            }
            Some(Err(e)) => {
                log_error(
                    req.live,
                    req,
                    LogLevel::Error,
                    &format!("pread() failed ({e})"),
                );
                ok = false;
            }
            None => break,
        }
    }
    req.body_bytes_sent = req.bytes_sent.saturating_sub(head_len);
    match (ok, ka) {
        (true, Ka::KeepAlive(_)) => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}
