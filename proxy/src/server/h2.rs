//! HTTP/2 (ALPN `h2` on `listen … ssl http2`, prior-knowledge h2c on `listen … http2`):
//! the `h2` crate's server, each stream's request handed to the same request pipeline as
//! every other request (phases, locations, proxying, logs), so the behaviour is identical
//! ([`stream::serve`]). The stream is the pipeline's client session
//! (`request::h2::session::H2Stream`): the request head taken once in the form the pipeline
//! keeps, the body read as DATA payloads, the response head sent as HEADERS from its
//! structured form and the body as DATA frames; no HTTP/1.1 bytes are written or parsed on
//! the way, and there is no pipe, client or extra task in between.

#[cfg(test)]
mod flood_tests;
mod frames;
mod guard;
mod preface;
mod recv;
mod slots;
mod stream;
#[cfg(test)]
mod tests;
mod timers;

use crate::live::Shared;
use crate::logs::error::LogLevel;
use crate::request::h2::chunk::Chunk;
use crate::request::h2::session::H2Stream;
use crate::request::stream::Stream;
use futures_util::task::AtomicWaker;
use h2::Reason;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use timers::{ConnLimits, ReadTimer};

/// Stream and connection flow-control windows we announce (bytes).
const WINDOW: u32 = 1024 * 1024;
/// Largest frame payload we accept (bytes, the protocol's default).
const MAX_FRAME: u32 = 16 * 1024;
/// Response data buffered per stream before the writer waits for the peer (bytes).
const MAX_SEND_BUFFER: usize = 400 * 1024;
/// Largest request header list (SETTINGS_MAX_HEADER_LIST_SIZE, bytes).
const MAX_HEADER_LIST: u32 = 16 * 1024;
/// Streams we may reset for local errors before the connection is closed.
const MAX_ERROR_RESETS: usize = 1024;
/// Passes (connection, then streams) in one wake-up before yielding to other tasks.
const PASSES: usize = 16;

/// The waker the connection's I/O and its streams signal: while the connection task is in
/// a pass it only notes the signal (the pass polls the connection again before it returns),
/// else it wakes the task. Without it every response queued by a stream would schedule the
/// connection task once more after it has already been flushed.
#[derive(Default)]
struct ConnWake {
    /// The connection task.
    task: AtomicWaker,
    /// The task is running a pass.
    in_pass: AtomicBool,
    /// The connection was signalled since the last pass started.
    pending: AtomicBool,
}

impl Wake for ConnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.pending.store(true, Ordering::SeqCst);
        if !self.in_pass.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

