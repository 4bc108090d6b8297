//! proxy_pass: tries over the upstream group (the `balance` module picks peers), nginx's
//! `proxy_next_upstream` rules (error/timeout/invalid_header/http_5xx/429, non_idempotent,
//! tries, timeout; POST not retried once sent; a failure on a reused keepalive connection
//! gives its try back), the 502/504 split, and the keepalive pool.

mod buffered;
mod framer;
mod hidden;
mod relay;
pub mod reqbody;
pub mod request;
mod tunnel;

use crate::balance::{PeerAddr, PeerOutcome, RequestInput};
use crate::conf::model::{Handler, LogLevel, Method, ProxyConf, next_upstream as nu};
use crate::http::response::{self, HeadError, UpHead};
use crate::live::Shared;
use crate::live::pool::{Pool, UpConn};
use crate::logs::os_error;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::{Req, UpTry};
use crate::request::log::log_ctx;
use crate::request::reply::send_error;
use crate::request::stream::write_all_timed;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

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

/// A failed try.
struct Fail {
    /// The client failed while its body was streamed (not an upstream failure).
    client: Option<crate::request::client::BodyError>,
    /// NGX_HTTP_UPSTREAM_FT_* bit.
    ft: u32,
    msg: String,
    request_sent: bool,
    reused: bool,
}

fn timeout_msg(stage: &str) -> String {
    format!("upstream timed out (110: Connection timed out) while {stage}")
}

async fn connect(addr: SocketAddr, t: Duration) -> Result<UpConn, Fail> {
    let fail = |ft, msg| Fail {
        client: None,
        ft,
        msg,
        request_sent: false,
        reused: false,
    };
    match tokio::time::timeout(t, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(UpConn {
                stream,
                addr,
                created: Instant::now(),
                requests: 0,
            })
        }
        Ok(Err(e)) => Err(fail(
            nu::ERROR,
            format!(
                "connect() failed ({}) while connecting to upstream",
                os_error(&e)
            ),
        )),
        Err(_) => Err(fail(nu::TIMEOUT, timeout_msg("connecting to upstream"))),
    }
}

struct Sent {
    conn: UpConn,
    head: UpHead,
    leftover: Vec<u8>,
    connect_time: Duration,
    header_time: Duration,
}

