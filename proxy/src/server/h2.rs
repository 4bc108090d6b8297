//! HTTP/2 (ALPN `h2` on `listen … ssl http2`, prior-knowledge h2c on `listen … http2`):
//! the `h2` crate's server, each stream fed as one HTTP/1.1 request (with `Connection: close`)
//! into the same request pipeline as every other request (phases, locations, proxying, logs),
//! so the behaviour is identical. The stream is an in-process transport ([`io::H2Io`]): the
//! pipeline reads the request head and body from it and its HTTP/1.1 response is parsed back
//! into an HTTP/2 response (connection-specific headers removed) as it is written, without a
//! pipe, an HTTP/1.1 client or extra tasks in between.

pub mod io;

use super::shared::Shared;
use super::stream::Stream;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;

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

/// Serves one HTTP/2 connection until the client closes it; each request stream runs the
/// HTTP/1.1 pipeline concurrently with the others, inside the connection's task.
pub async fn serve(
    stream: Stream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) {
    let mut b = h2::server::Builder::new();
    b.initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_local_error_reset_streams(Some(MAX_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_concurrent_streams(MAX_STREAMS);
    let Ok(mut conn) = b.handshake::<_, Bytes>(stream).await else {
        return;
    };
    // The streams run inside this task (no task per stream): a stream's response is queued
    // and flushed in the same wake-up as the connection is polled.
    let mut streams = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = streams.next(), if !streams.is_empty() => {}
            next = conn.accept() => {
                let Some(Ok((req, respond))) = next else { break };
                let io = io::H2Io::new(req, respond);
                streams.push(Box::pin(super::conn::serve_stream(
                    Stream::Mem(Box::new(io)),
                    peer,
                    local,
                    shared.clone(),
                    https,
                )));
            }
        }
    }
    // The connection is gone: dropping it ends its streams' I/O (errors or end of file), so
    // the requests still running finish (and are logged) promptly.
    drop(conn);
    while streams.next().await.is_some() {}
}
