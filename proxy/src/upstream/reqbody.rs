//! Buffered request bodies (`proxy_request_buffering on`), as nginx's request body reader:
//! a Content-Length body whose unread part is under 1.25 × `client_body_buffer_size`, or a
//! chunked body that decodes to at most `client_body_buffer_size`, stays in memory; a larger
//! one goes to a temporary file under `client_body_temp_path` (warn `a client request body is
//! buffered to a temporary file PATH`), unlinked as soon as it is opened, so it disappears
//! with its descriptor whatever ends the request. `client_body_in_file_only on|clean` puts
//! every body in a named file (logged at notice) kept (`on`) or removed after the request.

use crate::conf::body::{BodyConf, InFileOnly};
use crate::http::body::BodyDecoder;
use crate::http::chunked::ChunkError;
use crate::http::head::RequestHead;
use crate::request::client::Client;
use crate::request::error::{Cause, Error};
use crate::request::stream::write_all_timed;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWrite;

/// Bytes read from or written to the temp file at a time.
const IO_CHUNK: usize = 64 * 1024;

/// A request body read whole.
#[derive(Debug)]
pub enum Body {
    /// In memory.
    Mem(Vec<u8>),
    /// In a temporary file.
    File(TempBody),
}

/// A body in a temporary file; the file goes away when this is dropped (unlinked at once, or
/// removed on drop for `client_body_in_file_only clean`).
#[derive(Debug)]
pub struct TempBody {
    file: std::fs::File,
    len: u64,
    remove: Option<PathBuf>,
}

