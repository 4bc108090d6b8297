//! One try against one peer: a keepalive connection from the pool or a new one
//! (`proxy_connect_timeout`), the request head and body sent (`proxy_send_timeout`; a streamed
//! body is read from the client as it goes), and the response head read (`proxy_read_timeout`,
//! at most `proxy_buffer_size`; `100 Continue` skipped). Failures are [`Error`]s saying where
//! they happened, whether the request had been sent, and whether the connection was reused.

use super::reqbody;
use crate::conf::model::ProxyConf;
use crate::http::body::BodyDecoder;
use crate::http::chunked::{ChunkError, encode_chunk};
use crate::http::head::RequestHead;
use crate::http::response::{self, HeadError, UpHead};
use crate::live::pool::{Pool, UpConn};
use crate::request::abort::AbortWatch;
use crate::request::client::Client;
use crate::request::error::{Cause, Error, Stage};
use crate::request::stream::write_all_timed;
use std::future::Future;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// A try that got a response head.
pub struct Sent {
    /// The upstream connection (the body follows on it).
    pub conn: UpConn,
    /// The response head.
    pub head: UpHead,
    /// Body bytes read with the head.
    pub leftover: Vec<u8>,
    /// Time to connect (zero for a reused connection).
    pub connect_time: Duration,
    /// Time from the try's start to the response head.
    pub header_time: Duration,
}

/// A client body streamed upstream while it is read (`proxy_request_buffering off`).
pub struct StreamBody<'c, 'h> {
    /// The client it is read from.
    pub client: &'c mut Client,
    /// The request head (its framing).
    pub head: &'h RequestHead,
    /// `client_max_body_size` (0: unlimited).
    pub max: u64,
    /// `client_body_timeout`.
    pub timeout: Duration,
    /// Set once the whole body was read from the client.
    pub done: &'c mut bool,
}

/// The client's part in one try.
pub enum ClientSide<'c, 'h> {
    /// Its body is streamed upstream as it is read.
    Stream(StreamBody<'c, 'h>),
    /// Its connection (or HTTP/2 stream) is watched while the try waits
    /// (`proxy_ignore_client_abort off`): the try ends with [`Cause::ClientAborted`] or
    /// [`Cause::StreamReset`].
    Watch(AbortWatch<'c>),
    /// Neither.
    Idle,
}

/// Runs `work` (the try's `stage`), ended early when `watch` sees the client leave.
async fn watched<T>(
    watch: &mut Option<AbortWatch<'_>>,
    stage: Stage,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(watch) = watch else {
        return work.await;
    };
    tokio::select! {
        biased; // the work first: a step that is done at once never polls the watch
        r = work => r,
        cause = watch.left() => Err(Error::at(stage, cause)),
    }
}

/// The cause of a failed read or write at `stage`: a timeout, or the system call's error.
fn io_cause(call: &'static str, e: std::io::Error) -> Cause {
    if e.kind() == std::io::ErrorKind::TimedOut {
        Cause::TimedOut
    } else {
        Cause::Os(call, e)
    }
}

/// A new connection to `addr`. The socket is made first, as nginx's `ngx_event_connect_peer`
/// does: a failed `socket()` (out of file descriptors) is [`Cause::NoSocket`], not a failed
/// `connect()`.
async fn connect(addr: SocketAddr, timeout: Duration) -> Result<UpConn, Error> {
    let fail = |cause| Error::at(Stage::Connecting, cause);
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    };
    let socket = socket.map_err(|e| fail(Cause::NoSocket(e)))?;
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(UpConn {
                stream,
                addr,
                created: Instant::now(),
                requests: 0,
            })
        }
        Ok(Err(e)) => Err(fail(Cause::Os("connect", e))),
        Err(_) => Err(fail(Cause::TimedOut)),
    }
}

