//! Passing an upstream response to the client: nginx's head (hidden headers, rebuilt framing,
//! `proxy_redirect default`, absolute Location, `add_header`), then the body relayed as it
//! arrives (`proxy_read_timeout` between upstream reads, `send_timeout` between client writes),
//! re-chunked when the length is unknown; the upstream connection goes back to the keepalive
//! pool when the exchange allows it.

use super::framer::{Framer, Framing};
use super::hidden::passed;
use crate::balance::{Attempt, PeerOutcome};
use crate::conf::model::{LogLevel, ProxyPass};
use crate::http::response::UpHead;
use crate::http::status::Status;
use crate::live::Shared;
use crate::live::pool::{Pool, UpConn};
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::error::{Cause, Error, Stage};
use crate::request::log::log_error;
use crate::request::reply::{absolute, added_headers, keepalive};
use crate::request::respond::{Head, Ka};
use std::time::Instant;
use tokio::io::AsyncReadExt;

fn redirect(req: &Req<'_>, pass: &ProxyPass, loc: &[u8]) -> Vec<u8> {
    // proxy_redirect default: the proxy_pass URL (with "/" when it has no URI) → location name.
    let scheme = if pass.https { "https://" } else { "http://" };
    let pattern = format!(
        "{scheme}{}{}",
        pass.proxy_host,
        pass.uri.as_deref().unwrap_or("/")
    );
    let replacement = if pass.uri.is_some() {
        req.loc.name.as_str()
    } else {
        "/"
    };
    if loc.starts_with(pattern.as_bytes()) && !req.loc.name.is_empty() {
        let mut v = replacement.as_bytes().to_vec();
        v.extend_from_slice(&loc[pattern.len()..]);
        return v;
    }
    loc.to_vec()
}

/// How the response goes to the client.
pub(super) struct Plan {
    /// How the upstream delimits its body.
    pub(super) framing: Framing,
    /// The client gets the body chunked (length unknown, HTTP/1.1 client; an HTTP/2
    /// stream's DATA frames need no framing).
    pub(super) client_chunked: bool,
    /// A 101 answer to an `Upgrade` request: the connection becomes a tunnel.
    upgrade: bool,
    /// The client connection's disposition.
    pub(super) ka: Ka,
    /// The gzip filter's verdict.
    pub(super) gzip: crate::filter::gzip::Decision,
}

pub(super) fn plan(req: &Req<'_>, shared: &Shared, up: &UpHead) -> Plan {
    let status = up.status;
    let no_body = req.head.method() == b"HEAD" || status.has_no_body();
    let framing = if no_body {
        Framing::None
    } else if up.chunked {
        Framing::Chunked
    } else if let Some(n) = up.content_length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    let upgrade = status.code() == 101 && req.head.header(b"upgrade").is_some();
    let mut ka = if upgrade {
        Ka::Upgrade
    } else {
        keepalive(req, shared, status)
    };
    let gzip = super::gzip::decide(req, up, framing);
    let gzip_body = gzip.gzip && framing != Framing::None;
    let unknown_length = gzip_body || matches!(framing, Framing::Chunked | Framing::Close);
    let client_chunked = unknown_length && req.head.minor == 1 && !req.conn.h2;
    if unknown_length && !client_chunked {
        ka = Ka::Close;
    }
    Plan {
        framing,
        client_chunked,
        upgrade,
        ka,
        gzip,
    }
}

/// How the cache's filters (`cache_filters`: 304, 206, 416) change a stored response's head.
#[derive(Debug, Default)]
pub(super) struct Shape<'a> {
    /// Another status (sent with its standard reason phrase).
    pub(super) status: Option<Status>,
    /// The status add_header's headers were chosen with (nginx's headers filter had already
    /// run with 200 when the range filter answered 416).
    pub(super) added_status: Option<Status>,
    /// Upstream headers not passed (lower-case names).
    pub(super) drop: &'a [&'static [u8]],
    /// Headers after add_header's (Content-Range, Accept-Ranges).
    pub(super) tail: Vec<(Vec<u8>, Vec<u8>)>,
    /// Content-Type replaced (`Some(None)`: none).
    pub(super) content_type: Option<Option<std::borrow::Cow<'a, [u8]>>>,
    /// Content-Length replaced.
    pub(super) content_length: Option<Option<u64>>,
}

