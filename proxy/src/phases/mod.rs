//! One request through nginx's phases (spec §0): server-level `return`, location lookup with
//! the up-front `client_max_body_size` check, location `return`, `limit_req`, `allow`/`deny`,
//! then the content handler (proxy, stub_status, static), and the access log.
//!
//! The handlers sit here, above the request layer and beside `upstream` (proxy_pass):
//! [`limit`] (PREACCESS), [`static_serve`] and [`status_page`] (CONTENT, with the
//! Prometheus text of [`prometheus`]); [`locate`] is FIND_CONFIG's location search.

mod cache_metrics;
mod gzip_static;
mod limit;
pub mod locate;
mod prometheus;
mod static_gzip;
mod static_serve;
mod status_page;

use crate::conf::body::Lingering;
use crate::conf::model::{Handler, LogLevel};
use crate::http::head::RequestHead;
use crate::http::linger::{Discard, Finish, lingering_close};
use crate::http::status::Status;
use crate::http::uri::{normalize, split_args};
use crate::live::Shared;
use crate::live::{Live, Route};
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::{ConnInfo, Req, UpstreamLog};
use crate::request::log::{access_log, log_error};
use crate::request::reply::do_return;
use crate::request::reply::{absolute, send_error, send_failure, send_simple};
use locate::{Found, locate};

