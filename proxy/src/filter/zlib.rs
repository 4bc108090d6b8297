//! Raw deflate through the C zlib that nginx links (the system's libz, through `libz-sys`).
//! nginx's gzip filter calls `deflateInit2(level, Z_DEFLATED, -wbits, memlevel,
//! Z_DEFAULT_STRATEGY)` and then `deflate()` with `Z_NO_FLUSH`, `Z_SYNC_FLUSH` or `Z_FINISH`;
//! the same library called with the same parameters at the same flush points writes the same
//! bytes. flate2's safe API fixes memLevel at 8 while nginx lowers it for short responses,
//! hence this small binding.

// zlib's C API: the stream lives in a Box (zlib keeps its address), every pointer handed to
// zlib is valid for the length given with it, and no pointer is kept between calls.
#![allow(unsafe_code)]

use libz_sys as z;
use std::alloc::{Layout, alloc, dealloc};
use std::os::raw::{c_int, c_uint, c_void};
use std::ptr::null_mut;

/// How a call ends the input given so far (zlib's flush modes nginx uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// `Z_NO_FLUSH`: zlib decides when to write.
    None,
    /// `Z_SYNC_FLUSH`: everything so far is written, on a byte boundary.
    Sync,
    /// `Z_FINISH`: the last block.
    Finish,
}

/// zlib refused the parameters or the call (zlib's return code, e.g. -2 `Z_STREAM_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("zlib error {0}")]
pub struct ZlibError(pub i32);

/// One raw deflate stream (no zlib or gzip framing).
pub struct RawDeflate {
    strm: Box<z::z_stream>,
}

// SAFETY: the stream and zlib's state behind it are owned by this value alone, and zlib
// keeps no thread-local state: moving it to another thread is as moving a Vec.
unsafe impl Send for RawDeflate {}
// SAFETY: every method that touches the stream takes `&mut self`; `&self` reads two counters.
unsafe impl Sync for RawDeflate {}

/// Bytes before each block handed to zlib: its size (for `dealloc`), and the alignment.
const PREFIX: usize = 16;

/// zlib's allocator, on Rust's global allocator (zlib's own default is `malloc`).
unsafe extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    let Some(n) = (items as usize)
        .checked_mul(size as usize)
        .and_then(|n| n.checked_add(PREFIX))
    else {
        return null_mut();
    };
    let Ok(layout) = Layout::from_size_align(n, PREFIX) else {
        return null_mut();
    };
    // SAFETY: `layout` has a non-zero size (at least PREFIX); the block starts with room
    // for the size, aligned for a usize, and zlib gets the part after it.
    unsafe {
        let p = alloc(layout);
        if p.is_null() {
            return null_mut();
        }
        p.cast::<usize>().write(n);
        p.add(PREFIX).cast()
    }
}

/// Frees a block from [`zalloc`].
unsafe extern "C" fn zfree(_opaque: *mut c_void, address: *mut c_void) {
    if address.is_null() {
        return;
    }
    // SAFETY: `address` came from `zalloc`, PREFIX bytes after the start of a block whose
    // size is stored at its start, allocated with this alignment.
    unsafe {
        let p = address.cast::<u8>().sub(PREFIX);
        let n = p.cast::<usize>().read();
        dealloc(p, Layout::from_size_align_unchecked(n, PREFIX));
    }
}

impl RawDeflate {
    /// `deflateInit2(level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY)`;
    /// zlib's error for parameters it refuses (level 0-9, window 9-15, memLevel 1-9).
    pub fn new(level: u32, window_bits: u8, mem_level: u8) -> Result<RawDeflate, ZlibError> {
        let mut strm = Box::new(z::z_stream {
            next_in: null_mut(),
            avail_in: 0,
            total_in: 0,
            next_out: null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: null_mut(),
            state: null_mut(),
            zalloc,
            zfree,
            opaque: null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        });
        let level = c_int::try_from(level).unwrap_or(c_int::MAX);
        // SAFETY: `strm` is initialized and stays at this address for the stream's life;
        // the version string and size are this library's own.
        let rc = unsafe {
            z::deflateInit2_(
                &mut *strm,
                level,
                z::Z_DEFLATED,
                -c_int::from(window_bits),
                c_int::from(mem_level),
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as c_int,
            )
        };
        if rc != z::Z_OK {
            return Err(ZlibError(rc));
        }
        Ok(RawDeflate { strm })
    }

