//! nginx's discarded request bodies and lingering close.
//!
//! A handler that does not read the body (`return`, `deny`, the up-front 413, static files,
//! status pages) answers at once: only the body bytes already read are dropped before the
//! response ([`Discard::start`]); the rest is read and dropped after it ([`Discard::finish`]),
//! each read waiting at most `lingering_timeout` and all of it at most `lingering_time`, so
//! that a keep-alive connection can go on and a client still sending gets the whole response
//! instead of a reset. When the connection then closes while the client may still be sending,
//! [`lingering_close`] shuts the write side down (the client sees EOF after the response) and
//! keeps reading and dropping for up to `lingering_time` before closing.
//!
//! The client connection is any [`ClientConn`] (the request layer's session implements it),
//! so this module stays below the request layer.

use crate::http::body::BodyDecoder;
use crate::http::head::RequestHead;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The client connection bodies are discarded from and lingering-closed.
pub trait ClientConn {
    /// The byte stream (shut down and read by [`lingering_close`]).
    type Io: AsyncRead + AsyncWrite + Unpin + Send;
    /// The stream and the bytes read from it but not consumed yet.
    fn parts(&mut self) -> (&mut Self::Io, &mut Vec<u8>);
    /// Reads more bytes into the buffer before `deadline` (Ok(0): end of file).
    fn read_more(
        &mut self,
        deadline: Instant,
    ) -> impl Future<Output = std::io::Result<usize>> + Send;
    /// Answers `Expect: 100-continue` when `head` asks for it (HTTP/1.1).
    fn send_continue_if_expected(
        &mut self,
        head: &RequestHead,
        timeout: Duration,
    ) -> impl Future<Output = ()> + Send;
    /// Makes the coming close send a reset, as a close with unread data does.
    fn reset_on_close(&self);
    /// Whether a body without a length arrives as unframed DATA payloads that end with the
    /// stream (HTTP/2) rather than as chunked bytes.
    fn data_frames(&self) -> bool;
}

/// nginx's `NGX_HTTP_LINGERING_BUFFER_SIZE`.
const LINGER_BUF: usize = 4096;

#[derive(Debug)]
enum Left {
    /// Nothing (more) to drop.
    Nothing,
    /// Content-Length bytes still to come.
    Length(u64),
    /// A body without a length still being decoded (chunked, or HTTP/2 DATA).
    Chunked(Box<BodyDecoder>),
    /// Invalid chunked framing: the connection cannot be reused.
    Invalid,
}

/// The part of a request body still to be discarded.
#[derive(Debug)]
pub struct Discard {
    left: Left,
    started: bool,
}

/// How discarding after the response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The whole body was read: the connection may be reused.
    Done,
    /// The client closed, a read failed, the framing was invalid, or `lingering_timeout` /
    /// `lingering_time` ran out: close at once.
    Failed,
}

impl Default for Discard {
    fn default() -> Self {
        Discard::none()
    }
}

impl Discard {
    /// No body being discarded.
    pub fn none() -> Discard {
        Discard {
            left: Left::Nothing,
            started: false,
        }
    }

    /// Starts discarding the body of `head`: answers `Expect: 100-continue` when `expect`
    /// (nginx does not for the up-front 413) and drops the body bytes already read.
    pub async fn start(
        client: &mut impl ClientConn,
        head: &RequestHead,
        expect: bool,
        send_timeout: Duration,
    ) -> Discard {
        let left = if head.chunked {
            Left::Chunked(Box::new(BodyDecoder::new(client.data_frames(), 0)))
        } else {
            match head.content_length {
                Some(n) if n > 0 => Left::Length(n),
                _ => return Discard::none(),
            }
        };
        if expect {
            client.send_continue_if_expected(head, send_timeout).await;
        }
        let mut d = Discard {
            left,
            started: true,
        };
        d.eat(client.parts().1);
        d
    }

    /// Whether a body was being discarded (even if it was complete at once).
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether body bytes are still expected.
    pub fn pending(&self) -> bool {
        !matches!(self.left, Left::Nothing)
    }

    /// Drops body bytes from the front of `buf`, leaving what follows the body.
    fn eat(&mut self, buf: &mut Vec<u8>) {
        match &mut self.left {
            Left::Nothing | Left::Invalid => {}
            Left::Length(n) => {
                let k = (*n as usize).min(buf.len());
                buf.drain(..k);
                *n -= k as u64;
                if *n == 0 {
                    self.left = Left::Nothing;
                }
            }
            Left::Chunked(dec) => {
                let mut sink = Vec::new();
                match dec.decode(buf, &mut sink) {
                    Ok(used) => {
                        buf.drain(..used);
                        if dec.done() {
                            self.left = Left::Nothing;
                        }
                    }
                    Err(_) => self.left = Left::Invalid,
                }
            }
        }
    }

    /// After the response: reads and drops the rest of the body, waiting at most `timeout`
    /// (`lingering_timeout`) for each read and `time` (`lingering_time`) in all.
    pub async fn finish(
        &mut self,
        client: &mut impl ClientConn,
        time: Duration,
        timeout: Duration,
    ) -> Finish {
        let end = Instant::now() + time;
        loop {
            self.eat(client.parts().1);
            match self.left {
                Left::Nothing => return Finish::Done,
                Left::Invalid => return Finish::Failed,
                _ => {}
            }
            let now = Instant::now();
            if now >= end {
                return Finish::Failed;
            }
            match client.read_more(wait_until(now, end, timeout)).await {
                Ok(0) => {
                    // End of file ends an HTTP/2 body; anything else was cut short.
                    if let Left::Chunked(d) = &mut self.left
                        && d.end_of_input()
                    {
                        return Finish::Done;
                    }
                    return Finish::Failed;
                }
                Err(_) => return Finish::Failed,
                Ok(_) if Instant::now() >= end => {
                    // nginx sees the time is up when data arrives and closes without
                    // reading it: the client gets a reset.
                    client.reset_on_close();
                    return Finish::Failed;
                }
                Ok(_) => {}
            }
        }
    }
}

/// The end of one wait for client data: `timeout` (`lingering_timeout`), but not much past
/// `end`. nginx arms this timer with the remaining `lingering_time` in whole seconds, so a
/// client that keeps sending is noticed by its next data after the time is up (then reset).
fn wait_until(now: Instant, end: Instant, timeout: Duration) -> Instant {
    (now + timeout).min(end + Duration::from_secs(1))
}

/// nginx's lingering close: shuts down the write side (after a TLS close_notify), then reads
/// and drops whatever the client still sends until it closes, `timeout` passes without data,
/// or `time` passes in all; then the connection is dropped.
pub async fn lingering_close(client: &mut impl ClientConn, time: Duration, timeout: Duration) {
    let end = Instant::now() + time;
    let shut = tokio::time::timeout(timeout, client.parts().0.shutdown()).await;
    if !matches!(shut, Ok(Ok(()))) {
        return;
    }
    client.parts().1.clear();
    let mut scratch = [0u8; LINGER_BUF];
    loop {
        let now = Instant::now();
        if now >= end {
            return;
        }
        let wait = wait_until(now, end, timeout);
        match tokio::time::timeout_at(wait, client.parts().0.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 && Instant::now() >= end => {
                client.reset_on_close();
                return;
            }
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}
