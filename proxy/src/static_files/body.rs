//! Streaming response bodies: file regions read in chunks (never the whole file), interleaved
//! with in-memory parts (multipart boundaries).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;

/// The body type of every static response.
pub type Body = BoxBody<Bytes, io::Error>;

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

/// An empty body (HEAD, 304).
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body from memory.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

struct State {
    file: Option<std::fs::File>,
    pos: u64,
    path: PathBuf,
    parts: std::vec::IntoIter<Part>,
    current: Option<(u64, u64)>,
}

/// Reads `n` bytes at `offset` into a fresh buffer (no zero-filling: `Read::take` +
/// `read_to_end` fill uninitialised capacity safely); seeks only when the position differs.
fn read_chunk(
    f: &mut std::fs::File,
    pos: &mut u64,
    offset: u64,
    n: usize,
    path: &Path,
) -> io::Result<Bytes> {
    if *pos != offset {
        f.seek(SeekFrom::Start(offset))?;
        *pos = offset;
    }
    let mut v = Vec::with_capacity(n);
    f.take(n as u64).read_to_end(&mut v)?;
    *pos += v.len() as u64;
    if v.len() < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("file \"{}\" was truncated", path.display()),
        ));
    }
    Ok(Bytes::from(v))
}

/// A body streaming `parts`, file parts read from an already-open `file` (`path` is only
/// for error messages). A file shorter than announced ends the stream with an error (the
/// connection is then cut, as nginx does when a file shrinks under it).
pub fn file_parts(file: std::fs::File, path: PathBuf, parts: Vec<Part>) -> Body {
    let st = State {
        file: Some(file),
        pos: 0,
        path,
        parts: parts.into_iter(),
        current: None,
    };
    let s = stream::unfold(st, |mut st| async move {
        loop {
            if let Some((offset, left)) = st.current {
                if left == 0 {
                    st.current = None;
                    continue;
                }
                let n = (left as usize).min(CHUNK);
                let f = st.file.as_mut()?;
                let r = read_chunk(f, &mut st.pos, offset, n, &st.path);
                return match r {
                    Ok(b) => {
                        st.current = Some((offset + n as u64, left - n as u64));
                        Some((Ok(Frame::data(b)), st))
                    }
                    Err(e) => {
                        st.file = None;
                        st.current = None;
                        st.parts = Vec::new().into_iter();
                        Some((Err(e), st))
                    }
                };
            }
            match st.parts.next()? {
                Part::Mem(b) => return Some((Ok(Frame::data(b)), st)),
                Part::File { offset, len } => st.current = Some((offset, len)),
            }
        }
    });
    BodyExt::boxed(StreamBody::new(s))
}
