//! Writing simple answers as nginx does: keep-alive decision, `add_header`, absolute
//! redirects, `return` and the default error pages.

use super::Next;
use super::client::Client;
use super::ctx::Req;
use super::error::Error;
use super::log::log_error;
use super::respond::{Head, Ka};
use crate::conf::model::Return;
use crate::filter::gzip::{Decision, RequestFacts, ResponseFacts, decide};
use crate::http::status::Status;
use crate::live::Shared;

/// Statuses `add_header` applies to without `always`.
fn add_header_applies(status: Status) -> bool {
    matches!(
        status.code(),
        200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
    )
}

/// Keep-alive decision for a response (nginx's `r->keepalive`; off while the generation exits
/// after a reload or drains, as nginx's header filter does for an exiting worker).
pub fn keepalive(req: &Req<'_>, shared: &Shared, status: Status) -> Ka {
    let h = req.head;
    let (timeout, header) = req.loc.keepalive_timeout;
    let wants = if h.minor == 0 {
        h.conn_keepalive
    } else {
        !h.conn_close
    };
    if !wants
        || timeout.is_zero()
        || status.forces_close()
        || req.conn.requests >= req.loc.keepalive_requests
        || crate::logs::time::now_mono().saturating_duration_since(req.conn.started)
            > req.loc.keepalive_time
        || shared.draining()
        || shared.live.load().generation != req.live.generation
    {
        Ka::Close
    } else {
        Ka::KeepAlive(header.map(|d| d.as_secs()))
    }
}

/// Extra headers from `add_header` for `status`.
pub fn added_headers(req: &Req<'_>, status: Status) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for a in req.loc.add_headers.iter() {
        if a.always || add_header_applies(status) {
            let val = a.value.render(req);
            if !val.is_empty() {
                v.push((a.name.as_bytes().to_vec(), val));
            }
        }
    }
    v
}

/// `http://host[:port]` + `path` for relative redirects (absolute_redirect, port_in_redirect).
pub fn absolute(req: &Req<'_>, path: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let https = req.conn.https;
    v.extend_from_slice(if https { b"https://" } else { b"http://" });
    v.extend_from_slice(req.host());
    let port = req.conn.local.port();
    if req.loc.port_in_redirect && port != if https { 443 } else { 80 } {
        v.extend_from_slice(format!(":{port}").as_bytes());
    }
    v.extend_from_slice(path);
    v
}

