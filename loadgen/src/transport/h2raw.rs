//! A small HTTP/2 frame writer and reader for abusive clients: the `h2` crate will not send
//! the sequences attacks are made of (streams reset at once, endless CONTINUATION, floods of
//! SETTINGS and PING), so they are written here frame by frame. Header blocks use HPACK
//! literals without Huffman coding (plus the indexed form for a bomb's repeated field).

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// END_STREAM (DATA, HEADERS) or ACK (SETTINGS, PING).
pub const END_STREAM: u8 = 0x1;
/// END_HEADERS.
pub const END_HEADERS: u8 = 0x4;

/// Appends one frame.
pub fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends a SETTINGS frame with (id, value) pairs.
pub fn settings(out: &mut Vec<u8>, pairs: &[(u16, u32)]) {
    let mut p = Vec::with_capacity(pairs.len() * 6);
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(out, kind::SETTINGS, 0, 0, &p);
}

/// Appends an HPACK integer with an `n`-bit prefix whose high bits are `first`.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u8, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// Appends a literal header field without indexing (new name, no Huffman).
pub fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    hpack_int(out, 0, 7, name.len());
    out.extend_from_slice(name);
    hpack_int(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// Appends a literal header field with incremental indexing (it enters the dynamic table).
pub fn literal_indexed(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x40);
    hpack_int(out, 0, 7, name.len());
    out.extend_from_slice(name);
    hpack_int(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// Appends an indexed header field (static 1..=61, dynamic from 62).
pub fn indexed(out: &mut Vec<u8>, index: usize) {
    hpack_int(out, 0x80, 7, index);
}

/// A header block for `GET path` on `authority` (`:scheme http`).
pub fn get_block(authority: &str, path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    indexed(&mut b, 2); // :method GET
    indexed(&mut b, 6); // :scheme http
    literal(&mut b, b":path", path.as_bytes());
    literal(&mut b, b":authority", authority.as_bytes());
    b
}

/// One frame read back: (type, flags, stream, payload).
pub type Frame = (u8, u8, u32, Vec<u8>);

/// Splits complete frames off the front of `buf`.
pub fn read_frames(buf: &mut Vec<u8>) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() >= at + 9 {
        let len = u32::from_be_bytes([0, buf[at], buf[at + 1], buf[at + 2]]) as usize;
        if buf.len() < at + 9 + len {
            break;
        }
        let stream = u32::from_be_bytes([buf[at + 5], buf[at + 6], buf[at + 7], buf[at + 8]]);
        out.push((
            buf[at + 3],
            buf[at + 4],
            stream & 0x7fff_ffff,
            buf[at + 9..at + 9 + len].to_vec(),
        ));
        at += 9 + len;
    }
    buf.drain(..at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_hpack() {
        let mut out = Vec::new();
        frame(&mut out, kind::PING, 0, 0, &[7; 8]);
        settings(&mut out, &[(4, 0)]);
        let mut buf = out.clone();
        let f = read_frames(&mut buf);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].0, f[0].3.len()), (kind::PING, 8));
        assert_eq!(f[1].3, [0, 4, 0, 0, 0, 0]);
        assert!(buf.is_empty());
        let mut h = Vec::new();
        hpack_int(&mut h, 0, 7, 200);
        assert_eq!(h, [127, 73]);
        assert_eq!(get_block("a", "/")[..2], [0x82, 0x86]);
    }
}