    /// One `deflate()` call: reads from `input`, writes into the spare capacity of `out`
    /// (reserve room first). Returns the input bytes taken and whether the stream ended.
    /// A call that can make no progress (`Z_BUF_ERROR`) is not an error.
    pub fn deflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        flush: Flush,
    ) -> Result<(usize, bool), ZlibError> {
        let avail_in = input.len().min(c_uint::MAX as usize);
        let spare = out.spare_capacity_mut();
        let avail_out = spare.len().min(c_uint::MAX as usize);
        let s = &mut *self.strm;
        // zlib reads through next_in (declared without const in the binding), never writes.
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = avail_in as c_uint;
        s.next_out = spare.as_mut_ptr().cast();
        s.avail_out = avail_out as c_uint;
        let mode = match flush {
            Flush::None => z::Z_NO_FLUSH,
            Flush::Sync => z::Z_SYNC_FLUSH,
            Flush::Finish => z::Z_FINISH,
        };
        // SAFETY: the stream was initialized by deflateInit2; next_in/next_out point into
        // `input` and `out`'s spare capacity for avail_in/avail_out bytes.
        let rc = unsafe { z::deflate(s, mode) };
        let taken = avail_in - s.avail_in as usize;
        let written = avail_out - s.avail_out as usize;
        s.next_in = null_mut();
        s.avail_in = 0;
        s.next_out = null_mut();
        s.avail_out = 0;
        // SAFETY: zlib initialized `written` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + written) };
        match rc {
            z::Z_OK | z::Z_BUF_ERROR => Ok((taken, false)),
            z::Z_STREAM_END => Ok((taken, true)),
            e => Err(ZlibError(e)),
        }
    }

    /// Input bytes taken so far.
    pub fn total_in(&self) -> u64 {
        // uLong is 32 bits on some platforms
        #[allow(clippy::useless_conversion)]
        u64::from(self.strm.total_in)
    }

    /// Compressed bytes written so far.
    pub fn total_out(&self) -> u64 {
        #[allow(clippy::useless_conversion)]
        u64::from(self.strm.total_out)
    }
}

impl Drop for RawDeflate {
    fn drop(&mut self) {
        // SAFETY: the stream was initialized by deflateInit2 (a failed init returns no
        // RawDeflate); deflateEnd frees zlib's state through `zfree`.
        unsafe {
            z::deflateEnd(&mut *self.strm);
        }
    }
}

/// The version of the zlib linked (`zlibVersion()`), e.g. `1.2.13`.
pub fn version() -> String {
    // SAFETY: zlibVersion returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(z::zlibVersion()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_zlib_refuses_are_errors_and_streams_end() {
        assert_eq!(RawDeflate::new(6, 15, 0).err(), Some(ZlibError(-2)));
        assert_eq!(RawDeflate::new(6, 7, 8).err(), Some(ZlibError(-2)));
        let mut d = RawDeflate::new(6, 9, 1).expect("smallest window and hash");
        let mut out = Vec::with_capacity(256);
        let (taken, end) = d
            .deflate(b"abcabcabc", &mut out, Flush::Finish)
            .expect("deflate");
        assert_eq!((taken, end), (9, true));
        assert_eq!((d.total_in(), d.total_out()), (9, out.len() as u64));
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&out[..]), &mut plain)
            .expect("inflate");
        assert_eq!(plain, b"abcabcabc");
        assert!(version().starts_with("1."), "{}", version());
    }
}