/// Puts the client's response head (into `out` on HTTP/1.1): the upstream's headers that
/// pass nginx's hide list, Location rewritten by `proxy_redirect default` (or made
/// absolute), `add_header`.
pub(super) fn client_head(
    client: &mut Client,
    req: &Req<'_>,
    pass: &ProxyPass,
    up: &UpHead,
    plan: &Plan,
    out: &mut Vec<u8>,
) {
    client_head_shaped(client, req, pass, up, plan, &Shape::default(), out);
}

/// [`client_head`] with the changes of `shape`.
pub(super) fn client_head_shaped(
    client: &mut Client,
    req: &Req<'_>,
    pass: &ProxyPass,
    up: &UpHead,
    plan: &Plan,
    shape: &Shape<'_>,
    out: &mut Vec<u8>,
) {
    let gzip = plan.gzip.gzip;
    // gzip makes the (last) ETag weak, or drops it when it is not a quoted tag
    let weak_etag = up
        .headers()
        .filter(|(n, _)| gzip && n.eq_ignore_ascii_case(b"etag"))
        .last()
        .and_then(|(_, v)| crate::filter::gzip::weak_etag(v));
    let Passed {
        mut list,
        content_type,
        location_special,
        location_rel,
    } = passed_headers(req, pass, up, shape, gzip, weak_etag.as_deref());
    if let Some(l) = &location_rel
        && let Some(e) = list
            .iter_mut()
            .find(|(n, v)| n.eq_ignore_ascii_case(b"location") && v.is_empty())
    {
        e.1 = l.as_slice();
    }
    let added = added_headers(req, shape.added_status.unwrap_or(up.status));
    list.extend(added.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    if gzip {
        list.push((&b"Content-Encoding"[..], &b"gzip"[..]));
    }
    list.extend(shape.tail.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    client.put_head(
        out,
        &Head {
            status: shape.status.unwrap_or(up.status),
            reason: shape.status.is_none().then(|| up.reason()),
            content_type: match &shape.content_type {
                Some(c) => c.as_deref(),
                None => content_type,
            },
            content_length: match shape.content_length {
                Some(c) => c,
                None => content_length(req, up, plan),
            },
            last_modified: None,
            location: location_special.as_deref(),
            chunked: plan.client_chunked,
            ka: Some(plan.ka),
            vary: plan.gzip.vary,
        },
        list.iter().copied(),
    );
}

/// The upstream headers the client gets, apart from those the head writes in its own slots.
struct Passed<'u> {
    /// Headers in order; a Location rewritten by `proxy_redirect` is an empty placeholder
    /// here, its value in `location_rel`.
    list: Vec<(&'u [u8], &'u [u8])>,
    /// The first Content-Type.
    content_type: Option<&'u [u8]>,
    /// A Location made absolute (the head's own slot).
    location_special: Option<Vec<u8>>,
    /// A Location rewritten by `proxy_redirect`.
    location_rel: Option<Vec<u8>>,
}

/// The upstream's headers that pass nginx's hide list and `shape`'s drops; with gzip, without
/// Accept-Ranges and with the ETag made weak (`weak_etag`, none when it was not a quoted tag).
fn passed_headers<'u>(
    req: &Req<'_>,
    pass: &ProxyPass,
    up: &'u UpHead,
    shape: &Shape<'_>,
    gzip: bool,
    weak_etag: Option<&'u [u8]>,
) -> Passed<'u> {
    let conf = &req.loc.proxy;
    let mut p = Passed {
        list: Vec::with_capacity(up.headers.len() + 2),
        content_type: None,
        location_special: None,
        location_rel: None,
    };
    for (n, v) in up.headers() {
        if !passed(n, &conf.hide_headers, &conf.pass_headers)
            || shape.drop.iter().any(|d| n.eq_ignore_ascii_case(d))
        {
            continue;
        }
        // Last-Modified stays in the list (nginx prints its own slot only for a time
        // without a header, as static files have).
        if p.content_type.is_none() && n.eq_ignore_ascii_case(b"content-type") {
            p.content_type = Some(v);
        } else if gzip && n.eq_ignore_ascii_case(b"accept-ranges") {
            continue;
        } else if gzip && n.eq_ignore_ascii_case(b"etag") {
            if let Some(w) = weak_etag {
                p.list.push((n, w));
            }
        } else if n.eq_ignore_ascii_case(b"location") {
            let v2 = redirect(req, pass, v);
            if v2.first() == Some(&b'/') && req.loc.absolute_redirect {
                p.location_special = Some(absolute(req, &v2));
            } else if v2 == v {
                p.list.push((n, v));
            } else {
                p.location_rel = Some(v2);
                p.list.push((n, b""));
            }
        } else {
            p.list.push((n, v));
        }
    }
    p
}

