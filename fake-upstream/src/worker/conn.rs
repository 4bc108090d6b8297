//! One client connection, as uvicorn's httptools protocol handles it: pipelined requests served
//! strictly in order, the `--limit-concurrency` check at head time, the keep-alive timer armed
//! only after a response (FIN with no bytes when it fires), 400 on malformed input, and graceful
//! shutdown (idle → close; in flight → `connection: close`).

use super::Worker;
use super::builtin::{dispatch, echo_response};
use super::exec::{Plan, Reply, Waited, work};
use crate::app::Fault;
use crate::wire::request::{BodyReader, RequestHead, parse_head};
use crate::wire::response::{self, Framing, Response};
use bytes::BytesMut;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What happens to the connection after a request.
enum Next {
    KeepAlive,
    Close,
    /// Close without draining unread input (the kernel may answer with RST).
    Abort,
}

/// Keeps uvicorn's `connections` set: counted from accept to close.
struct ConnGuard(Rc<Worker>);

impl ConnGuard {
    fn new(w: &Rc<Worker>) -> Self {
        w.conns.set(w.conns.get() + 1);
        w.shared.connections.fetch_add(1, Relaxed);
        ConnGuard(w.clone())
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.conns.set(self.0.conns.get() - 1);
        self.0.shared.connections.fetch_sub(1, Relaxed);
    }
}

/// Keeps uvicorn's `tasks` set: one per request being handled.
pub(super) struct TaskGuard(Rc<Worker>);

impl TaskGuard {
    pub(super) fn new(w: &Rc<Worker>) -> Self {
        w.tasks.set(w.tasks.get() + 1);
        w.shared.in_flight.fetch_add(1, Relaxed);
        TaskGuard(w.clone())
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.shared.in_flight.fetch_sub(1, Relaxed);
        if self.0.cfg.concurrency_mode == crate::config::ConcurrencyMode::Uvloop {
            // uvloop: the finished task leaves the set on a later loop iteration.
            let w = self.0.clone();
            tokio::task::spawn_local(async move {
                tokio::task::yield_now().await;
                w.tasks.set(w.tasks.get() - 1);
            });
        } else {
            self.0.tasks.set(self.0.tasks.get() - 1);
        }
    }
}

/// Serves one accepted connection until it closes.
pub(super) async fn serve(w: Rc<Worker>, sock: TcpStream) {
    let guard = Some(ConnGuard::new(&w));
    let mut c = Conn {
        guard,
        w,
        sock,
        buf: BytesMut::with_capacity(8192),
        out: Vec::with_capacity(4096),
    };
    match c.run().await {
        Next::Close => c.close_gracefully(),
        Next::Abort | Next::KeepAlive => {}
    }
}

pub(super) struct Conn {
    /// Membership in uvicorn's `connections`; dropped as soon as the peer is gone.
    guard: Option<ConnGuard>,
    pub(super) w: Rc<Worker>,
    pub(super) sock: TcpStream,
    pub(super) buf: BytesMut,
    out: Vec<u8>,
}

