//! nginx's HTTP/2 receive buffer (`http2_recv_buffer_size`, 256 KiB by default): each read
//! from the client's socket asks for up to the buffer's size less nginx's two 16-byte state
//! buffers (`ngx_http_v2_read_handler`), and the `h2` crate then takes the bytes from here in
//! its own smaller pieces. Reading in nginx's size is what makes nginx's per-read flood rules
//! count the same bursts ([`super::guard`]). Like nginx's, the buffer belongs to the worker
//! (one spare per thread): a connection holds one only while it has bytes the `h2` crate has
//! not taken yet, so idle connections cost nothing.

use std::cell::RefCell;
use tokio::io::ReadBuf;

/// nginx's default `http2_recv_buffer_size`.
pub const RECV_BUFFER_SIZE: usize = 256 * 1024;
/// nginx's `NGX_HTTP_V2_STATE_BUFFER_SIZE`: two of them are kept out of each read.
const STATE_BUFFER_SIZE: usize = 16;

/// The most one read asks for with a receive buffer of `size` bytes (`-t` refuses sizes of
/// 32 bytes or less; at least one byte is read).
pub fn read_size(size: Option<usize>) -> usize {
    size.unwrap_or(RECV_BUFFER_SIZE)
        .saturating_sub(2 * STATE_BUFFER_SIZE)
        .max(1)
}

thread_local! {
    /// The worker's spare buffer.
    static SPARE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Bytes read from the socket that the `h2` crate has not taken yet.
pub struct Ahead {
    /// `size` bytes while in use, empty otherwise.
    buf: Vec<u8>,
    /// The read size ([`read_size`]).
    size: usize,
    pos: usize,
    end: usize,
}

impl Ahead {
    /// Reads of up to `size` bytes ([`read_size`]).
    pub fn new(size: usize) -> Ahead {
        Ahead {
            buf: Vec::new(),
            size,
            pos: 0,
            end: 0,
        }
    }

    /// The most one read takes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// True when every byte read was taken.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    /// The space for the next read (the previous bytes are all taken).
    pub fn space(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
            if self.buf.len() != self.size {
                self.buf = vec![0; self.size];
            }
        }
        self.pos = 0;
        self.end = 0;
        &mut self.buf
    }

    /// `n` bytes were read into [`Ahead::space`]; returns them.
    pub fn filled(&mut self, n: usize) -> &[u8] {
        self.end = n;
        &self.buf[..n]
    }

    /// Moves what fits into `out`; the buffer goes back to the worker once all is taken.
    pub fn take(&mut self, out: &mut ReadBuf<'_>) {
        let n = out.remaining().min(self.end - self.pos);
        out.put_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos >= self.end {
            self.release();
        }
    }

    /// Gives the buffer back to the worker (it keeps one spare).
    pub fn release(&mut self) {
        self.pos = 0;
        self.end = 0;
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.is_empty() {
                *s = buf;
            }
        });
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::{Ahead, read_size};
    use tokio::io::ReadBuf;

    #[test]
    fn the_read_size_is_the_buffer_less_two_state_buffers() {
        assert_eq!(read_size(None), 256 * 1024 - 32);
        assert_eq!(read_size(Some(4096)), 4064);
        assert_eq!(read_size(Some(33)), 1);
    }

    #[test]
    fn bytes_are_handed_out_in_pieces_and_the_buffer_reused() {
        let size = read_size(None);
        let mut a = Ahead::new(size);
        assert!(a.is_empty());
        let space = a.space();
        assert_eq!(space.len(), size);
        space[..10].copy_from_slice(b"0123456789");
        assert_eq!(a.filled(10), b"0123456789");
        let mut out = [0u8; 4];
        let mut rb = ReadBuf::new(&mut out);
        a.take(&mut rb);
        assert_eq!(rb.filled(), b"0123");
        assert!(!a.is_empty());
        let mut out = [0u8; 16];
        let mut rb = ReadBuf::new(&mut out);
        a.take(&mut rb);
        assert_eq!(rb.filled(), b"456789");
        assert!(a.is_empty());
        let ptr = {
            let mut b = Ahead::new(size);
            b.space().as_ptr()
        };
        // The spare went back to the thread and is the one handed out next.
        let mut c = Ahead::new(size);
        assert_eq!(c.space().as_ptr(), ptr);
        // A connection of a config with another size (after a reload) gets its own size.
        let mut d = Ahead::new(4064);
        assert_eq!(d.space().len(), 4064);
    }
}
