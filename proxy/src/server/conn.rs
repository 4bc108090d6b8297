//! The HTTP/1.x connection loop: waits for request heads (`client_header_timeout` for the
//! first, `keepalive_timeout` between requests), answers head errors as nginx
//! (400/414/494/501/505, then close), runs each request through the phases, and counts
//! stub_status states.

use crate::conf::model::Server;
use crate::http::head::{self, Limits};
use crate::http::reject::{Reject, ignored_line};
use crate::http::status::Status;
use crate::live::{Gauge, Live, Shared};
use crate::phases::handle;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::{ConnInfo, Req, UpstreamLog};
use crate::request::log::access_log;
use crate::request::reply::send_error;
use crate::request::stream::Stream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

thread_local! {
    /// Read buffers of finished requests, reused by the next request of this worker (nginx
    /// takes its header buffers from per-worker free lists too). Without it each request
    /// allocates and frees an 8 KiB buffer, and as the only block of its allocator page that
    /// frees and re-creates the page every time (two clock reads inside mimalloc per request).
    static BUFS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Read buffers kept per worker thread: enough for every connection of a busy worker to be
/// between requests at once (with 16, 50 keep-alive clients allocated a buffer for 4 requests
/// in 10).
const BUFS_KEPT: usize = 64;

/// A read buffer of [`BUF_SIZE`] bytes (empty).
fn take_buf() -> Vec<u8> {
    BUFS.with(|b| b.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(BUF_SIZE))
}

/// Read buffer capacity in bytes (what `Client::read_more` reserves for an empty buffer).
const BUF_SIZE: usize = 8192;

/// Keeps `v` for [`take_buf`] when it has the usual capacity and the pool is not full.
fn give_buf(mut v: Vec<u8>) {
    if v.capacity() != BUF_SIZE {
        return;
    }
    v.clear();
    let _ = BUFS.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut()
            && b.len() < BUFS_KEPT
        {
            b.push(v);
        }
    });
}

/// The SNI name of a TLS stream, lowercase and without a trailing dot (as nginx's
/// `ngx_http_validate_host` leaves it).
pub fn sni_name(stream: &Stream) -> Option<Arc<str>> {
    let Stream::Tls(s) = stream else { return None };
    let name = s.get_ref().1.server_name()?;
    Some(name.trim_end_matches('.').to_ascii_lowercase().into())
}

/// The HTTP/1.x request loop on an established stream.
pub async fn serve_stream(
    stream: Stream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let h2 = matches!(stream, Stream::H2(_));
    let sni = sni_name(&stream);
    let mut client = Client {
        stream,
        buf: Vec::with_capacity(4096),
    };
    let stop = drain_or_reload(&shared);
    let mut stop = std::pin::pin!(stop);
    let mut ci = ConnInfo {
        peer,
        local,
        id,
        requests: 0,
        https,
        started: crate::logs::time::now_mono(),
        h2,
        sni,
    };
    let mut wait = None::<Duration>;
    // The header list of the last request, reused by the next one.
    let mut spare_headers = head::HeaderList::new();
    loop {
        let live = shared.live.load_full();
        let Some(route) = live.route(local) else {
            return;
        };
        let first = route.first(ci.sni.as_deref());
        let default = &live.config.http.servers[first];
        let limits = head_limits(default);
        // Wait for the first byte of the next request (keep-alive) without counting it as
        // reading, like nginx's idle keep-alive connections ("Waiting").
        if client.buf.is_empty() {
            let idle = wait.unwrap_or(default.client_header_timeout);
            if !next_bytes(&mut client, idle, wait.is_some(), stop.as_mut()).await {
                return;
            }
            // A request that raced a reload is read with the new config, never the old one.
            if shared.live.load().generation != live.generation {
                continue;
            }
        }
        let reading = Gauge::new(&shared.stats.reading);
        let timeout = default.client_header_timeout;
        let parsed = match read_head(&mut client, &limits, &mut spare_headers, timeout).await {
            HeadRead::Closed => return,
            HeadRead::TimedOut => {
                let partial = !client.buf.is_empty();
                return header_timed_out(&live, &ci, first, partial);
            }
            HeadRead::Head(head) => Ok(head),
            HeadRead::Rejected(reject) => Err(reject),
        };
        drop(reading);
        ci.requests += 1;
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let _writing = Gauge::new(&shared.stats.writing);
        let head = match parsed {
            Ok(x) => x,
            Err(why) => {
                return reject(&mut client, &live, &shared, &ci, first, why).await;
            }
        };
        log_ignored(&live, &ci, &head);
        let next = handle(&mut client, &head, &ci, &live, &shared, route).await;
        spare_headers = head.headers;
        give_buf(head.raw);
        let Some(t) = keepalive_wait(next, &shared, &live) else {
            return;
        };
        wait = Some(t);
    }
}

