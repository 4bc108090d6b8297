//! A request body without a Content-Length, whatever carries it: HTTP/1.1's `chunked`
//! framing in the bytes, or an HTTP/2 stream's DATA payloads, which carry no framing and end
//! with the stream. Body readers and discarders decode through [`BodyDecoder`] and never ask
//! which protocol they read.

use super::chunked::{ChunkError, Decoder};

/// Decodes a request body that has no Content-Length (see the module docs).
#[derive(Debug, Clone)]
pub enum BodyDecoder {
    /// `Transfer-Encoding: chunked` bytes.
    Chunked(Decoder),
    /// HTTP/2 DATA payloads, taken as they are read; the end of the stream ends the body.
    Frames {
        /// Body bytes taken so far.
        total: u64,
        /// `client_max_body_size` (0 = unlimited), checked before each payload is taken,
        /// as the chunked decoder checks each chunk's size.
        limit: u64,
        /// The stream ended.
        ended: bool,
    },
}

impl BodyDecoder {
    /// A decoder for DATA payloads (`frames`) or chunked bytes, with `limit` as above.
    pub fn new(frames: bool, limit: u64) -> BodyDecoder {
        if frames {
            BodyDecoder::Frames {
                total: 0,
                limit,
                ended: false,
            }
        } else {
            BodyDecoder::Chunked(Decoder::new(limit))
        }
    }

    /// Decodes from `input`, appending body bytes to `out`; returns the bytes consumed
    /// (stops right after the end of a chunked body).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        match self {
            BodyDecoder::Chunked(d) => d.decode(input, out),
            BodyDecoder::Frames { ended: true, .. } => Ok(0),
            BodyDecoder::Frames { total, limit, .. } => {
                let n = input.len() as u64;
                if *limit > 0 && *total + n > *limit {
                    return Err(ChunkError::TooLarge);
                }
                *total += n;
                out.extend_from_slice(input);
                Ok(input.len())
            }
        }
    }

    /// Whether the whole body was decoded.
    pub fn done(&self) -> bool {
        match self {
            BodyDecoder::Chunked(d) => d.done(),
            BodyDecoder::Frames { ended, .. } => *ended,
        }
    }

    /// The carrier reached its end (a read gave end of file): true when that ends the body
    /// (an HTTP/2 stream), false when the body was cut short (chunked bytes).
    pub fn end_of_input(&mut self) -> bool {
        match self {
            BodyDecoder::Chunked(_) => false,
            BodyDecoder::Frames { ended, .. } => {
                *ended = true;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_taken_whole_until_the_stream_ends() {
        let mut d = BodyDecoder::new(true, 10);
        let mut out = Vec::new();
        assert_eq!(d.decode(b"hello", &mut out), Ok(5));
        assert!(!d.done());
        assert_eq!(d.decode(b"", &mut out), Ok(0));
        assert_eq!(d.decode(b"world!", &mut out), Err(ChunkError::TooLarge));
        assert_eq!(d.decode(b"world", &mut out), Ok(5));
        assert!(d.end_of_input());
        assert!(d.done());
        assert_eq!(out, b"helloworld");
        assert_eq!(d.decode(b"late", &mut out), Ok(0));
    }

    #[test]
    fn chunked_bytes_end_with_their_last_chunk_not_with_the_input() {
        let mut d = BodyDecoder::new(false, 0);
        let mut out = Vec::new();
        assert_eq!(d.decode(b"5\r\nhello\r\n", &mut out), Ok(10));
        assert!(
            !d.end_of_input(),
            "end of file before the last chunk cuts the body"
        );
        assert!(!d.done());
        assert_eq!(d.decode(b"0\r\n\r\nGET", &mut out), Ok(5));
        assert!(d.done());
        assert_eq!(out, b"hello");
    }
}