/// The client's Content-Length: the upstream's length when the body is passed as is (for a
/// HEAD request also when no body follows), none when gzipped or framed otherwise.
fn content_length(req: &Req<'_>, up: &UpHead, plan: &Plan) -> Option<u64> {
    match plan.framing {
        _ if plan.gzip.gzip => None,
        Framing::Length(n) => Some(n),
        Framing::None => up.content_length.filter(|_| req.head.method() == b"HEAD"),
        _ => None,
    }
}

/// The body's framer: the upstream's framing to the client's, through gzip when the filter
/// applies (flushed as it goes when buffering is off or `X-Accel-Buffering: no`).
fn body_framer(req: &Req<'_>, plan: &Plan, accel_off: bool) -> Framer {
    let mut framer = Framer::new(plan.framing, plan.client_chunked);
    if plan.gzip.gzip && plan.framing != Framing::None {
        let length = match plan.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        let enc = super::gzip::encoder(&req.loc.gzip, length);
        framer = framer.gzip(enc, !req.loc.proxy.buffering || accel_off);
    }
    framer
}

/// A 101 answer: the head, then bytes both ways until either side closes or
/// `proxy_read_timeout` passes without traffic.
async fn tunnel(
    client: &mut Client,
    req: &mut Req<'_>,
    conn: &mut UpConn,
    head: &[u8],
    leftover: &[u8],
) -> Next {
    let r = client.write_all(head, req.loc.send_timeout).await;
    req.bytes_sent = head.len() as u64;
    if r.is_ok() {
        let (end, n) = super::tunnel::run(
            client,
            &mut conn.stream,
            leftover,
            req.loc.proxy.read_timeout,
        )
        .await;
        req.bytes_sent += n;
        req.body_bytes_sent = n;
        if end == super::tunnel::TunnelEnd::IdleTimeout {
            log_error(
                req.live,
                req,
                LogLevel::Info,
                "upstream timed out (110: Connection timed out) while proxying upgraded connection",
            );
        }
    }
    Next::Close
}

/// What relaying the body did.
struct Relayed {
    /// The upstream failed.
    up_error: Option<Error>,
    /// The client failed or went away.
    client_error: bool,
}

/// Relays the body without buffering: each upstream read written to the client before the
/// next (`proxy_read_timeout` between reads, `send_timeout` between writes); `out` holds the
/// client bytes already produced. Returns whether the upstream part was complete.
async fn stream_body(
    client: &mut Client,
    req: &mut Req<'_>,
    conn: &mut UpConn,
    framer: &mut Framer,
    mut out: Vec<u8>,
    relayed: &mut Relayed,
) -> bool {
    let send_timeout = req.loc.send_timeout;
    let read_timeout = req.loc.proxy.read_timeout;
    let mut rbuf: Vec<u8> = Vec::new();
    loop {
        if !out.is_empty() {
            if client.write_all(&out, send_timeout).await.is_err() {
                relayed.client_error = true;
                break;
            }
            req.bytes_sent += out.len() as u64;
            out.clear();
        }
        if framer.complete || relayed.up_error.is_some() {
            break;
        }
        rbuf.clear();
        if rbuf.capacity() < 16384 {
            rbuf.reserve(16384);
        }
        relayed.up_error =
            match tokio::time::timeout(read_timeout, conn.stream.read_buf(&mut rbuf)).await {
                Err(_) => Some(Error::at(Stage::ReadingUpstream, Cause::TimedOut)),
                Ok(Err(e)) => Some(Error::at(Stage::ReadingUpstream, Cause::Os("recv", e))),
                Ok(Ok(0)) => framer.eof(&mut out).err(),
                Ok(Ok(_)) => framer.feed(&rbuf, &mut out).err(),
            };
    }
    framer.complete && relayed.up_error.is_none()
}

