//! A blocking HTTP/2 client side for the frame-level tests: connect, open (preface and
//! SETTINGS), and read frames until a caller's condition, acking the server's SETTINGS and
//! PINGs on the way.

use proxylab_loadgen::transport::h2raw::{self, Frame, kind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A connection to `addr` that has sent the preface and an empty SETTINGS frame.
pub fn open(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    let _ = s.set_nodelay(true);
    // A write never blocks a test for long (e.g. against a stopped server).
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let mut out = h2raw::PREFACE.to_vec();
    h2raw::settings(&mut out, &[]);
    s.write_all(&out).expect("write preface");
    s
}

/// Reads frames until `until` returns Some for one (its value), the server closes (None) or
/// `wait` passes (None); the server's SETTINGS and PINGs are acked.
pub fn read_until<T>(
    s: &mut TcpStream,
    wait: Duration,
    mut until: impl FnMut(&Frame) -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + wait;
    let (mut buf, mut tmp) = (Vec::new(), vec![0u8; 65536]);
    while Instant::now() < end {
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let n = match s.read(&mut tmp) {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return None,
        };
        buf.extend_from_slice(&tmp[..n]);
        for f in h2raw::read_frames(&mut buf) {
            if matches!(f.0, kind::SETTINGS | kind::PING) && f.1 & 1 == 0 {
                let payload: &[u8] = if f.0 == kind::PING { &f.3 } else { &[] };
                let mut ack = Vec::new();
                h2raw::frame(&mut ack, f.0, 1, 0, payload);
                let _ = s.write_all(&ack);
            }
            if let Some(v) = until(&f) {
                return Some(v);
            }
        }
    }
    None
}

/// Whether the server closes the connection within `wait` (frames read meanwhile are
/// dropped, SETTINGS and PINGs acked).
pub fn closes_within(s: &mut TcpStream, wait: Duration) -> bool {
    let t0 = Instant::now();
    let _ = read_until(s, wait, |_| None::<()>);
    t0.elapsed() < wait
}

/// The last stream id and error code of a GOAWAY frame's payload.
pub fn goaway(payload: &[u8]) -> Option<(u32, u32)> {
    let word = |i: usize| {
        payload
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    Some((word(0)? & 0x7fff_ffff, word(4)?))
}
