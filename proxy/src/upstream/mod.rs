//! proxy_pass: tries over the upstream group (the `balance` module picks peers), nginx's
//! `proxy_next_upstream` rules (error/timeout/invalid_header/http_5xx/429, non_idempotent,
//! tries, timeout; POST not retried once sent; a failure on a reused keepalive connection
//! gives its try back), the 502/504 split, and the keepalive pool.

mod buffered;
mod cache_filters;
mod cache_flow;
mod cache_send;
mod cache_store;
mod exchange;
mod framer;
mod gzip;
mod hidden;
mod relay;
pub mod reqbody;
pub mod request;
mod temp_file;
mod tunnel;

use crate::balance::{Attempt, PeerAddr, PeerOutcome, RequestInput};
use crate::conf::model::{Handler, LogLevel, Method, ProxyConf, ProxyPass};
use crate::http::status::Status;
use crate::live::pool::Pool;
use crate::live::{Shared, UpstreamRt};
use crate::request::Next;
use crate::request::abort::AbortWatch;
use crate::request::client::Client;
use crate::request::ctx::{Req, UpTry};
use crate::request::error::{Cause, Error, Stage};
use crate::request::log::log_ctx;
use crate::request::reply::{send_error, send_failure};
use cache_flow::{CacheState, Lookup};
use exchange::{ClientSide, Sent, StreamBody};
use std::time::{Duration, Instant};

/// A try that got a response head, with what handling the response needs: the pool its
/// connection goes back to, the proxy_pass, the balancer's attempt and when the try started.
pub(super) struct Got<'g> {
    /// The exchange: connection, head, body bytes read with the head.
    pub(super) sent: Sent,
    /// The keepalive pool.
    pub(super) pool: &'g Pool,
    /// The location's proxy_pass.
    pub(super) pass: &'g ProxyPass,
    /// The balancer's attempt (the peer is released when the response ends).
    pub(super) attempt: &'g mut Attempt,
    /// When the try started (`$upstream_response_time`).
    pub(super) started: Instant,
}

/// The request body of a proxied request.
#[derive(Debug)]
pub enum ReqBody<'a> {
    /// Read whole before contacting the upstream (`proxy_request_buffering on`), in memory
    /// or in a temporary file.
    Buffered(reqbody::Body),
    /// Streamed from the client while sending (`proxy_request_buffering off`): no retry once
    /// sending started. The flag is set once the whole body was read from the client; when it
    /// is not, the connection cannot be reused (nginx: `reading_body` → lingering close).
    Stream(&'a mut bool),
}

/// What every try of one request reads: `proxy_next_upstream*` and the request's kind.
struct Retry<'c> {
    conf: &'c ProxyConf,
    /// When the first try started (`proxy_next_upstream_timeout`).
    started: Instant,
    /// POST, LOCK or PATCH: not retried once sent unless `non_idempotent`.
    non_idempotent: bool,
}

impl Retry<'_> {
    fn expired(&self) -> bool {
        let limit = self.conf.next_upstream_timeout;
        !limit.is_zero() && self.started.elapsed() >= limit
    }

    /// Whether `proxy_next_upstream` lists the condition `error` meets.
    fn allows(&self, error: &Error, non_idempotent: bool) -> bool {
        let condition = error.condition(non_idempotent);
        self.conf.next_upstream & condition == condition
    }

    /// nginx's `ngx_http_upstream_next`: no other peer after `error` when no try is left, the
    /// condition is not listed, the time is up, or a streamed body was sent already.
    fn gives_up(&self, attempt: &Attempt, error: &Error, body_sent: bool) -> bool {
        attempt.tries_left() == 0
            || !self.allows(error, self.non_idempotent)
            || self.expired()
            || body_sent
    }

    /// The status to pass over (`http_500` … `http_429`) when another try may follow:
    /// nginx's `ngx_http_upstream_test_next`. The request was sent, so a POST, LOCK or PATCH
    /// is passed over only when `proxy_next_upstream` also has `non_idempotent`.
    fn passes_over(&self, attempt: &Attempt, sent: &Sent, body_sent: bool) -> Option<Error> {
        let cause = Cause::passable(sent.head.status)?;
        let mut error = Error::at(Stage::ReadingResponseHeader, cause);
        error.request_sent = true;
        let retry = attempt.tries_left() > 1
            && self.allows(&error, self.non_idempotent)
            && !self.expired()
            && !body_sent;
        retry.then_some(error)
    }
}