/// Sends the response whose head was read from `conn`; `leftover` holds body bytes already read.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    mut conn: UpConn,
    up: UpHead,
    mut leftover: Vec<u8>,
    pool: &Pool,
    pass: &ProxyPass,
    attempt: &mut Attempt,
    started: Instant,
) -> Next {
    let plan = plan(req, shared, &up);
    let mut out = Vec::with_capacity(512 + leftover.len().min(65536));
    client_head(client, req, pass, &up, &plan, &mut out);
    req.status = up.status;
    let head_len = out.len() as u64;
    if plan.upgrade {
        let next = tunnel(client, req, &mut conn, &out, &leftover).await;
        req.up.last_head = Some(up);
        return next;
    }
    let conf = &req.loc.proxy;
    let accel_off = up.headers().any(|(n, v)| {
        n.eq_ignore_ascii_case(b"x-accel-buffering") && v.eq_ignore_ascii_case(b"no")
    });
    let mut framer = body_framer(req, &plan, accel_off);
    let mut relayed = Relayed {
        up_error: framer.feed(&leftover, &mut out).err(),
        client_error: false,
    };
    leftover.clear();
    let reusable_head =
        up.http11 && !up.conn_close && plan.framing != Framing::Close && pool.enabled();
    // When the upstream part ended: the peer is released and the try timed then, as nginx
    // finalizes the upstream before the client has the whole response.
    let mut released: Option<Instant> = None;
    let mut release = |conn: UpConn, ok: bool, attempt: &mut Attempt| {
        let end = Instant::now();
        if ok && reusable_head {
            pool.put(conn, end);
        }
        attempt.finish(PeerOutcome::Ok, end);
        released = Some(end);
    };
    if conf.buffering && !accel_off && !framer.complete && relayed.up_error.is_none() {
        let r = super::buffered::copy_for(client, req, conn, &mut framer, out, |c, ok| {
            release(c, ok, attempt)
        })
        .await;
        req.bytes_sent += r.sent;
        relayed.up_error = r.up_error;
        relayed.client_error = r.client_error;
    } else {
        let ok = stream_body(client, req, &mut conn, &mut framer, out, &mut relayed).await;
        release(conn, ok, attempt);
    }
    if let (Some(end), Some(t)) = (released, req.up.tries.last_mut()) {
        t.time = end - started;
    }
    req.body_bytes_sent = req.bytes_sent.saturating_sub(head_len);
    finish(req, up, &framer, relayed, plan.ka)
}

/// Logs how the relay ended and says what the client connection does next.
fn finish(req: &mut Req<'_>, up: UpHead, framer: &Framer, relayed: Relayed, ka: Ka) -> Next {
    if let Some(error) = &relayed.up_error
        && let Some(level) = error.outcome().level
        && req.live.error_log.enabled(level)
    {
        log_error(req.live, req, level, &error.to_string());
    }
    if relayed.client_error {
        log_error(
            req.live,
            req,
            LogLevel::Info,
            "client prematurely closed connection while sending to client",
        );
    }
    req.up.last_head = Some(up);
    req.gzip_ratio = framer.gzip_counts;
    match ka {
        Ka::KeepAlive(_)
            if framer.complete && relayed.up_error.is_none() && !relayed.client_error =>
        {
            Next::KeepAlive(req.loc.keepalive_timeout.0)
        }
        _ => Next::Close,
    }
}