/// Sends a complete small response. `location`: (value, special_slot).
#[allow(clippy::too_many_arguments)]
pub async fn send_simple(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    status: Status,
    content_type: Option<&[u8]>,
    body: &[u8],
    location: Option<(Vec<u8>, bool)>,
    force_close: bool,
) -> Next {
    let mut ka = keepalive(req, shared, status);
    if force_close {
        ka = Ka::Close;
    }
    let mut list = added_headers(req, status);
    let special = match &location {
        Some((v, true)) => Some(v.as_slice()),
        Some((v, false)) => {
            list.insert(0, (b"Location".to_vec(), v.clone()));
            None
        }
        None => None,
    };
    let no_length = status == Status::NO_CONTENT || status == Status::NOT_MODIFIED;
    let (gz, packed) = gzip_answer(req, status, content_type, body, &mut list, &mut ka);
    let body = packed.as_deref().unwrap_or(body);
    let mut out = Vec::with_capacity(256 + body.len());
    client.put_head(
        &mut out,
        &Head {
            status,
            content_type,
            content_length: (!no_length && !gz.gzip).then_some(body.len() as u64),
            location: special,
            chunked: gz.gzip && RequestFacts::of(req.head, req.conn.h2).chunked(),
            ka: Some(ka),
            vary: gz.vary,
            ..Head::default()
        },
        list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    write_answer(client, req, out, body, status, ka).await
}

/// The gzip filter on a complete answer of our own (error page, `return` text, static
/// error pages): the verdict, and when gzipped the framed body (chunked for HTTP/1.1, plain for
/// HTTP/2; for HTTP/1.0 the connection closes after it; none for HEAD), `Content-Encoding`
/// appended to `list`, and the stream's counts in `req.gzip_ratio` (`$gzip_ratio`, as nginx
/// logs it for its own pages).
pub fn gzip_answer(
    req: &mut Req<'_>,
    status: Status,
    content_type: Option<&[u8]>,
    body: &[u8],
    list: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ka: &mut Ka,
) -> (Decision, Option<Vec<u8>>) {
    let conf = &req.loc.gzip;
    if !conf.enable || body.is_empty() {
        return (Decision::default(), None);
    }
    let resp = ResponseFacts {
        status,
        content_type,
        content_length: Some(body.len() as u64),
        ..ResponseFacts::default()
    };
    let facts = RequestFacts::of(req.head, req.conn.h2);
    let gz = decide(conf, &facts, &resp);
    if !gz.gzip {
        return (gz, None);
    }
    list.push((b"Content-Encoding".to_vec(), b"gzip".to_vec()));
    if facts.head {
        return (gz, Some(Vec::new()));
    }
    let (z, counts) =
        crate::filter::deflate::gzip_all(body, conf.level, (conf.window_bits, conf.mem_level));
    req.gzip_ratio = Some(counts);
    if facts.closes() {
        *ka = Ka::Close;
    }
    if !facts.chunked() {
        return (gz, Some(z));
    }
    let mut framed = Vec::with_capacity(z.len() + 16);
    crate::http::chunked::encode_chunk(&z, &mut framed);
    framed.extend_from_slice(b"0\r\n\r\n");
    (gz, Some(framed))
}

/// Sends a head already in `out` followed by `body` (not for HEAD), records the status and
/// the sizes for the log, and says whether the connection stays open.
pub async fn write_answer(
    client: &mut Client,
    req: &mut Req<'_>,
    mut out: Vec<u8>,
    body: &[u8],
    status: Status,
    ka: Ka,
) -> Next {
    let head_len = out.len();
    if req.head.method() != b"HEAD" {
        out.extend_from_slice(body);
    }
    req.status = status;
    let r = client.write_all(&out, req.loc.send_timeout).await;
    req.bytes_sent = out.len() as u64;
    req.body_bytes_sent = (out.len() - head_len) as u64;
    match (r, ka) {
        (Ok(()), Ka::KeepAlive(_)) => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}

/// nginx's error page for `status`.
pub async fn send_error(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    status: Status,
) -> Next {
    let body = status.error_page(req.loc.server_tokens);
    let ct: Option<&[u8]> = if body.is_empty() {
        None
    } else {
        Some(b"text/html")
    };
    send_simple(client, req, shared, status, ct, &body, None, false).await
}

/// Answers a `return` directive (444 closes without an answer).
pub async fn do_return(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    r: &Return,
) -> Next {
    if r.status == Status::CLOSE {
        req.status = Status::CLOSE;
        return Next::Close;
    }
    if r.status.is_redirect() {
        let loc = r.text.as_ref().map(|t| t.render(req)).unwrap_or_default();
        let location = if loc.first() == Some(&b'/') && req.loc.absolute_redirect {
            (absolute(req, &loc), true)
        } else {
            (loc, false)
        };
        let body = r.status.error_page(req.loc.server_tokens);
        return send_simple(
            client,
            req,
            shared,
            r.status,
            Some(b"text/html"),
            &body,
            Some(location),
            false,
        )
        .await;
    }
    if let Some(t) = &r.text {
        let body = t.render(req);
        let ct = content_type(req);
        return send_simple(
            client,
            req,
            shared,
            r.status,
            Some(ct.as_bytes()),
            &body,
            None,
            false,
        )
        .await;
    }
    let page = r.status.error_page(req.loc.server_tokens);
    if !page.is_empty() {
        return send_error(client, req, shared, r.status).await;
    }
    let ct = content_type(req);
    let ct = (r.status.code() < 300 && r.status != Status::NO_CONTENT).then_some(ct.as_bytes());
    send_simple(client, req, shared, r.status, ct, b"", None, false).await
}

/// nginx's `ngx_http_set_content_type`: the URI's extension looked up in `types`, else
/// `default_type`.
pub fn content_type(req: &Req<'_>) -> String {
    let uri = &req.uri;
    let name_start = uri.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    if let Some(dot) = uri[name_start..].iter().rposition(|&b| b == b'.') {
        let ext = String::from_utf8_lossy(&uri[name_start + dot + 1..]).to_ascii_lowercase();
        if let Some(t) = req.loc.types.get(&ext) {
            return t.clone();
        }
    }
    req.loc.default_type.clone()
}

/// Answers a failed request as nginx does: the error's line in the error log (with the
/// request's context), then its status's error page, or, for a client that timed out or
/// closed, no answer (the status is logged and the connection closes).
pub async fn send_failure(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    error: &Error,
) -> Next {
    let outcome = error.outcome();
    if let Some(level) = outcome.level
        && req.live.error_log.enabled(level)
    {
        log_error(req.live, req, level, &error.to_string());
    }
    if outcome.answered {
        return send_error(client, req, shared, outcome.status).await;
    }
    req.status = outcome.status;
    Next::Close
}
