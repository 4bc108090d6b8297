//! HTTP/2 (ALPN `h2` on `listen … ssl http2`, prior-knowledge h2c on `listen … http2`):
//! the `h2` crate's server, each stream's request handed to the same request pipeline as
//! every other request (phases, locations, proxying, logs), so the behaviour is identical
//! ([`stream::serve`]). The stream is the pipeline's client session
//! (`request::h2::session::H2Stream`): the request head taken once in the form the pipeline
//! keeps, the body read as DATA payloads, the response head sent as HEADERS from its
//! structured form and the body as DATA frames; no HTTP/1.1 bytes are written or parsed on
//! the way, and there is no pipe, client or extra task in between.

mod slots;
mod stream;
#[cfg(test)]
mod tests;

use crate::live::Shared;
use crate::request::h2::chunk::Chunk;
use crate::request::h2::session::H2Stream;
use crate::request::stream::Stream;
use futures_util::task::AtomicWaker;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Stream and connection flow-control windows we announce (bytes).
const WINDOW: u32 = 1024 * 1024;
/// Largest frame payload we accept (bytes, the protocol's default).
const MAX_FRAME: u32 = 16 * 1024;
/// Response data buffered per stream before the writer waits for the peer (bytes).
const MAX_SEND_BUFFER: usize = 400 * 1024;
/// Largest request header list (SETTINGS_MAX_HEADER_LIST_SIZE, bytes).
const MAX_HEADER_LIST: u32 = 16 * 1024;
/// Streams the client may open at once.
const MAX_STREAMS: u32 = 200;
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

/// The server side of a connection with the limits we announce.
fn builder() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_local_error_reset_streams(Some(MAX_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_concurrent_streams(MAX_STREAMS);
    b
}

/// Serves one HTTP/2 connection until the client closes it; each request stream runs the
/// request pipeline concurrently with the others, inside the connection's task ([`slots::Slots`]).
pub async fn serve(
    stream: Stream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) {
    let Ok(mut conn) = builder().handshake::<_, Chunk>(stream).await else {
        return;
    };
    // The streams run inside this task (no task per stream). A pass polls the connection
    // (which flushes what the streams wrote and reads what came in), takes the new streams,
    // and runs the streams. A client with one request in flight costs two connection polls
    // per request (take the stream, run it; flush its response). Once a client is seen
    // multiplexing (streams taken in two passes in a row: one read carried several), the
    // connection takes every ready stream before running them, so their responses leave
    // in one write, as nginx writes the frames of many streams in one event-loop pass.
    let wake = Arc::new(ConnWake::default());
    let waker = Waker::from(wake.clone());
    let mut streams = slots::Slots::new();
    let mut greedy = false;
    std::future::poll_fn(|cx| {
        wake.task.register(cx.waker());
        wake.in_pass.store(true, Ordering::SeqCst);
        let mut done = false;
        let mut took_before = false;
        let mut settled = false;
        for _ in 0..PASSES {
            wake.pending.store(false, Ordering::SeqCst);
            let mut conn_cx = Context::from_waker(&waker);
            let mut took = false;
            while !done {
                match pin!(conn.accept()).poll(&mut conn_cx) {
                    Poll::Ready(Some(Ok((req, respond)))) => {
                        let session = Box::new(H2Stream::new(req, respond));
                        let shared = shared.clone();
                        streams.push_with(|| stream::serve(session, peer, local, shared, https));
                        greedy |= took_before;
                        took = true;
                        if !greedy {
                            break;
                        }
                    }
                    Poll::Ready(_) => done = true,
                    Poll::Pending => break,
                }
            }
            if done {
                break;
            }
            let _ = streams.poll(cx);
            // Another pass when the connection was signalled (the streams wrote) or when
            // more streams may be waiting in it (one was taken, not all).
            let more = took && !greedy;
            if !more && !wake.pending.load(Ordering::SeqCst) {
                settled = true;
                break;
            }
            took_before = took;
        }
        wake.in_pass.store(false, Ordering::SeqCst);
        if done {
            return Poll::Ready(());
        }
        if wake.pending.swap(false, Ordering::SeqCst) || !settled {
            // Signalled since the last pass, or the passes ran out with work left: come back
            // after the other tasks had their turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await;
    // The connection is gone: dropping it ends its streams' I/O (errors or end of file), so
    // the requests still running finish (and are logged) promptly.
    drop(conn);
    while !streams.is_empty() {
        std::future::poll_fn(|cx| streams.poll(cx)).await;
    }
}