/// Logs `msg` with the request's context and `upstream: "http://PEER/URI"`.
fn log_up(req: &Req<'_>, level: LogLevel, msg: &str, peer: &str) {
    let live = req.live;
    if !live.error_log.enabled(level) {
        return;
    }
    let ctx = log_ctx(req);
    let (before, host) = match ctx.find(", host: ") {
        Some(i) => (&ctx[..i], &ctx[i..]),
        None => (&ctx[..], ""),
    };
    let up = format!(
        ", upstream: \"http://{peer}{}\"",
        String::from_utf8_lossy(req.head.target())
    );
    live.error_log
        .log(level, &format!("*{} {msg}{before}{up}{host}", req.conn.id));
}

/// The new try's entry in `$upstream_*`.
fn new_try(addr: std::sync::Arc<str>) -> UpTry {
    UpTry {
        addr,
        status: Status::NONE,
        time: Duration::ZERO,
        connect: None,
        header: None,
    }
}

/// Times the current try and sets its status.
fn end_try(req: &mut Req<'_>, status: Status, time: Duration) {
    if let Some(t) = req.up.tries.last_mut() {
        t.status = status;
        t.time = time;
    }
}

/// Records a failed try: its status and time, the peer's failure (a reused connection's
/// `error` gives the try back), and the log lines.
fn try_failed(
    req: &mut Req<'_>,
    attempt: &mut Attempt,
    error: &Error,
    end: Instant,
    started: Instant,
    peer: &str,
) {
    end_try(req, error.outcome().status, end - started);
    let report = attempt.finish(PeerOutcome::Failed, end);
    if error.reused && error.condition(false) == crate::conf::model::next_upstream::ERROR {
        attempt.give_back_try();
    }
    log_up(req, LogLevel::Error, &error.to_string(), peer);
    if report.temporarily_disabled {
        log_up(
            req,
            LogLevel::Warn,
            "upstream server temporarily disabled while connecting to upstream",
            peer,
        );
    }
}

/// Records a status passed over (`error`): the try's time, the peer's outcome (the
/// upstream's 403 and 404 are not failures), and the log line when the peer got disabled.
fn status_passed_over(
    req: &mut Req<'_>,
    attempt: &mut Attempt,
    error: &Error,
    end: Instant,
    started: Instant,
    peer: &str,
) {
    end_try(req, error.outcome().status, end - started);
    let outcome = if error.peer_failed() {
        PeerOutcome::Failed
    } else {
        PeerOutcome::Ok
    };
    if attempt.finish(outcome, end).temporarily_disabled {
        log_up(
            req,
            LogLevel::Warn,
            "upstream server temporarily disabled while reading response header from upstream",
            peer,
        );
    }
}

/// No peer can be tried: nginx's `no live upstreams` (logged with the group's name) and 502.
async fn no_live_upstreams(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    upstream: &UpstreamRt,
    pass: &ProxyPass,
    cache: &mut Option<CacheState>,
) -> Next {
    let error = Error::at(Stage::Connecting, Cause::NoLiveUpstreams);
    let status = error.outcome().status;
    log_up(
        req,
        LogLevel::Error,
        &error.to_string(),
        &upstream.conf.name,
    );
    let mut entry = new_try(upstream.conf.name.as_str().into());
    entry.status = status;
    req.up.tries.push(entry);
    cache_flow::fail(client, req, shared, pass, cache, cache_flow::NOLIVE, status).await
}

/// The balancer's attempt for this request (`hash` renders its key), at most
/// `proxy_next_upstream_tries` tries.
fn begin(req: &Req<'_>, upstream: &UpstreamRt) -> Attempt {
    let key = match &upstream.conf.method {
        Method::Hash { key, .. } => key.render(req),
        _ => Vec::new(),
    };
    let mut attempt = upstream.group().begin(RequestInput {
        client_ip: Some(req.conn.peer.ip()),
        hash_key: &key,
    });
    attempt.limit_tries(req.loc.proxy.next_upstream_tries);
    attempt
}

/// The request head sent upstream, framed for the body.
fn request_head(
    req: &Req<'_>,
    pass: &ProxyPass,
    body: &reqbody::Body,
    streaming: bool,
    cache: Option<&CacheState>,
) -> Vec<u8> {
    let length = if !streaming {
        request::BodyLen::Known(body.len())
    } else if let Some(n) = req.head.content_length {
        request::BodyLen::Known(n)
    } else {
        request::BodyLen::Chunked
    };
    if req.loc.proxy.cache.is_some() {
        let headers = cache.map(cache_flow::revalidation).unwrap_or_default();
        return request::build_with(req, pass, length, Some(&headers));
    }
    request::build(req, pass, length)
}