/// How long to wait for the next request after `next`; None: close. After a reload the old
/// generation's connections close once their request is done (nginx's old workers turn
/// keep-alive off while exiting), and so do all while draining.
fn keepalive_wait(next: Next, shared: &Shared, live: &Live) -> Option<Duration> {
    match next {
        Next::KeepAlive(t)
            if !shared.draining() && shared.live.load().generation == live.generation =>
        {
            Some(t)
        }
        _ => None,
    }
}

/// Waits for the first bytes of the next request: at most `idle`, and (between keep-alive
/// requests) until `stop` (drain or reload). False: close the connection.
async fn next_bytes(
    client: &mut Client,
    idle: Duration,
    keepalive: bool,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> bool {
    // the event loop's cached time, as nginx's timers
    let deadline = Instant::from_std(crate::logs::time::now_mono()) + idle;
    // Between requests a plain connection gives its read buffer back and waits for
    // readability without one (nginx frees its header buffer on keep-alive too); a
    // TLS stream may hold decrypted bytes already, so it reads as before.
    if let (true, Stream::Plain(s)) = (keepalive, &client.stream) {
        give_buf(std::mem::take(&mut client.buf));
        tokio::select! {
            biased; // fixed order: no random number per wait
            r = tokio::time::timeout_at(deadline, s.readable()) => {
                if !matches!(r, Ok(Ok(()))) {
                    return false;
                }
            }
            _ = stop.as_mut() => return false,
        }
    }
    if client.buf.capacity() == 0 {
        client.buf = take_buf();
    }
    // Read first: when the bytes are there (the usual case after the readiness wait)
    // the drain and reload watchers are never polled.
    tokio::select! {
        biased;
        r = client.read_more(deadline) => matches!(r, Ok(n) if n > 0),
        _ = stop.as_mut(), if keepalive => false,
    }
}

/// The head limits a server block sets (`client_header_buffer_size`,
/// `large_client_header_buffers`, `underscores_in_headers`, `ignore_invalid_headers`).
pub(super) fn head_limits(server: &Server) -> Limits {
    Limits {
        small: server.client_header_buffer_size,
        large_num: server.large_header_buffers.0,
        large_size: server.large_header_buffers.1,
        underscores: server.underscores_in_headers,
        ignore_invalid: server.ignore_invalid_headers,
    }
}

/// How reading a request head ended.
enum HeadRead {
    /// A head that passed the checks.
    Head(head::RequestHead),
    /// A head the rules refuse.
    Rejected(Reject),
    /// `client_header_timeout` ran out.
    TimedOut,
    /// The client closed, or the read failed.
    Closed,
}

/// Reads a request head; the header timer (`timeout`) is armed only when the head is not
/// complete in the bytes already read.
async fn read_head(
    client: &mut Client,
    limits: &Limits,
    spare_headers: &mut head::HeaderList,
    timeout: Duration,
) -> HeadRead {
    let mut deadline = None;
    loop {
        match head::take(&mut client.buf, limits, spare_headers) {
            Ok(Some(h)) => return HeadRead::Head(h),
            Ok(None) => {}
            Err(why) => return HeadRead::Rejected(why),
        }
        let d = *deadline
            .get_or_insert_with(|| Instant::from_std(crate::logs::time::now_mono()) + timeout);
        match client.read_more(d).await {
            Ok(0) => return HeadRead::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return HeadRead::TimedOut,
            Err(_) => return HeadRead::Closed,
        }
    }
}

/// "Drain or reload": one wait for the whole connection, registered at its first keep-alive
/// wait and kept between requests (a wait per request costs two waiter-list inserts and
/// removals under the channels' locks). It is polled only while idle and never after it
/// finished: the connection returns then.
fn drain_or_reload(shared: &Shared) -> impl std::future::Future<Output = ()> + use<> {
    let mut drain = shared.drain_tx.subscribe();
    let mut reload = shared.reload_tx.subscribe();
    async move {
        tokio::select! {
            biased;
            _ = drain.wait_for(|d| *d) => {}
            _ = reload.changed() => {}
        }
    }
}

/// `client_header_timeout` ran out: the info line, and a 408 in the access log when part of a
/// head had come.
fn header_timed_out(live: &Live, ci: &ConnInfo, server_idx: usize, partial: bool) {
    log_plain(
        live,
        ci.id,
        ci.peer,
        "client timed out (110: Connection timed out) while reading client request headers",
    );
    if partial {
        log_early(live, ci, server_idx, Status::REQUEST_TIME_OUT);
    }
}

/// A head the rules refuse: nginx's info line, then its error page, then close (HTTP/2
/// streams whose head is refused are answered here too).
pub(super) async fn reject(
    client: &mut Client,
    live: &Live,
    shared: &Shared,
    ci: &ConnInfo,
    server_idx: usize,
    why: Reject,
) {
    // the head's bytes are still in the client's buffer (nothing of it was taken)
    log_plain(live, ci.id, ci.peer, &why.line(&client.buf));
    answer_head_error(client, live, shared, ci, server_idx, why.status()).await;
}

/// nginx's info line for each header line the head dropped as invalid.
fn log_ignored(live: &Live, ci: &ConnInfo, head: &head::RequestHead) {
    for line in &head.ignored {
        log_plain(live, ci.id, ci.peer, &ignored_line(&head.raw, line));
    }
}

fn log_plain(live: &Live, id: u64, peer: SocketAddr, msg: &str) {
    live.error_log.log(
        crate::conf::model::LogLevel::Info,
        &format!("*{id} {msg}, client: {}", peer.ip()),
    );
}

fn dummy_head() -> head::RequestHead {
    head::RequestHead {
        raw: Vec::new(),
        method: 0..0,
        target: 0..0,
        minor: 1,
        headers: Vec::new(),
        host: head::Host::None,
        content_length: None,
        chunked: false,
        conn_close: true,
        conn_keepalive: false,
        request_line_len: 0,
        ignored: Vec::new(),
    }
}

fn early_req<'a>(
    live: &'a Live,
    ci: &'a ConnInfo,
    head: &'a head::RequestHead,
    server_idx: usize,
) -> Req<'a> {
    let server = &*live.config.http.servers[server_idx];
    Req {
        conn: ci,
        head,
        server,
        loc: &server.base,
        live,
        uri: Default::default(),
        args: 0..0,
        start: crate::logs::time::now_mono(),
        start_time: crate::logs::time::now_wall(),
        status: Status::NONE,
        body_bytes_sent: 0,
        bytes_sent: 0,
        request_length: 0,
        up: UpstreamLog::default(),
        gzip_ratio: None,
        proxy_host: "",
        proxy_port: 0,
        limit_req_status: None,
        captures: Vec::new(),
    }
}

fn log_early(live: &Live, ci: &ConnInfo, server_idx: usize, status: Status) {
    let head = dummy_head();
    let mut req = early_req(live, ci, &head, server_idx);
    req.status = status;
    access_log(live, &req);
}

async fn answer_head_error(
    client: &mut Client,
    live: &Live,
    shared: &Shared,
    ci: &ConnInfo,
    server_idx: usize,
    status: Status,
) {
    let head = dummy_head();
    let mut req = early_req(live, ci, &head, server_idx);
    let _ = send_error(client, &mut req, shared, status).await;
    access_log(live, &req);
}
