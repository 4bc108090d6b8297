//! Streaming response bodies: file regions read in chunks (never the whole file), interleaved
//! with in-memory parts (multipart boundaries). [`Body`] is an ordinary `http_body::Body`
//! (frames of at most [`CHUNK`] bytes); the proxy's own writer uses [`Body::read_into`]
//! instead, which reads the next bytes straight into its reused output buffer (after the
//! response head, so that a small file goes out in one write).

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// Read size per chunk (nginx's `output_buffers 2 32k` / sendfile chunks differ; the chunk
/// size does not change the bytes sent). Chunks are read on the worker thread, as nginx
/// without `aio` reads synchronously: measured 4× faster for a 1 MiB file than hops to
/// tokio's blocking pool (`cargo bench --bench proxy_algorithms -- static_files`); a slow
/// disk stalls the thread for one chunk, as it stalls an nginx worker.
pub const CHUNK: usize = 64 * 1024;

/// One piece of a body.
#[derive(Debug, Clone)]
pub enum Part {
    /// Bytes held in memory.
    Mem(Bytes),
    /// `len` bytes of the file starting at `offset`.
    File {
        /// Start offset in bytes.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
}

/// The body of every static response: empty (HEAD, 304), in memory, or file parts.
#[derive(Debug)]
pub struct Body {
    /// The open file (dropped at the end or on the first error; closed when no body and no
    /// per-thread cache entry holds it any more).
    file: Option<Arc<std::fs::File>>,
    /// The file's path, for error messages only.
    path: PathBuf,
    /// The next part not sent yet (`None`: the body is over); a file part is shrunk from
    /// the front as it is read. Kept apart from `rest` so that a one-part body (a whole
    /// file, a single range) costs no allocation.
    first: Option<Part>,
    /// The parts after `first`.
    rest: VecDeque<Part>,
}

/// An empty body (HEAD, 304).
pub fn empty() -> Body {
    Body {
        file: None,
        path: PathBuf::new(),
        first: None,
        rest: VecDeque::new(),
    }
}

/// A body from memory.
pub fn full(b: impl Into<Bytes>) -> Body {
    let b: Bytes = b.into();
    let mut body = empty();
    if !b.is_empty() {
        body.first = Some(Part::Mem(b));
    }
    body
}

/// A body streaming `parts`, file parts read from an already-open `file` (`path` is only
/// for error messages). A file shorter than announced ends the stream with an error (the
/// connection is then cut, as nginx does when a file shrinks under it).
pub fn file_parts(file: Arc<std::fs::File>, path: PathBuf, parts: Vec<Part>) -> Body {
    let mut rest = VecDeque::from(parts);
    Body {
        file: Some(file),
        path,
        first: rest.pop_front(),
        rest,
    }
}

/// A body streaming `len` bytes of `file` from `offset` (see [`file_parts`]), without
/// allocating.
pub fn file_part(file: Arc<std::fs::File>, path: PathBuf, offset: u64, len: u64) -> Body {
    Body {
        file: Some(file),
        path,
        first: Some(Part::File { offset, len }),
        rest: VecDeque::new(),
    }
}

/// Path buffers of finished bodies kept for reuse per thread (at most this many, of at
/// most [`PATH_KEPT_BYTES`] bytes each), so that mapping a URI to a path allocates nothing.
const PATHS_KEPT: usize = 8;
/// Largest path buffer kept for reuse, in bytes.
const PATH_KEPT_BYTES: usize = 4096;

thread_local! {
    static PATHS: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A path buffer to fill (from a finished body of this thread, or new).
pub(super) fn take_path_buf() -> PathBuf {
    PATHS.with(|p| p.borrow_mut().pop()).unwrap_or_default()
}

/// Keeps `path`'s buffer for [`take_path_buf`] (if small and the pool is not full).
pub(super) fn give_path_buf(path: PathBuf) {
    let cap = path.capacity();
    if cap > 0 && cap <= PATH_KEPT_BYTES {
        let _ = PATHS.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut()
                && p.len() < PATHS_KEPT
            {
                p.push(path);
            }
        });
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        give_path_buf(std::mem::take(&mut self.path));
    }
}

impl Body {
    /// Bytes left to send.
    pub fn remaining(&self) -> u64 {
        self.first
            .iter()
            .chain(&self.rest)
            .map(|p| match p {
                Part::Mem(b) => b.len() as u64,
                Part::File { len, .. } => *len,
            })
            .sum()
    }

    /// Fills `buf` from its start with the next bytes of the body (file bytes with
    /// `pread(2)`, straight into `buf`, across part boundaries) until `buf` is full or the
    /// body ends; returns how many bytes were written, 0 at the end. A truncated file or a
    /// read error is an error, after which the body is empty.
    pub fn read_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.next_into(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => {
                    self.file = None;
                    self.first = None;
                    self.rest.clear();
                    return Err(e);
                }
            }
        }
        Ok(n)
    }

    /// Bytes of the first non-empty part into `buf` (not empty); 0 at the end.
    fn next_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(part) = self.first.as_mut() else {
                self.file = None;
                return Ok(0);
            };
            match part {
                Part::Mem(b) if !b.is_empty() => {
                    let n = b.len().min(buf.len());
                    buf[..n].copy_from_slice(&b.split_to(n));
                    return Ok(n);
                }
                Part::File { offset, len } if *len > 0 => {
                    let n = (*len).min(buf.len() as u64) as usize;
                    let Some(f) = self.file.as_ref() else {
                        return Err(io::Error::other("static body without a file"));
                    };
                    let got = f.read_at(&mut buf[..n], *offset)?;
                    if got == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("file \"{}\" was truncated", self.path.display()),
                        ));
                    }
                    *offset += got as u64;
                    *len -= got as u64;
                    return Ok(got);
                }
                _ => {}
            }
            self.pop_front();
        }
    }

    /// Drops the first part.
    fn pop_front(&mut self) -> Option<Part> {
        std::mem::replace(&mut self.first, self.rest.pop_front())
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        // A memory part goes out as it is (no copy); file bytes in chunks of CHUNK.
        while let Some(Part::Mem(b)) = &this.first {
            if b.is_empty() {
                this.pop_front();
                continue;
            }
            if let Some(Part::Mem(b)) = this.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
        }
        let size = this.remaining().min(CHUNK as u64) as usize;
        let mut v = vec![0u8; size];
        Poll::Ready(match this.read_into(&mut v) {
            Ok(0) => None,
            Ok(n) => {
                v.truncate(n);
                Some(Ok(Frame::data(Bytes::from(v))))
            }
            Err(e) => Some(Err(e)),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}