/// Sends the request head and the buffered `body` while watching for the upstream's answer,
/// in nginx's order: the first writes go at once (nginx's `ngx_http_upstream_send_request`
/// writes until EAGAIN), and once it had to wait, the upstream's read event is handled before
/// its write event (`ngx_epoll_process_events`). Returns true when the upstream started a
/// (non-1xx) answer before all was sent: nginx then sends no more
/// (`ngx_http_upstream_send_request_handler` once the header went out), so an upstream that
/// answers a large upload early and resets the unread input has its answer passed on. A
/// write that fails before any wait is nginx's `writev() failed` and 502.
async fn send_watching_answer(
    up: &mut TcpStream,
    body: &reqbody::Body,
    head: &[u8],
    timeout: Duration,
) -> Result<bool, Error> {
    let (mut rd, mut wr) = up.split();
    let sending = body.send(&mut wr, head, timeout);
    tokio::pin!(sending);
    let mut first = [0u8; 12];
    let mut watching = true;
    let mut waited = false;
    let fail = |e| Error::at(Stage::SendingRequest, io_cause("writev", e));
    std::future::poll_fn(|cx| {
        if waited && watching {
            let mut buf = tokio::io::ReadBuf::new(&mut first);
            match rd.poll_peek(cx, &mut buf) {
                // `HTTP/1.1 1xx`: not the answer (read_head skips it once all is sent).
                Poll::Ready(Ok(n)) if n >= 10 && first[9] == b'1' => watching = false,
                Poll::Ready(Ok(n)) if n > 0 => return Poll::Ready(Ok(true)),
                // Closed or reset without an answer: the send says what happened.
                Poll::Ready(_) => watching = false,
                Poll::Pending => {}
            }
        }
        match sending.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.map(|()| false).map_err(fail)),
            Poll::Pending if !waited => {
                // The first wait: from now on the answer is looked at first, and its
                // readiness wakes this task too.
                waited = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Streams the client's body to the upstream (Content-Length as is, chunked re-chunked).
async fn pump(
    body: &mut StreamBody<'_, '_>,
    up: &mut TcpStream,
    send_timeout: Duration,
) -> Result<(), Error> {
    let client = &mut *body.client;
    let sending = |e| Error::at(Stage::SendingRequest, io_cause("writev", e));
    if let Some(length) = body.head.content_length {
        let mut left = length;
        loop {
            let n = (left as usize).min(client.buf.len());
            if n > 0 {
                write_all_timed(up, &client.buf[..n], send_timeout)
                    .await
                    .map_err(sending)?;
                client.buf.drain(..n);
                left -= n as u64;
            }
            if left == 0 {
                return Ok(());
            }
            client.fill(body.timeout).await?;
        }
    }
    let mut decoder = BodyDecoder::new(client.is_h2(), body.max);
    let mut decoded = Vec::new();
    let mut out = Vec::new();
    loop {
        decoded.clear();
        let used = decoder.decode(&client.buf, &mut decoded).map_err(|e| {
            Error::client(match e {
                ChunkError::Invalid => Cause::InvalidChunkedBody,
                ChunkError::TooLarge => Cause::BodyTooLarge,
            })
        })?;
        client.buf.drain(..used);
        out.clear();
        if !decoded.is_empty() {
            encode_chunk(&decoded, &mut out);
        }
        if decoder.done() {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        if !out.is_empty() {
            write_all_timed(up, &out, send_timeout)
                .await
                .map_err(sending)?;
        }
        if decoder.done() {
            return Ok(());
        }
        client.fill_body(&mut decoder, body.timeout).await?;
    }
}

/// Reads the response head from `conn` (skipping `100 Continue`); the head and the body
/// bytes read with it.
async fn read_head(conn: &mut UpConn, conf: &ProxyConf) -> Result<(UpHead, Vec<u8>), Error> {
    let fail = |cause| Error::at(Stage::ReadingResponseHeader, cause);
    let mut buf = response::head_buf(conf.buffer_size.max(1024));
    loop {
        match tokio::time::timeout(conf.read_timeout, conn.stream.read_buf(&mut buf)).await {
            Err(_) => return Err(fail(Cause::TimedOut)),
            Ok(Err(e)) => return Err(fail(Cause::Os("recv", e))),
            Ok(Ok(0)) => return Err(fail(Cause::Closed)),
            Ok(Ok(_)) => {}
        }
        match response::parse(&mut buf, conf.buffer_size) {
            Ok(Some((head, leftover))) if head.status.code() == 100 => {
                buf = leftover;
                buf.reserve(conf.buffer_size.max(1024));
            }
            Ok(Some(parsed)) => return Ok(parsed),
            Ok(None) => {
                if buf.capacity() == buf.len() {
                    buf.reserve(1024);
                }
            }
            Err(HeadError::TooBig) => return Err(fail(Cause::HeaderTooBig)),
            Err(HeadError::Invalid) => return Err(fail(Cause::InvalidHeader)),
        }
    }
}

/// One try: connection, request (head, then the buffered `body` or the streamed one), and
/// the response head; the client's side streams its body or is watched for a close.
/// `started` is the try's start.
pub async fn try_peer(
    pool: &Pool,
    addr: SocketAddr,
    conf: &ProxyConf,
    request_head: &[u8],
    body: &reqbody::Body,
    client: ClientSide<'_, '_>,
    started: Instant,
) -> Result<Sent, Error> {
    let (mut watch, streamed) = match client {
        ClientSide::Watch(w) => (Some(w), None),
        ClientSide::Stream(s) => (None, Some(s)),
        ClientSide::Idle => (None, None),
    };
    // A cached connection has no connect time (nginx logs 0.000 for it).
    let (mut conn, reused, connect_time) = match pool.take(addr, started) {
        Some(c) => (c, true, Duration::ZERO),
        None => {
            let connecting = connect(addr, conf.connect_timeout);
            let c = watched(&mut watch, Stage::Connecting, connecting).await?;
            let t = c.created - started;
            (c, false, t)
        }
    };
    let sent = |mut error: Error| {
        error.request_sent = true;
        error.reused = reused;
        error
    };
    conn.requests += 1;
    let sending = send_watching_answer(&mut conn.stream, body, request_head, conf.send_timeout);
    let early = watched(&mut watch, Stage::SendingRequest, sending)
        .await
        .map_err(sent)?;
    if let Some(mut streamed) = streamed
        && !early
    {
        pump(&mut streamed, &mut conn.stream, conf.send_timeout)
            .await
            .map_err(sent)?;
        *streamed.done = true;
    }
    // nginx's log action stays "sending request" until response bytes arrive: a client that
    // leaves while the upstream is silent is logged "while sending request to upstream".
    let reading = read_head(&mut conn, conf);
    let (mut head, leftover) = watched(&mut watch, Stage::SendingRequest, reading)
        .await
        .map_err(sent)?;
    // A request not sent whole leaves the connection unusable (nginx's keepalive module drops
    // a connection whose request body was not sent).
    head.conn_close |= early;
    Ok(Sent {
        conn,
        head,
        leftover,
        connect_time,
        header_time: Instant::now() - started,
    })
}
