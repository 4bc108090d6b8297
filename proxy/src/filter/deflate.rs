//! The gzip stream nginx sends: the 10-byte gzip header nginx writes (no name, no time, OS
//! unix), a raw deflate stream from flate2 (zlib-rs backend) at `gzip_comp_level` with
//! nginx's window size (`gzip_window`, made smaller for short responses of known length as
//! `ngx_http_gzip_filter_memory` does), then the CRC-32 and length trailer.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS 3 (unix).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// Spare output room asked for before each deflate call (bytes).
const ROOM: usize = 4096;

/// An ongoing gzip stream.
pub struct GzipEncoder {
    z: Compress,
    crc: Crc,
    started: bool,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("in", &self.z.total_in())
            .field("out", &self.z.total_out())
            .finish()
    }
}

/// nginx's window bits for a response of `length` bytes (when known): the window shrinks
/// while the body fits in half of it (less zlib's 262-byte lookahead), down to 9.
pub fn window_bits(max_bits: u8, length: Option<u64>) -> u8 {
    let mut bits = max_bits.clamp(9, 15);
    if let Some(len) = length.filter(|n| *n > 0) {
        while bits > 9 && (len as i64) < (1i64 << (bits - 1)) - 262 {
            bits -= 1;
        }
    }
    bits
}

impl GzipEncoder {
    /// A stream at `level` (1..=9) with a window of `2^bits` bytes (9..=15).
    pub fn new(level: u32, bits: u8) -> GzipEncoder {
        GzipEncoder {
            z: Compress::new_with_window_bits(Compression::new(level.min(9)), false, bits),
            crc: Crc::new(),
            started: false,
        }
    }

    /// Compresses `data`, appending gzip bytes to `out` (the header first); `flush` emits
    /// everything so far (`Z_SYNC_FLUSH`, as nginx does for a flushed buffer of an
    /// unbuffered upstream response).
    pub fn write(&mut self, data: &[u8], flush: bool, out: &mut Vec<u8>) {
        self.start(out);
        self.crc.update(data);
        let mode = if flush {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        self.run(data, mode, out);
    }

    /// Ends the stream: the last deflate block and the trailer (CRC-32, length mod 2^32).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.run(&[], FlushCompress::Finish, out);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
    }

    /// Compressed bytes produced so far, header and trailer excluded.
    pub fn total_out(&self) -> u64 {
        self.z.total_out()
    }

    /// `$gzip_ratio`'s counts after [`GzipEncoder::finish`]: bytes in, and bytes out with the
    /// 10-byte header and the 8-byte trailer (nginx's `zin`, `zout`).
    pub fn counts(&self) -> (u64, u64) {
        (self.z.total_in(), 10 + self.z.total_out() + 8)
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            out.extend_from_slice(&HEADER);
        }
    }

    /// Feeds `input` until it is consumed; a sync flush until deflate leaves output room
    /// unused (all pending output written), the finish until the stream end.
    fn run(&mut self, mut input: &[u8], mode: FlushCompress, out: &mut Vec<u8>) {
        // Bounded: every round consumes input or produces output, or it ends.
        for _ in 0..1_000_000 {
            if out.capacity() - out.len() < ROOM {
                out.reserve(ROOM.max(input.len() / 2));
            }
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self.z.compress_vec(input, out, mode);
            let used = (self.z.total_in() - in0) as usize;
            let stuck = used == 0 && self.z.total_out() == out0;
            input = &input[used..];
            if matches!(status, Ok(Status::StreamEnd) | Err(_)) || !input.is_empty() && stuck {
                return;
            }
            let room_left = out.len() < out.capacity();
            let done = match mode {
                FlushCompress::Finish => stuck,
                FlushCompress::Sync => room_left,
                _ => true,
            };
            if input.is_empty() && done {
                return;
            }
        }
    }
}

/// The whole of `data` as one gzip stream (error pages, `return` text, small bodies).
pub fn gzip_all(data: &[u8], level: u32, max_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut enc = GzipEncoder::new(level, window_bits(max_bits, Some(data.len() as u64)));
    enc.write(data, false, &mut out);
    enc.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut v)
            .expect("valid gzip");
        v
    }

    #[test]
    fn streams_decompress_to_the_input() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"v\":\"x{}\"}},", i % 97).into_bytes())
            .collect();
        for level in [1, 6, 9] {
            let mut out = Vec::new();
            let mut enc = GzipEncoder::new(level, window_bits(15, None));
            for (i, piece) in data.chunks(7001).enumerate() {
                enc.write(piece, i % 3 == 0, &mut out);
            }
            enc.finish(&mut out);
            assert_eq!(&out[..10], &HEADER);
            assert!(out.len() < data.len() / 3, "level {level}: {}", out.len());
            assert_eq!(gunzip(&out), data, "level {level}");
        }
        assert_eq!(gunzip(&gzip_all(b"", 1, 15)), b"");
        assert_eq!(gunzip(&gzip_all(b"hello", 9, 15)), b"hello");
    }

    #[test]
    fn window_shrinks_for_short_bodies_as_nginx() {
        assert_eq!(window_bits(15, None), 15);
        assert_eq!(window_bits(15, Some(16384)), 15);
        assert_eq!(window_bits(15, Some(16000)), 14);
        assert_eq!(window_bits(15, Some(100)), 9);
        assert_eq!(window_bits(15, Some(0)), 15);
    }

    #[test]
    fn a_flush_emits_what_was_written() {
        let mut out = Vec::new();
        let mut enc = GzipEncoder::new(1, 15);
        enc.write(b"data: tick\n\n", true, &mut out);
        // The flushed part alone (no trailer) inflates to the input.
        let mut d = flate2::Decompress::new(false);
        let mut plain = Vec::with_capacity(64);
        d.decompress_vec(&out[10..], &mut plain, flate2::FlushDecompress::Sync)
            .expect("inflate");
        assert_eq!(plain, b"data: tick\n\n");
    }
}