impl Drop for TempBody {
    fn drop(&mut self) {
        if let Some(p) = &self.remove {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Body {
    /// Body length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Mem(v) => v.len() as u64,
            Body::File(t) => t.len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `head` then the body to the upstream, `timeout` between successive writes
    /// (`proxy_send_timeout`). A file body is read back in 64 KiB pieces.
    pub async fn send<W: AsyncWrite + Unpin>(
        &self,
        up: &mut W,
        head: &[u8],
        timeout: Duration,
    ) -> std::io::Result<()> {
        match self {
            Body::Mem(b) if b.is_empty() => write_all_timed(up, head, timeout).await,
            Body::Mem(b) if b.len() <= 16384 => {
                let mut all = Vec::with_capacity(head.len() + b.len());
                all.extend_from_slice(head);
                all.extend_from_slice(b);
                write_all_timed(up, &all, timeout).await
            }
            Body::Mem(b) => {
                write_all_timed(up, head, timeout).await?;
                write_all_timed(up, b, timeout).await
            }
            Body::File(t) => {
                write_all_timed(up, head, timeout).await?;
                let mut buf = vec![0u8; IO_CHUNK];
                let mut off = 0u64;
                while off < t.len {
                    let want = ((t.len - off) as usize).min(IO_CHUNK);
                    let n = t.file.read_at(&mut buf[..want], off)?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    write_all_timed(up, &buf[..n], timeout).await?;
                    off += n as u64;
                }
                Ok(())
            }
        }
    }
}

/// The temp file could not be created or written: nginx's crit line `line`, answered 500.
fn temp_file(line: String) -> Error {
    Error::client(Cause::TempFile(line))
}

/// Where the body is being collected.
enum Sink {
    Mem(Vec<u8>),
    File(TempBody, PathBuf),
}

impl Sink {
    fn put(&mut self, data: &[u8]) -> Result<(), Error> {
        match self {
            Sink::Mem(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Sink::File(t, path) => {
                // nginx's first write joins the bytes read with the head and its body buffer
                // (pwritev()); later ones write the one body buffer (pwrite())
                let call = if t.len == 0 {
                    super::temp_file::Call::Pwritev
                } else {
                    super::temp_file::Call::Pwrite
                };
                super::temp_file::write_at(&t.file, path, call, data, t.len).map_err(temp_file)?;
                t.len += data.len() as u64;
                Ok(())
            }
        }
    }

    /// Moves what is in memory into a new temp file.
    fn spill(
        &mut self,
        conf: &BodyConf,
        on_file: &mut (dyn FnMut(&Path) + Send),
    ) -> Result<(), Error> {
        if let Sink::Mem(v) = self {
            let keep = conf.in_file_only != InFileOnly::Off;
            let (file, path) =
                super::temp_file::create(&conf.temp_path, keep).map_err(temp_file)?;
            on_file(&path);
            let data = std::mem::take(v);
            *self = Sink::File(
                TempBody {
                    file,
                    len: 0,
                    remove: (conf.in_file_only == InFileOnly::Clean).then(|| path.clone()),
                },
                path,
            );
            self.put(&data)?;
        }
        Ok(())
    }

    fn done(self) -> Body {
        match self {
            Sink::Mem(v) => Body::Mem(v),
            Sink::File(t, _) => Body::File(t),
        }
    }
}

/// Reads the whole body of `head`. `buffer` is `client_body_buffer_size`, `max` is
/// `client_max_body_size` (0 = unlimited; checked per chunk), `timeout` is
/// `client_body_timeout`; `on_file(path)` is called when a temp file is created.
pub async fn read(
    client: &mut Client,
    head: &RequestHead,
    conf: &BodyConf,
    buffer: u64,
    max: u64,
    timeout: Duration,
    on_file: &mut (dyn FnMut(&Path) + Send),
) -> Result<Body, Error> {
    // nginx tests `Expect` whenever it starts reading a body, even an empty one (corpus case
    // pipelining/expect-get-no-body).
    client.send_continue_if_expected(head, timeout).await;
    let in_file = conf.in_file_only != InFileOnly::Off;
    let mut sink = Sink::Mem(Vec::new());
    if in_file && (head.chunked || head.content_length.is_some()) {
        sink.spill(conf, on_file)?;
    }
    if let Some(cl) = head.content_length {
        let preread = (cl as usize).min(client.buf.len()) as u64;
        let rest = cl - preread;
        if rest > 0 && rest >= buffer + buffer / 4 {
            sink.spill(conf, on_file)?;
        } else if let Sink::Mem(v) = &mut sink {
            v.reserve(cl as usize);
        }
        let mut left = cl;
        loop {
            let n = (left as usize).min(client.buf.len());
            sink.put(&client.buf[..n])?;
            client.buf.drain(..n);
            left -= n as u64;
            if left == 0 {
                return Ok(sink.done());
            }
            client.fill(timeout).await?;
        }
    }
    if !head.chunked {
        return Ok(sink.done());
    }
    let mut dec = BodyDecoder::new(client.is_h2(), max);
    let mut piece = Vec::new();
    loop {
        piece.clear();
        let used = dec.decode(&client.buf, &mut piece).map_err(|e| {
            Error::client(match e {
                ChunkError::Invalid => Cause::InvalidChunkedBody,
                ChunkError::TooLarge => Cause::BodyTooLarge,
            })
        })?;
        client.buf.drain(..used);
        sink.put(&piece)?;
        if matches!(&sink, Sink::Mem(v) if v.len() as u64 > buffer) {
            sink.spill(conf, on_file)?;
        }
        if dec.done() {
            return Ok(sink.done());
        }
        client.fill_body(&mut dec, timeout).await?;
    }
}

/// Reads the whole request body (memory, or a temp file past `client_body_buffer_size`),
/// logging the temp file as nginx does.
pub async fn read_logged(
    client: &mut Client,
    req: &crate::request::ctx::Req<'_>,
    max: u64,
) -> Result<Body, Error> {
    let conf = &*req.loc.body;
    let level = if conf.in_file_only == InFileOnly::Off {
        crate::conf::model::LogLevel::Warn
    } else {
        crate::conf::model::LogLevel::Notice
    };
    let mut on_file = |p: &std::path::Path| {
        crate::request::log::log_error(
            req.live,
            req,
            level,
            &format!(
                "a client request body is buffered to a temporary file {}",
                p.display()
            ),
        );
    };
    read(
        client,
        req.head,
        conf,
        req.loc.client_body_buffer_size,
        max,
        req.loc.client_body_timeout,
        &mut on_file,
    )
    .await
}