impl Conn {
    async fn run(&mut self) -> Next {
        let mut shutdown = self.w.shutdown_tx.subscribe();
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        tokio::pin!(stop);
        let ka = self.w.cfg.timeout_keep_alive;
        // The real keep-alive deadline, and whether the timer is registered. The timer is only
        // re-registered when it fires early, so the hot path does not touch the timer wheel.
        let mut deadline: Option<Instant> = None;
        let mut timer_set = false;
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        loop {
            if !self.buf.is_empty() {
                match parse_head(&self.buf) {
                    Err(_) => {
                        self.w.shared.responses_400.fetch_add(1, Relaxed);
                        self.out.clear();
                        response::bad_request_400(&mut self.out, &self.w.date());
                        let _ = self.sock.write_all(&self.out).await;
                        return Next::Close;
                    }
                    Ok(Some((head, n))) => {
                        let _ = self.buf.split_to(n);
                        match self.request(head).await {
                            Next::KeepAlive => {
                                let d = Instant::now() + ka;
                                deadline = Some(d);
                                if !timer_set {
                                    timer.as_mut().reset(d);
                                    timer_set = true;
                                }
                                continue;
                            }
                            other => return other,
                        }
                    }
                    Ok(None) => {}
                }
            }
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(8192);
            }
            if self.w.shutting_down() {
                // Idle (no request in progress): uvicorn closes it right away. A request that
                // already sits in the socket buffer is not idle: uvicorn's event loop has read
                // it before its shutdown runs, so take what is there first.
                match read_now(&self.sock, &mut self.buf) {
                    Ok(n) if n > 0 => continue,
                    _ => return Next::Abort,
                }
            }
            tokio::select! {
                biased;
                r = self.sock.read_buf(&mut self.buf) => match r {
                    Ok(0) | Err(_) => return Next::Abort,
                    Ok(_) => deadline = None,
                },
                _ = &mut timer, if timer_set => {
                    timer_set = false;
                    match deadline {
                        // keep-alive expired: FIN, no bytes
                        Some(d) if Instant::now() >= d => return Next::Abort,
                        Some(d) => {
                            timer.as_mut().reset(d);
                            timer_set = true;
                        }
                        None => {}
                    }
                }
                _ = &mut stop => {}
            }
        }
    }

    /// Handles one request whose head was just parsed.
    async fn request(&mut self, head: RequestHead) -> Next {
        let w = self.w.clone();
        if head.websocket && head.method == "GET" && w.app.websocket_at(&head.path) {
            super::ws::serve(self, head).await;
            return Next::Abort;
        }
        if w.over_limit() {
            w.log("WARNING:  Exceeded concurrency limit.");
            self.out.clear();
            response::service_unavailable_503(&mut self.out, &w.date());
            let _ = self.sock.write_all(&self.out).await;
            w.shared.responses_503.fetch_add(1, Relaxed);
            w.response_done();
            return Next::Close;
        }
        let task = TaskGuard::new(&w);
        if w.cfg.concurrency_mode == crate::config::ConcurrencyMode::Uvloop {
            // The ASGI task starts on a later loop iteration, so it spans at least one I/O
            // phase in which other connections' heads are checked against the limit.
            tokio::task::yield_now().await;
        }
        let plan = dispatch(&w, &head);
        w.shared.count_route(plan.counter);
        let mut body_reader = BodyReader::new(head.body);
        let mut body = Vec::new();
        if matches!(plan.reply, Reply::Echo) {
            if head.expect_continue && !body_reader.is_done() {
                let _ = self.sock.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            }
            if !self.read_body(&mut body_reader, Some(&mut body)).await {
                return Next::Abort;
            }
        }
        let waited = self.work_watching_peer(&plan).await;
        if self.guard.is_none() {
            // The client went away: the task ran to its end, its response goes nowhere.
            return Next::Abort;
        }
        let keep_alive = head.keep_alive && !w.shutting_down();
        let head_req = head.method == "HEAD";
        let next = match waited {
            Waited::Cancelled => {
                self.out.clear();
                response::uvicorn_500(&mut self.out, &w.date());
                w.shared.responses_500.fetch_add(1, Relaxed);
                let _ = self.sock.write_all(&self.out).await;
                w.response_done();
                return Next::Close;
            }
            Waited::AppException => {
                w.shared.responses_500.fetch_add(1, Relaxed);
                self.send(&Response::fastapi_500(), head_req, keep_alive)
                    .await;
                w.response_done();
                return Next::Close;
            }
            Waited::Done => self.reply(&plan, &body, head_req, keep_alive).await,
        };
        drop(task);
        match next {
            Next::KeepAlive if !body_reader.is_done() => {
                if self.read_body(&mut body_reader, None).await {
                    Next::KeepAlive
                } else {
                    Next::Abort
                }
            }
            other => other,
        }
    }

    /// Does the plan's work while reading ahead, so that a client that goes away leaves
    /// uvicorn's `connections` at once (`connection_lost`), while its task runs on.
    async fn work_watching_peer(&mut self, plan: &Plan) -> Waited {
        let w = self.w.clone();
        let fut = work(&w, plan);
        tokio::pin!(fut);
        loop {
            let can_read = self.guard.is_some() && self.buf.len() < 64 * 1024;
            if can_read && self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(8192);
            }
            tokio::select! {
                biased;
                r = &mut fut => return r,
                r = self.sock.read_buf(&mut self.buf), if can_read => {
                    if matches!(r, Ok(0) | Err(_)) {
                        // uvicorn closes the transport on EOF (`eof_received` returns None).
                        let _ = socket2::SockRef::from(&self.sock).shutdown(std::net::Shutdown::Both);
                        self.guard = None;
                    }
                }
            }
        }
    }

    /// Sends the plan's reply, applying its fault. Counts completed responses.
    async fn reply(&mut self, plan: &Plan, body: &[u8], head_req: bool, keep_alive: bool) -> Next {
        let w = self.w.clone();
        let echo;
        let resp = match &plan.reply {
            Reply::Ready(r) => r,
            Reply::Echo => {
                echo = echo_response(body);
                &echo
            }
        };
        match plan.fault {
            None => {
                let ka = self.send(resp, head_req, keep_alive).await;
                w.response_done();
                if ka { Next::KeepAlive } else { Next::Close }
            }
            Some(Fault::Error500) => {
                w.shared.responses_500.fetch_add(1, Relaxed);
                self.send(&Response::fastapi_500(), head_req, keep_alive)
                    .await;
                w.response_done();
                Next::Close
            }
            Some(Fault::Reset) => {
                let _ = socket2::SockRef::from(&self.sock).set_linger(Some(Duration::ZERO));
                Next::Abort
            }
            Some(Fault::Hang) => {
                self.hang().await;
                Next::Abort
            }
            Some(Fault::Truncate) => {
                self.out.clear();
                let (framing, _) =
                    response::write_head(&mut self.out, &w.date(), resp, head_req, keep_alive);
                let half = &resp.body[..resp.body.len() / 2];
                response::write_body(&mut self.out, framing, half, false);
                let _ = self.sock.write_all(&self.out).await;
                Next::Close
            }
            Some(Fault::Trickle) => {
                self.out.clear();
                let (framing, ka) =
                    response::write_head(&mut self.out, &w.date(), resp, head_req, keep_alive);
                let _ = self.sock.write_all(&self.out).await;
                let (step, pause) = plan.trickle;
                let total = if framing == Framing::None {
                    0
                } else {
                    resp.body.len()
                };
                let mut sent = 0;
                while sent < total {
                    tokio::time::sleep(pause).await;
                    let end = (sent + step.max(1)).min(total);
                    self.out.clear();
                    response::write_body(&mut self.out, framing, &resp.body[sent..end], false);
                    if self.sock.write_all(&self.out).await.is_err() {
                        return Next::Abort;
                    }
                    sent = end;
                }
                self.out.clear();
                response::write_body(&mut self.out, framing, &[], true);
                let _ = self.sock.write_all(&self.out).await;
                w.response_done();
                if ka { Next::KeepAlive } else { Next::Close }
            }
        }
    }

    /// Writes a whole response; returns whether the connection stays open.
    async fn send(&mut self, resp: &Response, head_req: bool, keep_alive: bool) -> bool {
        self.out.clear();
        let (framing, ka) =
            response::write_head(&mut self.out, &self.w.date(), resp, head_req, keep_alive);
        if !head_req {
            response::write_body(&mut self.out, framing, &resp.body, true);
        }
        self.sock.write_all(&self.out).await.is_ok() && ka
    }

    /// Reads the request body into `sink` (or discards it); false if the client went away or
    /// the framing is invalid.
    async fn read_body(&mut self, reader: &mut BodyReader, mut sink: Option<&mut Vec<u8>>) -> bool {
        loop {
            match reader.feed(&mut self.buf, sink.as_deref_mut()) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(_) => return false,
            }
            self.buf.reserve(8192);
            match self.sock.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
    }

    /// Never answers: waits until the client closes or the task is cancelled.
    async fn hang(&mut self) {
        let mut cancel = self.w.cancel_tx.subscribe();
        let mut scratch = [0u8; 4096];
        loop {
            tokio::select! {
                r = self.sock.read(&mut scratch) => if matches!(r, Ok(0) | Err(_)) { return },
                _ = cancel.wait_for(|c| *c) => return,
            }
        }
    }

    /// Closes like `transport.close()` after reading what the client already sent, so that the
    /// peer sees a FIN rather than an RST caused by unread input.
    fn close_gracefully(&mut self) {
        let mut scratch = [0u8; 4096];
        for _ in 0..64 {
            match self.sock.try_read(&mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

/// Reads what the kernel already holds for `sock` into `buf`, without waiting: unlike
/// `try_read_buf`, which answers WouldBlock until tokio's reactor has seen a readiness event
/// (so bytes that arrived since the last poll looked absent), this asks the kernel.
fn read_now(sock: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    let sock = socket2::SockRef::from(sock);
    let mut tmp = [0u8; 8192];
    // The socket is non-blocking (tokio's): an empty buffer is WouldBlock.
    let n = std::io::Read::read(&mut &*sock, &mut tmp)?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Bytes in the kernel's buffer that tokio's reactor has not polled yet are read (a
    /// stopping worker must not take such a request for an idle connection).
    #[tokio::test(flavor = "current_thread")]
    async fn read_now_takes_bytes_the_reactor_has_not_seen() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        let server = TcpStream::from_std(server).expect("tokio stream");
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
        let mut buf = BytesMut::new();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let mut n = 0;
        // No await in between: the reactor never runs, so only the kernel knows of the bytes.
        while n == 0 && std::time::Instant::now() < until {
            n = read_now(&server, &mut buf).unwrap_or(0);
        }
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\n\r\n");
        drop(client);
        let mut rest = BytesMut::new();
        let eof = loop {
            match read_now(&server, &mut rest) {
                Ok(n) => break n,
                Err(_) if std::time::Instant::now() < until => continue,
                Err(e) => panic!("no EOF: {e}"),
            }
        };
        assert_eq!(eof, 0, "a closed client reads as EOF");
    }
}