/// Streams the client's body to the upstream (Content-Length as is, chunked re-chunked).
async fn pump(
    client: &mut Client,
    head: &crate::http::head::RequestHead,
    max: u64,
    body_timeout: Duration,
    up: &mut TcpStream,
    send_timeout: Duration,
) -> Result<(), Result<crate::request::client::BodyError, std::io::Error>> {
    use crate::http::chunked::{ChunkError, Decoder, encode_chunk};
    use crate::request::client::BodyError;
    if let Some(cl) = head.content_length {
        let mut left = cl;
        loop {
            let n = (left as usize).min(client.buf.len());
            if n > 0 {
                write_all_timed(up, &client.buf[..n], send_timeout)
                    .await
                    .map_err(Err)?;
                client.buf.drain(..n);
                left -= n as u64;
            }
            if left == 0 {
                return Ok(());
            }
            client.fill(body_timeout).await.map_err(Ok)?;
        }
    }
    let mut dec = Decoder::new(max);
    let mut decoded = Vec::new();
    let mut out = Vec::new();
    loop {
        decoded.clear();
        let used = dec.decode(&client.buf, &mut decoded).map_err(|e| {
            Ok(match e {
                ChunkError::Invalid => BodyError::Status(400),
                ChunkError::TooLarge => BodyError::Status(413),
            })
        })?;
        client.buf.drain(..used);
        out.clear();
        if !decoded.is_empty() {
            encode_chunk(&decoded, &mut out);
        }
        if dec.done() {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        if !out.is_empty() {
            write_all_timed(up, &out, send_timeout).await.map_err(Err)?;
        }
        if dec.done() {
            return Ok(());
        }
        client.fill(body_timeout).await.map_err(Ok)?;
    }
}

/// Streaming source for [`one_try`].
struct StreamBody<'c, 'h> {
    client: &'c mut Client,
    head: &'h crate::http::head::RequestHead,
    max: u64,
    timeout: Duration,
    done: &'c mut bool,
}

async fn one_try(
    pool: &Pool,
    addr: SocketAddr,
    p: &ProxyConf,
    req_head: &[u8],
    body: &reqbody::Body,
    stream: Option<StreamBody<'_, '_>>,
    t0: Instant,
) -> Result<Sent, Fail> {
    // A cached connection has no connect time (nginx logs 0.000 for it).
    let (mut conn, reused, connect_time) = match pool.take(addr, t0) {
        Some(c) => (c, true, Duration::ZERO),
        None => {
            let c = connect(addr, p.connect_timeout).await?;
            let t = c.created - t0;
            (c, false, t)
        }
    };
    let fail = |ft, msg| Fail {
        client: None,
        ft,
        msg,
        request_sent: true,
        reused,
    };
    conn.requests += 1;
    let send = body.send(&mut conn.stream, req_head, p.send_timeout).await;
    let send = match (send, stream) {
        (Ok(()), Some(sb)) => {
            match pump(
                sb.client,
                sb.head,
                sb.max,
                sb.timeout,
                &mut conn.stream,
                p.send_timeout,
            )
            .await
            {
                Ok(()) => {
                    *sb.done = true;
                    Ok(())
                }
                Err(Ok(be)) => {
                    let mut f = fail(nu::ERROR, String::new());
                    f.client = Some(be);
                    return Err(f);
                }
                Err(Err(e)) => Err(e),
            }
        }
        (r, _) => r,
    };
    if let Err(e) = send {
        return Err(if e.kind() == std::io::ErrorKind::TimedOut {
            fail(nu::TIMEOUT, timeout_msg("sending request to upstream"))
        } else {
            fail(
                nu::ERROR,
                format!(
                    "writev() failed ({}) while sending request to upstream",
                    os_error(&e)
                ),
            )
        });
    }
    let mut buf: Vec<u8> = Vec::with_capacity(p.buffer_size.max(1024));
    loop {
        let r = tokio::time::timeout(p.read_timeout, conn.stream.read_buf(&mut buf)).await;
        match r {
            Err(_) => {
                return Err(fail(
                    nu::TIMEOUT,
                    timeout_msg("reading response header from upstream"),
                ));
            }
            Ok(Err(e)) => {
                return Err(fail(
                    nu::ERROR,
                    format!(
                        "recv() failed ({}) while reading response header from upstream",
                        os_error(&e)
                    ),
                ));
            }
            Ok(Ok(0)) => {
                return Err(fail(
                    nu::ERROR,
                    "upstream prematurely closed connection while reading response header from upstream".into(),
                ));
            }
            Ok(Ok(_)) => {}
        }
        match response::parse(&mut buf, p.buffer_size) {
            Ok(Some((head, leftover))) => {
                if head.code == 100 {
                    buf = leftover;
                    buf.reserve(p.buffer_size.max(1024));
                    continue;
                }
                return Ok(Sent {
                    conn,
                    head,
                    leftover,
                    connect_time,
                    header_time: Instant::now() - t0,
                });
            }
            Ok(None) => {
                if buf.capacity() == buf.len() {
                    buf.reserve(1024);
                }
            }
            Err(HeadError::TooBig) => {
                return Err(fail(
                    nu::INVALID_HEADER,
                    "upstream sent too big header while reading response header from upstream"
                        .into(),
                ));
            }
            Err(HeadError::Invalid) => {
                return Err(fail(
                    nu::INVALID_HEADER,
                    "upstream sent invalid header while reading response header from upstream"
                        .into(),
                ));
            }
        }
    }
}

fn status_ft(code: u16) -> u32 {
    match code {
        500 => nu::HTTP_500,
        502 => nu::HTTP_502,
        503 => nu::HTTP_503,
        504 => nu::HTTP_504,
        403 => nu::HTTP_403,
        404 => nu::HTTP_404,
        429 => nu::HTTP_429,
        _ => 0,
    }
}

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

/// Proxies the request (body already read) and writes the response. Returns what the client
/// connection does next.
pub async fn proxy(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    body: ReqBody<'_>,
) -> Next {
    let Handler::Proxy(pp) = &req.loc.handler else {
        return send_error(client, req, shared, 500).await;
    };
    let live = req.live;
    let ups = &live.upstreams[pp.upstream];
    req.proxy_host = &pp.proxy_host;
    req.proxy_port = pp.proxy_port;
    let loc = req.loc;
    let p = &loc.proxy;
    let key = match &ups.conf.method {
        Method::Hash { key, .. } => key.render(req),
        _ => Vec::new(),
    };
    let mut attempt = ups.group.begin(RequestInput {
        client_ip: Some(req.conn.peer.ip()),
        hash_key: &key,
    });
    attempt.limit_tries(p.next_upstream_tries);
    let streaming = matches!(body, ReqBody::Stream(_));
    let mut unused = false;
    let (body, stream_done) = match body {
        ReqBody::Buffered(b) => (b, &mut unused),
        ReqBody::Stream(done) => (reqbody::Body::Mem(Vec::new()), done),
    };
    let body_len = if !streaming {
        request::BodyLen::Known(body.len())
    } else if let Some(n) = req.head.content_length {
        request::BodyLen::Known(n)
    } else {
        request::BodyLen::Chunked
    };
    let req_head = request::build(req, pp, body_len);
    let mut body_sent = false;
    let first = Instant::now();
    let non_idempotent = matches!(req.head.method(), b"POST" | b"LOCK" | b"PATCH");
    let pool = &ups.pools[crate::live::worker_index() % ups.pools.len().max(1)];
    let mask = p.next_upstream;
    let expired = |first: Instant| {
        !p.next_upstream_timeout.is_zero() && first.elapsed() >= p.next_upstream_timeout
    };
    let mut now = first;
    loop {
        let sel = match attempt.next_peer(now) {
            Ok(s) => s,
            Err(_) => {
                log_up(
                    req,
                    LogLevel::Error,
                    "no live upstreams while connecting to upstream",
                    &ups.conf.name,
                );
                req.up.tries.push(UpTry {
                    addr: ups.conf.name.as_str().into(),
                    status: 502,
                    time: Duration::ZERO,
                    connect: None,
                    header: None,
                });
                return send_error(client, req, shared, 502).await;
            }
        };
        let PeerAddr::Inet(addr) = sel.addr else {
            attempt.finish(PeerOutcome::Failed, Instant::now());
            return send_error(client, req, shared, 502).await;
        };
        req.up.tries.push(UpTry {
            addr: sel.name.clone(),
            status: 0,
            time: Duration::ZERO,
            connect: None,
            header: None,
        });
        let t0 = now;
        let sb = (streaming && !body_sent).then_some(StreamBody {
            client: &mut *client,
            head: req.head,
            max: req.loc.client_max_body_size,
            timeout: req.loc.client_body_timeout,
            done: &mut *stream_done,
        });
        let result = one_try(pool, addr, p, &req_head, &body, sb, t0).await;
        match result {
            Err(f) if f.client.is_some() => {
                // The client failed while its body was streamed: not the peer's fault.
                attempt.finish(PeerOutcome::Ok, Instant::now());
                if let Some(t) = req.up.tries.last_mut() {
                    t.time = t0.elapsed();
                }
                let e = f
                    .client
                    .unwrap_or(crate::request::client::BodyError::Closed);
                return crate::request::reply::body_error(client, req, shared, e).await;
            }
            Err(f) => {
                body_sent |= streaming && f.request_sent;
                now = Instant::now();
                if let Some(t) = req.up.tries.last_mut() {
                    t.status = if f.ft == nu::TIMEOUT { 504 } else { 502 };
                    t.time = now - t0;
                }
                let report = attempt.finish(PeerOutcome::Failed, now);
                if f.reused && f.ft == nu::ERROR {
                    attempt.give_back_try();
                }
                log_up(req, LogLevel::Error, &f.msg, &sel.name);
                if report.temporarily_disabled {
                    log_up(
                        req,
                        LogLevel::Warn,
                        "upstream server temporarily disabled while connecting to upstream",
                        &sel.name,
                    );
                }
                let status = if f.ft == nu::TIMEOUT { 504 } else { 502 };
                let mut ft = f.ft;
                if f.request_sent && non_idempotent {
                    ft |= nu::NON_IDEMPOTENT;
                }
                // proxy_request_buffering off: no retry once sending started.
                if attempt.tries_left() == 0 || mask & ft != ft || expired(first) || body_sent {
                    return send_error(client, req, shared, status).await;
                }
            }
            Ok(sent) => {
                body_sent |= streaming;
                let code = sent.head.code;
                let ft = status_ft(code);
                if let Some(t) = req.up.tries.last_mut() {
                    t.status = code;
                    t.connect = Some(sent.connect_time);
                    t.header = Some(sent.header_time);
                }
                if ft != 0
                    && attempt.tries_left() > 1
                    && mask & ft == ft
                    && !expired(first)
                    && !body_sent
                {
                    now = Instant::now();
                    if let Some(t) = req.up.tries.last_mut() {
                        t.time = now - t0;
                    }
                    let outcome = if code == 403 || code == 404 {
                        PeerOutcome::Ok
                    } else {
                        PeerOutcome::Failed
                    };
                    let report = attempt.finish(outcome, now);
                    if report.temporarily_disabled {
                        log_up(
                            req,
                            LogLevel::Warn,
                            "upstream server temporarily disabled while reading response header from upstream",
                            &sel.name,
                        );
                    }
                    let mut ftm = ft;
                    if non_idempotent {
                        ftm |= nu::NON_IDEMPOTENT;
                    }
                    if attempt.tries_left() == 0 || mask & ftm != ftm || expired(first) {
                        let status = match code {
                            500 | 503 | 504 | 403 | 404 | 429 => code,
                            _ => 502,
                        };
                        return send_error(client, req, shared, status).await;
                    }
                    continue;
                }
                let next = relay::send(
                    client,
                    req,
                    shared,
                    sent.conn,
                    sent.head,
                    sent.leftover,
                    pool,
                    pp,
                    &mut attempt,
                    t0,
                )
                .await;
                // relay::send released the peer and timed the try when the response was
                // complete; only a relay that ended before that is finished here.
                if attempt.current().is_some() {
                    let end = Instant::now();
                    if let Some(t) = req.up.tries.last_mut() {
                        t.time = end - t0;
                    }
                    attempt.finish(PeerOutcome::Ok, end);
                }
                return next;
            }
        }
    }
}
