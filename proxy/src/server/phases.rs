//! One request through nginx's phases (spec §0): server-level `return`, location lookup with
//! the up-front `client_max_body_size` check, location `return`, `limit_req`, `allow`/`deny`,
//! then the content handler (proxy, stub_status, static), and the access log.

use super::client::{BodyError, Client};
use super::ctx::{ConnInfo, Req, UpstreamLog};
use super::live::Live;
use super::locate::{Found, locate};
use super::respond::{Head, Ka, write_head};
use super::shared::Shared;
use crate::conf::body::Lingering;
use crate::conf::model::{Handler, LogLevel, Return};
use crate::http::head::RequestHead;
use crate::http::linger::{Discard, Finish, lingering_close};
use crate::http::status::{error_page, forces_close};
use crate::http::uri::{normalize, split_args};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait for another request for at most this long.
    KeepAlive(Duration),
    /// Close the connection.
    Close,
}

/// Statuses `add_header` applies to without `always`.
fn add_header_applies(code: u16) -> bool {
    matches!(
        code,
        200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
    )
}

/// Keep-alive decision for a response (nginx's `r->keepalive`; off while the generation exits
/// after a reload or drains, as nginx's header filter does for an exiting worker).
pub fn keepalive(req: &Req<'_>, shared: &Shared, code: u16) -> Ka {
    let h = req.head;
    let (timeout, header) = req.loc.keepalive_timeout;
    let wants = if h.minor == 0 {
        h.conn_keepalive
    } else {
        !h.conn_close
    };
    if !wants
        || timeout.is_zero()
        || forces_close(code)
        || req.conn.requests >= req.loc.keepalive_requests
        || req.conn.started.elapsed() > req.loc.keepalive_time
        || shared.draining()
        || shared.live.load().generation != req.live.generation
    {
        Ka::Close
    } else {
        Ka::KeepAlive(header.map(|d| d.as_secs()))
    }
}

