//! The gzip stream nginx sends: the 10-byte gzip header zlib writes for nginx (no name, no
//! time, the level in the extra flags, OS unix), a raw deflate stream from zlib ([`super::zlib`], the library nginx links) at
//! `gzip_comp_level` with nginx's window and hash sizes (`gzip_window`, `gzip_hash`, both made
//! smaller for short responses of known length as `ngx_http_gzip_filter_memory` does), then
//! the CRC-32 and length trailer. Same library, parameters and flush points as nginx: the
//! same bytes.

use super::zlib::{Flush, RawDeflate};

/// The gzip member header: magic, deflate, no flags, no mtime, extra flags (set per level),
/// OS 3 (unix).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// The header's extra flags as zlib sets them (nginx 1.22 lets zlib write the header): 2 at
/// level 9, 4 at level 1, else 0.
fn extra_flags(level: u32) -> u8 {
    match level {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    }
}

/// Spare output room asked for before each deflate call (bytes).
const ROOM: usize = 4096;

/// An ongoing gzip stream.
pub struct GzipEncoder {
    z: RawDeflate,
    crc: crc32fast::Hasher,
    started: bool,
    level: u32,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("in", &self.z.total_in())
            .field("out", &self.z.total_out())
            .finish()
    }
}

/// zlib's window bits and memLevel as nginx sets them for a response of `length` bytes (when
/// known and not 0), from `gzip_window` as bits and `gzip_hash` as memLevel: both go down by
/// one while the body fits in half the window less zlib's 262-byte lookahead. nginx would
/// then fail the response on a memLevel below 1 (a small `gzip_hash` with a short body:
/// `deflateInit2() failed: -2`); it is kept at 1 here and the response compressed.
pub fn memory(max_bits: u8, mem_level: u8, length: Option<u64>) -> (u8, u8) {
    let (mut bits, mut mem) = (max_bits.clamp(9, 15), i32::from(mem_level.clamp(1, 9)));
    if let Some(len) = length.filter(|n| *n > 0) {
        while bits > 9 && (len as i64) < (1i64 << (bits - 1)) - 262 {
            bits -= 1;
            mem -= 1;
        }
    }
    (bits, mem.max(1) as u8)
}

impl GzipEncoder {
    /// A stream at `level` (1..=9) with zlib's `(window bits, memLevel)` from [`memory`].
    pub fn new(level: u32, (bits, mem_level): (u8, u8)) -> GzipEncoder {
        let z = RawDeflate::new(level.clamp(1, 9), bits.clamp(9, 15), mem_level.clamp(1, 9))
            .expect("zlib takes every level 1-9, window 9-15 and memLevel 1-9");
        GzipEncoder {
            z,
            crc: crc32fast::Hasher::new(),
            started: false,
            level: level.clamp(1, 9),
        }
    }

    /// Compresses `data`, appending gzip bytes to `out` (the header first); `flush` emits
    /// everything so far (`Z_SYNC_FLUSH`, as nginx does for a flushed buffer of an
    /// unbuffered upstream response).
    pub fn write(&mut self, data: &[u8], flush: bool, out: &mut Vec<u8>) {
        self.start(out);
        self.crc.update(data);
        let mode = if flush { Flush::Sync } else { Flush::None };
        self.run(data, mode, out);
    }

    /// Ends the stream: the last deflate block and the trailer (CRC-32, length mod 2^32).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.run(&[], Flush::Finish, out);
        out.extend_from_slice(&self.crc.clone().finalize().to_le_bytes());
        out.extend_from_slice(&(self.z.total_in() as u32).to_le_bytes());
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
            let mut header = HEADER;
            header[8] = extra_flags(self.level);
            out.extend_from_slice(&header);
        }
    }

    /// Feeds `input` until it is consumed; a sync flush until deflate leaves output room
    /// unused (all pending output written), the finish until the stream end.
    fn run(&mut self, mut input: &[u8], mode: Flush, out: &mut Vec<u8>) {
        // Bounded: every round consumes input or produces output, or it ends.
        for _ in 0..1_000_000 {
            if out.capacity() - out.len() < ROOM {
                out.reserve(ROOM.max(input.len() / 2));
            }
            let (len0, spare) = (out.len(), out.capacity() - out.len());
            let Ok((used, end)) = self.z.deflate(input, out, mode) else {
                return;
            };
            input = &input[used..];
            let room_left = out.len() - len0 < spare;
            let stuck = used == 0 && out.len() == len0;
            if end || !input.is_empty() && stuck {
                return;
            }
            let done = match mode {
                Flush::Finish => stuck,
                Flush::Sync => room_left,
                Flush::None => true,
            };
            if input.is_empty() && done {
                return;
            }
        }
    }
}

/// The whole of `data` as one gzip stream (error pages, `return` text, small bodies), and
/// `$gzip_ratio`'s counts ([`GzipEncoder::counts`]).
pub fn gzip_all(data: &[u8], level: u32, memory_conf: (u8, u8)) -> (Vec<u8>, (u64, u64)) {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let (bits, mem) = memory_conf;
    let mut enc = GzipEncoder::new(level, memory(bits, mem, Some(data.len() as u64)));
    enc.write(data, false, &mut out);
    enc.finish(&mut out);
    (out, enc.counts())
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
            let mut enc = GzipEncoder::new(level, memory(15, 8, None));
            for (i, piece) in data.chunks(7001).enumerate() {
                enc.write(piece, i % 3 == 0, &mut out);
            }
            enc.finish(&mut out);
            assert_eq!(&out[..8], &HEADER[..8]);
            assert_eq!(out[8], [4, 0, 2][level as usize / 4]);
            assert!(out.len() < data.len() / 3, "level {level}: {}", out.len());
            assert_eq!(gunzip(&out), data, "level {level}");
        }
        assert_eq!(gunzip(&gzip_all(b"", 1, (15, 8)).0), b"");
        assert_eq!(gunzip(&gzip_all(b"hello", 9, (15, 8)).0), b"hello");
    }

    #[test]
    fn window_and_hash_shrink_for_short_bodies_as_nginx() {
        assert_eq!(memory(15, 8, None), (15, 8));
        assert_eq!(memory(15, 8, Some(16384)), (15, 8));
        assert_eq!(memory(15, 8, Some(16122)), (15, 8));
        assert_eq!(memory(15, 8, Some(16121)), (14, 7));
        assert_eq!(memory(15, 8, Some(1000)), (11, 4));
        assert_eq!(memory(15, 8, Some(100)), (9, 2));
        assert_eq!(memory(15, 8, Some(0)), (15, 8));
        assert_eq!(memory(12, 9, Some(100)), (9, 6));
        // nginx fails these (memLevel 0 and below); kept at 1
        assert_eq!(memory(15, 5, Some(100)), (9, 1));
    }

    #[test]
    fn a_flush_emits_what_was_written() {
        let mut out = Vec::new();
        let mut enc = GzipEncoder::new(1, (15, 8));
        enc.write(b"data: tick\n\n", true, &mut out);
        // The flushed part alone (no trailer) inflates to the input.
        let mut d = flate2::Decompress::new(false);
        let mut plain = Vec::with_capacity(64);
        d.decompress_vec(&out[10..], &mut plain, flate2::FlushDecompress::Sync)
            .expect("inflate");
        assert_eq!(plain, b"data: tick\n\n");
    }
}
