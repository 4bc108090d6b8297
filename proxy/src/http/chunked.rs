//! Incremental `Transfer-Encoding: chunked` decoder (client request bodies and upstream
//! responses), with nginx's per-chunk `client_max_body_size` check (413 before the data).

/// Decoding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// Malformed framing (nginx: 400 `client sent invalid chunked body`).
    Invalid,
    /// Accumulated size plus the next chunk exceeds the limit (nginx: 413).
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    LastLf,
    Done,
}

/// Chunked decoder state.
#[derive(Debug, Clone)]
pub struct Decoder {
    st: St,
    size: u64,
    digits: u32,
    remaining: u64,
    /// Total decoded body bytes so far.
    pub total: u64,
    limit: u64,
}

impl Decoder {
    /// A decoder; `limit` 0 = unlimited (checked as each chunk size is parsed).
    pub fn new(limit: u64) -> Decoder {
        Decoder {
            st: St::Size,
            size: 0,
            digits: 0,
            remaining: 0,
            total: 0,
            limit,
        }
    }

    /// Whether the terminating chunk and trailers were read.
    pub fn done(&self) -> bool {
        self.st == St::Done
    }

    /// Decodes from `input`, appending body bytes to `out`; returns bytes consumed (stops
    /// right after the end of the body).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.st != St::Done {
            if self.st == St::Data {
                let n = (self.remaining as usize).min(input.len() - i);
                out.extend_from_slice(&input[i..i + n]);
                self.remaining -= n as u64;
                self.total += n as u64;
                i += n;
                if self.remaining == 0 {
                    self.st = St::DataCr;
                }
                continue;
            }
            self.step(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    /// One byte of framing (every state but `Data`).
    fn step(&mut self, c: u8) -> Result<(), ChunkError> {
        match self.st {
            St::Size => return self.size_byte(c),
            St::Ext | St::SizeLf if c == b'\n' => self.end_size()?,
            St::Ext if c == b'\r' => self.st = St::SizeLf,
            St::Ext => {}
            St::DataCr if c == b'\r' => self.st = St::DataLf,
            St::DataCr | St::DataLf if c == b'\n' => self.st = St::Size,
            St::TrailerStart => {
                self.st = match c {
                    b'\r' => St::LastLf,
                    b'\n' => St::Done,
                    _ => St::Trailer,
                }
            }
            St::Trailer if c == b'\r' => self.st = St::TrailerLf,
            St::Trailer | St::TrailerLf if c == b'\n' => self.st = St::TrailerStart,
            St::Trailer => {}
            St::LastLf if c == b'\n' => self.st = St::Done,
            St::SizeLf | St::DataCr | St::DataLf | St::TrailerLf | St::LastLf => {
                return Err(ChunkError::Invalid);
            }
            St::Data | St::Done => {}
        }
        Ok(())
    }

    /// One byte of a chunk-size line: a hex digit, or what ends the digits.
    fn size_byte(&mut self, c: u8) -> Result<(), ChunkError> {
        let d = match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        if let Some(d) = d {
            // nginx bounds the value (off_t), not the digits: leading zeros pass.
            self.digits = self.digits.saturating_add(1);
            if self.size > (i64::MAX as u64) / 16 {
                return Err(ChunkError::Invalid);
            }
            self.size = self.size * 16 + u64::from(d);
            return Ok(());
        }
        if self.digits == 0 {
            return Err(ChunkError::Invalid);
        }
        match c {
            b'\r' => self.st = St::SizeLf,
            b'\n' => self.end_size()?,
            b';' | b' ' | b'\t' => self.st = St::Ext,
            _ => return Err(ChunkError::Invalid),
        }
        Ok(())
    }

    fn end_size(&mut self) -> Result<(), ChunkError> {
        if self.limit > 0 && self.total + self.size > self.limit {
            return Err(ChunkError::TooLarge);
        }
        self.remaining = self.size;
        self.st = if self.size == 0 {
            St::TrailerStart
        } else {
            St::Data
        };
        self.size = 0;
        self.digits = 0;
        Ok(())
    }
}

/// Appends `data` as one chunk (`SIZE\r\nDATA\r\n`) to `out`.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_limits() {
        let mut d = Decoder::new(0);
        let mut out = Vec::new();
        let input = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\nNEXT";
        let n = d.decode(input, &mut out).unwrap();
        assert_eq!(out, b"hello world");
        assert!(d.done());
        assert_eq!(&input[n..], b"NEXT");
        let mut d = Decoder::new(8);
        assert_eq!(
            d.decode(b"5\r\nhello\r\n5\r\n", &mut Vec::new()),
            Err(ChunkError::TooLarge)
        );
        let mut d = Decoder::new(0);
        assert_eq!(
            d.decode(b"zz\r\n", &mut Vec::new()),
            Err(ChunkError::Invalid)
        );
        let mut d = Decoder::new(0);
        assert_eq!(
            d.decode(b"5\r\nhelloX", &mut Vec::new()),
            Err(ChunkError::Invalid)
        );
    }
}