/// Handles one request whose head was read, on the address `route` serves: the virtual
/// server is chosen by Host. Returns what the connection does next.
pub async fn handle(
    client: &mut Client,
    head: &RequestHead,
    ci: &ConnInfo,
    live: &Live,
    shared: &Shared,
    route: &Route,
) -> Next {
    let servers = &live.config.http.servers;
    let server = &*servers[route.select(head.host())];
    let target = head.target();
    let args = match target.iter().position(|&b| b == b'?') {
        Some(i) if target.first() == Some(&b'/') => i + 1..target.len(),
        _ => target.len()..target.len(),
    };
    // nginx normalises the URI as the request line is read, before Host is known, so with the
    // `merge_slashes` of the server SNI chose, else the address's default server
    // (ngx_http_process_request_uri).
    let first = &servers[route.first(ci.sni.as_deref())];
    let uri = normalize(split_args(target).0, first.merge_slashes).ok();
    let (location, redirect, captures) = match uri.as_deref().map(|u| locate(&server.locations, u))
    {
        Some(Found::Loc(l, caps)) => (Some(l), false, caps),
        Some(Found::Redirect(l)) => (Some(l), true, Vec::new()),
        _ => (None, false, Vec::new()),
    };
    let uri_ok = uri.is_some();
    let mut req = Req {
        conn: ci,
        head,
        server,
        loc: &server.base,
        live,
        uri: uri.unwrap_or_default(),
        args,
        start: crate::logs::time::now_mono(),
        start_time: crate::logs::time::now_wall(),
        status: Status::NONE,
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
    let next = run_phases(
        client,
        &mut req,
        shared,
        uri_ok,
        location.as_deref(),
        redirect,
        &mut discard,
    )
    .await;
    // An HTTP/2 HEADERS frame went outside the counted writes.
    req.bytes_sent += client.head_frame_bytes();
    finish(client, &req, shared, discard, next).await
}

/// The end of a request: the rest of a discarded body read (or the connection closed), the
/// access log and the status count, and nginx's lingering close when the connection closes
/// while the client may still be sending.
async fn finish(
    client: &mut Client,
    req: &Req<'_>,
    shared: &Shared,
    mut discard: Discard,
    mut next: Next,
) -> Next {
    let head = req.head;
    // nginx's r->lingering_close: a request with a body, until the body is known read whole.
    let mut linger = head.chunked || head.content_length.is_some_and(|n| n > 0);
    let mut plain_close = req.bytes_sent == 0 || req.status == Status::CLOSE;
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
    access_log(req.live, req);
    shared.stats.by_status.add(req.status);
    if next == Next::Close && !plain_close && !req.conn.h2 {
        let b = &*req.loc.body;
        // nginx's error page for 400 clears r->lingering_close.
        let linger = (linger && req.status != Status::BAD_REQUEST) || !client.buf.is_empty();
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

/// The phases in order: server `return`, FIND_CONFIG with the up-front 413, the slash
/// redirect, location `return`, PREACCESS (`limit_req`), ACCESS (`allow`/`deny`), CONTENT.
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
        return send_error(client, req, shared, Status::BAD_REQUEST).await;
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
    if let Some(next) = body_too_large(client, req, shared, discard).await {
        return next;
    }
    if redirect {
        return slash_redirect(client, req, shared, discard).await;
    }
    // REWRITE
    if let Some(r) = &req.loc.ret {
        *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
        return do_return(client, req, shared, r).await;
    }
    // PREACCESS: limit_req
    if !req.loc.limit_req.is_empty()
        && let Some(next) = limit::apply(client, req, shared, discard).await
    {
        return next;
    }
    // ACCESS
    if let Some(next) = access(client, req, shared, discard).await {
        return next;
    }
    content(client, req, shared, discard).await
}

/// The up-front `client_max_body_size` check of a Content-Length: nginx's error line and
/// 413, the body dropped while and after answering (no 100 Continue for it).
async fn body_too_large(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    discard: &mut Discard,
) -> Option<Next> {
    let max = req.loc.client_max_body_size;
    let cl = req.head.content_length.filter(|&cl| max > 0 && cl > max)?;
    log_error(
        req.live,
        req,
        LogLevel::Error,
        &format!("client intended to send too large body: {cl} bytes"),
    );
    *discard = Discard::start(client, req.head, false, req.loc.send_timeout).await;
    Some(send_error(client, req, shared, Status::REQUEST_ENTITY_TOO_LARGE).await)
}

/// nginx's auto-redirect of `/x` to the location `/x/`: 301 to the absolute URL, arguments
/// kept.
async fn slash_redirect(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    discard: &mut Discard,
) -> Next {
    let mut path = req.uri.to_vec();
    path.push(b'/');
    if !req.args().is_empty() {
        path.push(b'?');
        path.extend_from_slice(req.args());
    }
    let loc = absolute(req, &path);
    *discard = Discard::start(client, req.head, true, req.loc.send_timeout).await;
    let status = Status::MOVED_PERMANENTLY;
    let body = status.error_page(req.loc.server_tokens);
    send_simple(
        client,
        req,
        shared,
        status,
        Some(b"text/html"),
        &body,
        Some((loc, true)),
        false,
    )
    .await
}

/// ACCESS: the first `allow`/`deny` rule matching the client's address; `deny` answers 403.
async fn access(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    discard: &mut Discard,
) -> Option<Next> {
    let ip = req.conn.peer.ip();
    let rule = req.loc.access.iter().find(|rule| rule.matches(ip))?;
    if rule.allow {
        return None;
    }
    log_error(req.live, req, LogLevel::Error, "access forbidden by rule");
    *discard = Discard::start(client, req.head, true, req.loc.send_timeout).await;
    Some(send_error(client, req, shared, Status::FORBIDDEN).await)
}

/// CONTENT: the location's handler (proxy, status pages, static files); the handlers that
/// do not read the body start discarding it first.
async fn content(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    discard: &mut Discard,
) -> Next {
    let head = req.head;
    match &req.loc.handler {
        Handler::Proxy(_) => proxy(client, req, shared).await,
        Handler::StubStatus | Handler::ProxylabStatus => {
            *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
            status_page::serve(client, req, shared).await
        }
        Handler::Static => {
            *discard = Discard::start(client, head, true, req.loc.send_timeout).await;
            static_serve::serve(client, req, shared).await
        }
    }
}

/// `proxy_pass`: the body streamed while proxying (`proxy_request_buffering off`, when
/// still being read), else read whole first (memory or a temporary file).
async fn proxy(client: &mut Client, req: &mut Req<'_>, shared: &Shared) -> Next {
    let head = req.head;
    let max = req.loc.client_max_body_size;
    let conf = &req.loc.proxy;
    let has_body = head.content_length.is_some_and(|n| n > 0) || head.chunked;
    // nginx streams only what is still being read: a chunked body already complete
    // in the preread buffer goes upstream with Content-Length.
    let chunked_done = head.chunked && {
        let mut d = crate::http::body::BodyDecoder::new(client.is_h2(), 0);
        let mut scratch = Vec::new();
        d.decode(&client.buf, &mut scratch).is_ok() && d.done()
    };
    if !conf.request_buffering && has_body && !chunked_done && (!head.chunked || conf.http11) {
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
        Err(error) => return send_failure(client, req, shared, &error).await,
    };
    crate::upstream::proxy(
        client,
        req,
        shared,
        crate::upstream::ReqBody::Buffered(body),
    )
    .await
}