/// Proxies the request (body already read, or streamed) and writes the response. Returns
/// what the client connection does next.
pub async fn proxy(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    body: ReqBody<'_>,
) -> Next {
    let Handler::Proxy(pass) = &req.loc.handler else {
        return send_error(client, req, shared, Status::INTERNAL_SERVER_ERROR).await;
    };
    req.proxy_host = &pass.proxy_host;
    req.proxy_port = pass.proxy_port;
    match cache_flow::lookup(client, req, shared, pass).await {
        Lookup::Off => proxy_with(client, req, shared, body, pass, None).await,
        Lookup::Served(next) => next,
        Lookup::Go(st) => proxy_with(client, req, shared, body, pass, Some(st)).await,
        Lookup::Background(next, st) => {
            let _ = proxy_with(client, req, shared, body, pass, Some(st)).await;
            next
        }
    }
}

/// [`proxy`] after the cache lookup (`cache`: the request's cache state, if any).
async fn proxy_with(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    body: ReqBody<'_>,
    pass: &ProxyPass,
    mut cache: Option<CacheState>,
) -> Next {
    let loc = req.loc;
    let upstream = &req.live.upstreams[pass.upstream];
    let mut attempt = begin(req, upstream);
    let streaming = matches!(body, ReqBody::Stream(_));
    let mut unused = false;
    let (body, stream_done) = body_and_flag(body, &mut unused);
    let head = request_head(req, pass, &body, streaming, cache.as_ref());
    let retry = Retry {
        conf: &loc.proxy,
        started: Instant::now(),
        non_idempotent: matches!(req.head.method(), b"POST" | b"LOCK" | b"PATCH"),
    };
    let pool = &upstream.pools[crate::live::worker_index() % upstream.pools.len().max(1)];
    let mut body_sent = false;
    let mut now = retry.started;
    loop {
        let Ok(peer) = attempt.next_peer(now) else {
            return no_live_upstreams(client, req, shared, upstream, pass, &mut cache).await;
        };
        let PeerAddr::Inet(addr) = peer.addr else {
            attempt.finish(PeerOutcome::Failed, Instant::now());
            let error = Error::at(Stage::Connecting, Cause::UnixSocketPeer);
            return send_failure(client, req, shared, &error).await;
        };
        req.up.tries.push(new_try(peer.name.clone()));
        let started = now;
        let streamed = (streaming && !body_sent).then_some(&mut *stream_done);
        let side = client_side(client, req, streamed);
        let tried = exchange::try_peer(pool, addr, retry.conf, &head, &body, side, started);
        let error = match tried.await {
            Err(error) => {
                let at = (&mut attempt, started, &*peer.name);
                if let Some(next) = ends_request(client, req, shared, &error, at).await {
                    return next;
                }
                body_sent |= streaming && error.request_sent;
                now = Instant::now();
                try_failed(req, &mut attempt, &error, now, started, &peer.name);
                error
            }
            Ok(sent) => {
                body_sent |= streaming;
                head_received(req, &sent);
                let Some(error) = retry.passes_over(&attempt, &sent, body_sent) else {
                    let got = Got {
                        sent,
                        pool,
                        pass,
                        attempt: &mut attempt,
                        started,
                    };
                    return answer(client, req, shared, got, cache.take()).await;
                };
                now = Instant::now();
                status_passed_over(req, &mut attempt, &error, now, started, &peer.name);
                error
            }
        };
        if retry.gives_up(&attempt, &error, body_sent) {
            let (mask, status) = (error.condition(false), error.outcome().status);
            return cache_flow::fail(client, req, shared, pass, &mut cache, mask, status).await;
        }
    }
}

/// The buffered body (empty when streamed), and the flag a streamed body sets once read whole
/// (`unused` for a buffered one).
fn body_and_flag<'a>(body: ReqBody<'a>, unused: &'a mut bool) -> (reqbody::Body, &'a mut bool) {
    match body {
        ReqBody::Buffered(b) => (b, unused),
        ReqBody::Stream(done) => (reqbody::Body::Mem(Vec::new()), done),
    }
}

