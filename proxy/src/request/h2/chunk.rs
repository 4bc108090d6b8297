//! The DATA payload type of our HTTP/2 connections: small payloads (the common short
//! bodies: `ok\n`, error pages' tails, small JSON) are held inline, so sending one costs no
//! allocation; larger ones are shared [`Bytes`].

use bytes::{Buf, Bytes};

/// Payloads up to this many bytes are stored inline (bytes).
pub const INLINE: usize = 110;

/// One DATA frame payload (see the module docs).
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Inline bytes: `data[pos..len]` is what remains to be sent.
    Small {
        /// End of the payload in `data`.
        len: u8,
        /// Bytes already consumed.
        pos: u8,
        /// The storage.
        data: [u8; INLINE],
    },
    /// A larger payload.
    Big(Bytes),
}

impl Chunk {
    /// The empty payload (an end-of-stream marker).
    pub fn empty() -> Chunk {
        Chunk::Small {
            len: 0,
            pos: 0,
            data: [0; INLINE],
        }
    }

    /// A copy of `bytes` (inline when it fits).
    pub fn copy_from(bytes: &[u8]) -> Chunk {
        if bytes.len() <= INLINE {
            let mut data = [0; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            Chunk::Small {
                len: bytes.len() as u8,
                pos: 0,
                data,
            }
        } else {
            Chunk::Big(Bytes::copy_from_slice(bytes))
        }
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(v: Vec<u8>) -> Chunk {
        if v.len() <= INLINE {
            Chunk::copy_from(&v)
        } else {
            Chunk::Big(Bytes::from(v))
        }
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Chunk::Small { len, pos, .. } => usize::from(*len - *pos),
            Chunk::Big(b) => b.len(),
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Chunk::Small { len, pos, data } => &data[usize::from(*pos)..usize::from(*len)],
            Chunk::Big(b) => b,
        }
    }

    fn advance(&mut self, cnt: usize) {
        match self {
            Chunk::Small { len, pos, .. } => {
                assert!(cnt <= usize::from(*len - *pos), "advance past the end");
                *pos += cnt as u8;
            }
            Chunk::Big(b) => b.advance(cnt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_big_payloads_read_back_and_advance() {
        let mut s = Chunk::copy_from(b"ok\n");
        assert!(matches!(s, Chunk::Small { .. }));
        assert_eq!(s.remaining(), 3);
        s.advance(1);
        assert_eq!(s.chunk(), b"k\n");
        let v: Vec<u8> = (0..=255u8).collect();
        let mut b = Chunk::from(v.clone());
        assert!(matches!(b, Chunk::Big(_)));
        assert_eq!(b.chunk(), &v[..]);
        b.advance(200);
        assert_eq!(b.remaining(), 56);
        let edge = Chunk::copy_from(&v[..INLINE]);
        assert!(matches!(edge, Chunk::Small { .. }));
        assert_eq!(edge.chunk(), &v[..INLINE]);
        assert_eq!(Chunk::empty().remaining(), 0);
    }
}