/// Extra headers from `add_header` for `code`.
pub fn added_headers(req: &Req<'_>, code: u16) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for a in req.loc.add_headers.iter() {
        if a.always || add_header_applies(code) {
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
    code: u16,
    content_type: Option<&[u8]>,
    body: &[u8],
    location: Option<(Vec<u8>, bool)>,
    force_close: bool,
) -> Next {
    let mut ka = keepalive(req, shared, code);
    if force_close {
        ka = Ka::Close;
    }
    let mut list = added_headers(req, code);
    let special = match &location {
        Some((v, true)) => Some(v.as_slice()),
        Some((v, false)) => {
            list.insert(0, (b"Location".to_vec(), v.clone()));
            None
        }
        None => None,
    };
    let mut out = Vec::with_capacity(256 + body.len());
    let no_length = code == 204 || code == 304;
    write_head(
        &mut out,
        &Head {
            code,
            content_type,
            content_length: (!no_length).then_some(body.len() as u64),
            location: special,
            ka: Some(ka),
            ..Head::default()
        },
        list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    let head_len = out.len();
    if req.head.method() != b"HEAD" {
        out.extend_from_slice(body);
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

/// nginx's error page for `code`.
pub async fn send_error(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    code: u16,
) -> Next {
    let body = error_page(code, req.loc.server_tokens);
    let ct: Option<&[u8]> = if body.is_empty() {
        None
    } else {
        Some(b"text/html")
    };
    send_simple(client, req, shared, code, ct, &body, None, false).await
}

async fn do_return(client: &mut Client, req: &mut Req<'_>, shared: &Shared, r: &Return) -> Next {
    if r.code == 444 {
        req.status = 444;
        return Next::Close;
    }
    let redirect = matches!(r.code, 301 | 302 | 303 | 307 | 308);
    if redirect {
        let loc = r.text.as_ref().map(|t| t.render(req)).unwrap_or_default();
        let location = if loc.first() == Some(&b'/') && req.loc.absolute_redirect {
            (absolute(req, &loc), true)
        } else {
            (loc, false)
        };
        let body = error_page(r.code, req.loc.server_tokens);
        return send_simple(
            client,
            req,
            shared,
            r.code,
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
            r.code,
            Some(ct.as_bytes()),
            &body,
            None,
            false,
        )
        .await;
    }
    let page = error_page(r.code, req.loc.server_tokens);
    if !page.is_empty() {
        return send_error(client, req, shared, r.code).await;
    }
    let ct = content_type(req);
    let ct = (r.code < 300 && r.code != 204).then_some(ct.as_bytes());
    send_simple(client, req, shared, r.code, ct, b"", None, false).await
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

/// Error-log context suffix: `, client: IP, server: NAME, request: "…", host: "…"`.
pub fn log_ctx(req: &Req<'_>) -> String {
    let mut s = format!(
        ", client: {}, server: {}, request: \"{}\"",
        req.conn.peer.ip(),
        req.server.first_name,
        String::from_utf8_lossy(req.head.request_line())
    );
    if let Some(h) = req.head.header(b"host") {
        s.push_str(&format!(", host: \"{}\"", String::from_utf8_lossy(h)));
    }
    s
}

/// Logs an error-log line for this request.
pub fn log_error(live: &Live, req: &Req<'_>, level: LogLevel, msg: &str) {
    if live.error_log.enabled(level) {
        live.error_log
            .log(level, &format!("*{} {msg}{}", req.conn.id, log_ctx(req)));
    }
}

/// Writes the access log lines of the request.
pub fn access_log(live: &Live, req: &Req<'_>) {
    for l in req.loc.access_logs.iter() {
        let Some(w) = live.access.get(&(std::sync::Arc::as_ptr(l) as usize)) else {
            continue;
        };
        let mut line = Vec::with_capacity(256);
        let mut val = Vec::new();
        for p in &l.format.template.parts {
            match p {
                crate::vars::Part::Lit(b) => line.extend_from_slice(b),
                crate::vars::Part::Var(v) => {
                    val.clear();
                    let found = crate::vars::VarSource::append_var(req, v, &mut val);
                    if !found || val.is_empty() {
                        line.push(b'-');
                    } else {
                        crate::logs::escape_into(&val, l.format.escape, &mut line);
                    }
                }
            }
        }
        line.push(b'\n');
        w.write_line(&line);
    }
}

/// Handles one request whose head was read. Returns what the connection does next.
pub async fn handle(
    client: &mut Client,
    head: &RequestHead,
    ci: &ConnInfo,
    live: &Live,
    shared: &Shared,
    server_idx: usize,
) -> Next {
    let server = &*live.config.http.servers[server_idx];
    let target = head.target();
    let args = match target.iter().position(|&b| b == b'?') {
        Some(i) if target.first() == Some(&b'/') => i + 1..target.len(),
        _ => target.len()..target.len(),
    };
    let uri = normalize(split_args(target).0, server.merge_slashes).ok();
    let (location, redirect, captures) = match uri.as_deref().map(|u| locate(&server.locations, u))
    {
        Some(Found::Loc(l, caps)) => (Some(l), false, caps),
        Some(Found::Redirect(l)) => (Some(l), true, Vec::new()),
        _ => (None, false, Vec::new()),
    };
    let mut req = Req {
        conn: ci,
        head,
        server,
        loc: &server.base,
        live,
        uri: uri.clone().unwrap_or_default(),
        args,
        start: Instant::now(),
        start_time: SystemTime::now(),
        status: 0,
        body_bytes_sent: 0,
        bytes_sent: 0,
        request_length: head.raw.len() as u64 + head.content_length.unwrap_or(0),
        up: UpstreamLog::default(),
        proxy_host: "",
        proxy_port: 0,
        limit_req_status: None,
        captures,
    };
    let mut discard = Discard::none();
    let mut next = run_phases(
        client,
        &mut req,
        shared,
        uri.is_some(),
        location.as_deref(),
        redirect,
        &mut discard,
    )
    .await;
    // nginx's r->lingering_close: a request with a body, until the body is known read whole.
    let mut linger = head.chunked || head.content_length.is_some_and(|n| n > 0);
    let mut plain_close = req.bytes_sent == 0 || req.status == 444;
    if discard.started() && !plain_close {
        let b = &*req.loc.body;
        if discard
            .finish(client, b.lingering_time, b.lingering_timeout)
            .await
            == Finish::Done
        {
            linger = false;
        } else {
            next = Next::Close;
            plain_close = true;
        }
    }
    access_log(live, &req);
    shared.stats.by_status.add(req.status);
    if next == Next::Close && !plain_close && !ci.h2 {
        let b = &*req.loc.body;
        // nginx's error page for 400 clears r->lingering_close.
        let linger = (linger && req.status != 400) || !client.buf.is_empty();
        let go = match b.lingering_close {
            Lingering::Always => true,
            Lingering::On => linger,
            Lingering::Off => false,
        };
        if go {
            lingering_close(client, b.lingering_time, b.lingering_timeout).await;
        }
    }
    next
}

async fn run_phases<'a>(
    client: &mut Client,
    req: &mut Req<'a>,
    shared: &Shared,
    uri_ok: bool,
    location: Option<&'a crate::conf::model::Location>,
    redirect: bool,
    discard: &mut Discard,
) -> Next {
    let live = req.live;
    let server = req.server;
    let head = req.head;
    if !uri_ok {
        log_error(live, req, LogLevel::Info, "client sent invalid request");
        return send_error(client, req, shared, 400).await;
    }
    // SERVER_REWRITE
    if let Some(r) = &server.ret {
        *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
        return do_return(client, req, shared, r).await;
    }
    // FIND_CONFIG
    if let Some(l) = location {
        req.loc = &l.conf;
    }
    let max = req.loc.client_max_body_size;
    if let Some(cl) = head.content_length
        && max > 0
        && cl > max
    {
        log_error(
            live,
            req,
            LogLevel::Error,
            &format!("client intended to send too large body: {cl} bytes"),
        );
        // nginx drops the body while and after answering (no 100 Continue for it).
        *discard = Discard::start(client, head, false, req.loc.send_timeout).await;
        return send_error(client, req, shared, 413).await;
    }
    if redirect {
        let mut path = req.uri.clone();
        path.push(b'/');
        if !req.args().is_empty() {
            path.push(b'?');
            path.extend_from_slice(req.args());
        }
        let loc = absolute(req, &path);
        *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
        let body = error_page(301, req.loc.server_tokens);
        return send_simple(
            client,
            req,
            shared,
            301,
            Some(b"text/html"),
            &body,
            Some((loc, true)),
            false,
        )
        .await;
    }
    // REWRITE
    if let Some(r) = &req.loc.ret {
        *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
        return do_return(client, req, shared, r).await;
    }
    // PREACCESS: limit_req
    if !req.loc.limit_req.is_empty()
        && let Some(next) = super::limit::apply(client, req, shared, discard).await
    {
        return next;
    }
    // ACCESS
    let ip = req.conn.peer.ip();
    for rule in req.loc.access.iter() {
        if rule.matches(ip) {
            if !rule.allow {
                log_error(live, req, LogLevel::Error, "access forbidden by rule");
                *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
                return send_error(client, req, shared, 403).await;
            }
            break;
        }
    }
    // CONTENT
    match &req.loc.handler {
        Handler::Proxy(_) => {
            let p = &req.loc.proxy;
            let has_body = head.content_length.is_some_and(|n| n > 0) || head.chunked;
            // nginx streams only what is still being read: a chunked body already complete
            // in the preread buffer goes upstream with Content-Length.
            let chunked_done = head.chunked && {
                let mut d = crate::http::chunked::Decoder::new(0);
                let mut scratch = Vec::new();
                d.decode(&client.buf, &mut scratch).is_ok() && d.done()
            };
            if !p.request_buffering && has_body && !chunked_done && (!head.chunked || p.http11) {
                let mut done = false;
                let next = crate::upstream::proxy(
                    client,
                    req,
                    shared,
                    crate::upstream::ReqBody::Stream(&mut done),
                )
                .await;
                // nginx: a body still being read when the request ends means no keep-alive
                // (even after a `keep-alive` header) and a lingering close.
                return if done { next } else { Next::Close };
            }
            let body = match crate::upstream::reqbody::read_logged(client, req, max).await {
                Ok(b) => b,
                Err(crate::upstream::reqbody::ReadError::Client(e)) => {
                    return body_error(client, req, shared, e).await;
                }
                Err(crate::upstream::reqbody::ReadError::File(msg)) => {
                    log_error(live, req, LogLevel::Crit, &msg);
                    return send_error(client, req, shared, 500).await;
                }
            };
            crate::upstream::proxy(
                client,
                req,
                shared,
                crate::upstream::ReqBody::Buffered(body),
            )
            .await
        }
        Handler::StubStatus | Handler::ProxylabStatus => {
            *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
            super::status_page::serve(client, req, shared).await
        }
        Handler::Static => {
            *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
            super::static_serve::serve(client, req, shared).await
        }
    }
}

/// Maps a body-reading failure to nginx's behaviour.
pub async fn body_error(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    e: BodyError,
) -> Next {
    match e {
        BodyError::Status(413) => {
            let total = 0;
            let _ = total;
            log_error(
                req.live,
                req,
                LogLevel::Error,
                "client intended to send too large chunked body",
            );
            send_error(client, req, shared, 413).await
        }
        BodyError::Status(code) => {
            log_error(
                req.live,
                req,
                LogLevel::Info,
                "client sent invalid chunked body",
            );
            send_error(client, req, shared, code).await
        }
        BodyError::Timeout => {
            log_error(
                req.live,
                req,
                LogLevel::Info,
                "client timed out (110: Connection timed out) while reading client request body",
            );
            req.status = 408;
            Next::Close
        }
        BodyError::Closed => {
            log_error(
                req.live,
                req,
                LogLevel::Info,
                "client prematurely closed connection while reading client request body",
            );
            req.status = 400;
            Next::Close
        }
    }
}

/// Counts a request for stub_status.
pub fn count_request(shared: &Shared) {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
}