/// The failures of a try that end the request instead of passing to the next server: the
/// client went away (499), its body failed, or no socket could be made. `at` is the try's
/// attempt, start and server name.
async fn ends_request(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    error: &Error,
    (attempt, started, peer): (&mut Attempt, Instant, &str),
) -> Option<Next> {
    Some(match error.cause {
        Cause::ClientAborted | Cause::StreamReset { .. } | Cause::ConnectionClosed => {
            client_aborted(req, attempt, error, started, peer)
        }
        _ if error.from_client() => body_failed(client, req, shared, attempt, error, started).await,
        Cause::NoSocket(_) => no_socket(client, req, shared, attempt, error, peer).await,
        _ => return None,
    })
}

/// The client's part in the next try: its body streamed (`streamed` is set once it was read
/// whole), else its connection watched for a close unless `proxy_ignore_client_abort` is on.
fn client_side<'c, 'h>(
    client: &'c mut Client,
    req: &Req<'h>,
    streamed: Option<&'c mut bool>,
) -> ClientSide<'c, 'h> {
    match streamed {
        Some(done) => ClientSide::Stream(StreamBody {
            client,
            head: req.head,
            max: req.loc.client_max_body_size,
            timeout: req.loc.client_body_timeout,
            done,
        }),
        None if !req.loc.proxy.ignore_client_abort => ClientSide::Watch(AbortWatch::of(client)),
        None => ClientSide::Idle,
    }
}

/// A try got a response head: its status and times in `$upstream_*`.
fn head_received(req: &mut Req<'_>, sent: &Sent) {
    if let Some(t) = req.up.tries.last_mut() {
        t.status = sent.head.status;
        t.connect = Some(sent.connect_time);
        t.header = Some(sent.header_time);
    }
}

/// The client failed while its body was streamed: not the peer's fault; nginx's answer for
/// the body error.
async fn body_failed(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    attempt: &mut Attempt,
    error: &Error,
    started: Instant,
) -> Next {
    attempt.finish(PeerOutcome::Ok, Instant::now());
    if let Some(t) = req.up.tries.last_mut() {
        t.time = started.elapsed();
    }
    send_failure(client, req, shared, error).await
}

/// No socket for the upstream connection (out of file descriptors): nginx finalizes the
/// request with 500 at once (`ngx_http_upstream_connect` on NGX_ERROR), logs the `socket()`
/// line at `alert` with the peer, tries no other peer and does not count the peer as failed;
/// the try has no status (`-`).
async fn no_socket(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    attempt: &mut Attempt,
    error: &Error,
    peer: &str,
) -> Next {
    attempt.finish(PeerOutcome::Ok, Instant::now());
    let outcome = error.outcome();
    log_up(
        req,
        outcome.level.unwrap_or(LogLevel::Alert),
        &error.to_string(),
        peer,
    );
    send_error(client, req, shared, outcome.status).await
}

/// The client closed while the try waited (nginx's `ngx_http_upstream_check_broken_connection`
/// finalizing with 499): the upstream connection was dropped with the try, the peer is not at
/// fault, the try has no status (`-`), the info line names the upstream, nothing is answered.
fn client_aborted(
    req: &mut Req<'_>,
    attempt: &mut Attempt,
    error: &Error,
    started: Instant,
    peer: &str,
) -> Next {
    let end = Instant::now();
    end_try(req, Status::NONE, end - started);
    attempt.finish(PeerOutcome::Ok, end);
    let outcome = error.outcome();
    if let Some(level) = outcome.level {
        log_up(req, level, &error.to_string(), peer);
    }
    req.status = outcome.status;
    Next::Close
}

/// Answers with the response of the try that got one: through the cache when the request
/// has a cache state, else relayed.
async fn answer(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    got: Got<'_>,
    cache: Option<CacheState>,
) -> Next {
    match cache {
        Some(st) => cache_store::respond(client, req, shared, got, st).await,
        None => respond(client, req, shared, got).await,
    }
}

/// Relays the response of the try that got one; a relay that ended before the upstream part
/// was complete releases the peer here.
async fn respond(client: &mut Client, req: &mut Req<'_>, shared: &Shared, got: Got<'_>) -> Next {
    let Got {
        sent,
        pool,
        pass,
        attempt,
        started,
    } = got;
    let next = relay::send(
        client,
        req,
        shared,
        sent.conn,
        sent.head,
        sent.leftover,
        pool,
        pass,
        attempt,
        started,
    )
    .await;
    // relay::send released the peer and timed the try when the response was complete; only a
    // relay that ended before that is finished here.
    if attempt.current().is_some() {
        let end = Instant::now();
        if let Some(t) = req.up.tries.last_mut() {
            t.time = end - started;
        }
        attempt.finish(PeerOutcome::Ok, end);
    }
    next
}