/// The server side of a connection with the limits we announce; `max_streams` is
/// `http2_max_concurrent_streams` (more streams at once are refused with RST_STREAM
/// REFUSED_STREAM, as nginx refuses them).
fn builder(max_streams: u32) -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_local_error_reset_streams(Some(MAX_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_concurrent_streams(max_streams);
    b
}

/// Serves one HTTP/2 connection (accepted at `started`) until the client closes it; each
/// request stream runs the request pipeline concurrently with the others, inside the
/// connection's task ([`slots::Slots`]). The preface is awaited first ([`preface`]); nginx's
/// flood limits and timers bound the connection ([`guard`], [`timers`]).
pub async fn serve(
    stream: Stream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
    started: tokio::time::Instant,
) {
    let sni = super::conn::sni_name(&stream);
    // the connection's number in its own error-log lines (nginx's `*N`)
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let limits = ConnLimits::of(&shared, local, sni.as_deref());
    let deadline = started + limits.header;
    let watch = Arc::new(guard::Watch::default());
    let mut io = guard::Guard::new(stream, watch.clone(), &limits, https);
    io.await_preface(preface::Check::new(deadline, https));
    // The guard ends the handshake at `deadline`; the timeout is a backstop.
    let backstop = deadline + std::time::Duration::from_secs(5);
    let handshake = tokio::time::timeout_at(
        backstop,
        builder(limits.max_streams).handshake::<_, Chunk>(io),
    );
    let Ok(Ok(conn)) = handshake.await else {
        if let Some((_, why)) = watch.refused.get().filter(|r| !r.1.is_empty()) {
            log_info(&shared, why, (id, peer, local));
        }
        return;
    };
    let spawn_shared = shared.clone();
    let mut c = Conn {
        conn,
        streams: slots::Slots::new(),
        make: move |io| {
            let conn = stream::ConnOf {
                peer,
                local,
                https,
                sni: sni.clone(),
            };
            stream::serve(io, conn, spawn_shared.clone())
        },
        timer: ReadTimer::new(deadline, limits.keepalive),
        conf: limits,
        started,
        served: 0,
        draining: false,
        watch,
        had_stream: false,
        shut: false,
        greedy: false,
        wake: Arc::new(ConnWake::default()),
        id,
        peer,
        local,
        shared,
    };
    std::future::poll_fn(|cx| c.poll(cx)).await;
    // The connection is gone: dropping it ends its streams' I/O (errors or end of file), so
    // the requests still running finish (and are logged) promptly.
    let Conn {
        conn, mut streams, ..
    } = c;
    drop(conn);
    while !streams.is_empty() {
        std::future::poll_fn(|cx| streams.poll(cx)).await;
    }
}

/// One HTTP/2 connection being served; `make` starts a stream's request ([`stream::serve`]).
struct Conn<F, M> {
    conn: h2::server::Connection<guard::Guard<Stream>, Chunk>,
    streams: slots::Slots<F>,
    make: M,
    timer: ReadTimer,
    /// The connection's settings (`keepalive_requests`, `keepalive_time`, ...).
    conf: ConnLimits,
    /// When the connection was accepted (`keepalive_time`).
    started: tokio::time::Instant,
    /// Streams taken so far (nginx's `c->requests`).
    served: u64,
    /// The last stream was taken: GOAWAY went out, later streams are refused.
    draining: bool,
    watch: Arc<guard::Watch>,
    /// A stream was opened once (nginx's idle state begins after the first).
    had_stream: bool,
    /// GOAWAY was sent (timeout or flood): the connection is closing.
    shut: bool,
    /// The client multiplexes: take every ready stream before running them.
    greedy: bool,
    wake: Arc<ConnWake>,
    /// The connection's number in its error-log lines.
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
}

impl<F: Future<Output = ()>, M: Fn(Box<H2Stream>) -> F> Conn<F, M> {
    /// The streams run inside this task (no task per stream). A pass polls the connection
    /// (which flushes what the streams wrote and reads what came in), takes the new streams,
    /// and runs the streams. A client with one request in flight costs two connection polls
    /// per request (take the stream, run it; flush its response). Once a client is seen
    /// multiplexing (streams taken in two passes in a row: one read carried several), the
    /// connection takes every ready stream before running them, so their responses leave
    /// in one write, as nginx writes the frames of many streams in one event-loop pass.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let wake = self.wake.clone();
        wake.task.register(cx.waker());
        wake.in_pass.store(true, Ordering::SeqCst);
        let waker = Waker::from(wake.clone());
        let mut done = false;
        let mut took_before = false;
        let mut settled = false;
        for _ in 0..PASSES {
            wake.pending.store(false, Ordering::SeqCst);
            let (took, finished) = self.take_streams(&mut Context::from_waker(&waker), took_before);
            done = finished;
            if done {
                break;
            }
            let _ = self.streams.poll(cx);
            // Another pass when the connection was signalled (the streams wrote) or when
            // more streams may be waiting in it (one was taken, not all).
            let more = took && !self.greedy;
            if !more && !wake.pending.load(Ordering::SeqCst) {
                settled = true;
                break;
            }
            took_before = took;
        }
        wake.in_pass.store(false, Ordering::SeqCst);
        if done {
            if self.watch.queue_flood.load(Ordering::Relaxed) {
                self.log_flood("http2 flood detected");
            }
            return Poll::Ready(());
        }
        if self.limits(cx) || wake.pending.swap(false, Ordering::SeqCst) || !settled {
            // Signalled since the last pass, or the passes ran out with work left: come back
            // after the other tasks had their turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Takes the streams the connection has ready (one, or all once greedy); returns whether
    /// one was taken and whether the connection is done.
    fn take_streams(&mut self, conn_cx: &mut Context<'_>, took_before: bool) -> (bool, bool) {
        let mut took = false;
        loop {
            let next = pin!(self.conn.accept()).poll(conn_cx);
            match next {
                Poll::Ready(Some(Ok((req, mut respond)))) => {
                    if self.draining {
                        // nginx skips the streams that follow its GOAWAY: not processed.
                        respond.send_reset(Reason::REFUSED_STREAM);
                        continue;
                    }
                    self.served += 1;
                    if self.conf.last_stream(self.served, self.started.elapsed()) {
                        // The last stream: GOAWAY now, the open streams finish, then the
                        // connection closes.
                        self.conn.graceful_shutdown();
                        self.draining = true;
                    }
                    let io = Box::new(H2Stream::new(req, respond));
                    let make = &self.make;
                    self.streams.push_with(|| make(io));
                    self.timer.stream_opened();
                    self.had_stream = true;
                    self.greedy |= took_before;
                    took = true;
                    if !self.greedy {
                        return (took, false);
                    }
                }
                Poll::Ready(None) => {
                    self.closed_by_client();
                    return (took, true);
                }
                Poll::Ready(Some(Err(_))) => return (took, true),
                Poll::Pending => return (took, false),
            }
        }
    }

    /// nginx's timers and flood limits: sends GOAWAY and starts closing when one is hit;
    /// true when the connection must be polled again.
    fn limits(&mut self, cx: &mut Context<'_>) -> bool {
        if self.shut {
            return false;
        }
        // No stream running here and none in the connection (a finished stream's response
        // may still be queued there).
        let idle = self.streams.is_empty() && !self.conn.has_streams();
        self.watch
            .idle
            .store(idle && self.had_stream, Ordering::Relaxed);
        if idle {
            self.timer.idle();
        }
        let (reason, why) = if self.watch.flood.load(Ordering::Relaxed) {
            (Reason::NO_ERROR, "http2 flood detected")
        } else if !self.timer.poll(cx) {
            return false;
        } else if self.watch.partial.load(Ordering::Relaxed) {
            (
                Reason::PROTOCOL_ERROR,
                "client timed out (110: Connection timed out)",
            )
        } else {
            (Reason::NO_ERROR, "")
        };
        if !why.is_empty() {
            self.log_flood(why);
        }
        self.conn.abrupt_shutdown(reason);
        self.shut = true;
        true
    }

    /// The connection ended (end of file) without our GOAWAY: nginx's read handler logs the
    /// close when streams are still being processed, then ends each of them (their requests
    /// waiting on an upstream are logged 499: [`crate::request::error::Cause::ConnectionClosed`]).
    fn closed_by_client(&self) {
        let flood = self.watch.flood.load(Ordering::Relaxed)
            || self.watch.queue_flood.load(Ordering::Relaxed);
        if !self.shut && !flood && !self.streams.is_empty() {
            let at = (self.id, self.peer, self.local);
            log_info(&self.shared, "client prematurely closed connection", at);
        }
    }

    /// The info line nginx logs when it ends the connection for `why`.
    fn log_flood(&self, why: &str) {
        log_info(&self.shared, why, (self.id, self.peer, self.local));
    }
}

/// nginx's info line when it ends an HTTP/2 connection for `why`; `at` is the connection's
/// number, the client's address and the address it connected to.
fn log_info(shared: &Shared, why: &str, (id, peer, local): (u64, SocketAddr, SocketAddr)) {
    let live = shared.live.load();
    live.error_log.log(
        LogLevel::Info,
        &format!(
            "*{id} {why} while processing HTTP/2 connection, client: {}, server: {local}",
            peer.ip()
        ),
    );
}
