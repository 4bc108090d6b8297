//! Parsers of what the other side of a connection sends: the proxy's upstream response head
//! parser, the load generator's response reader and the fake upstream's request parser.

use bytes::BytesMut;
use proxylab_loadgen::transport::h1::H1Conn;
use proxylab_proxy::http::response;
use proxylab_upstream::wire::request::{BodyReader, parse_head};
use tokio::io::AsyncWriteExt;

/// Upstream response heads: an accepted head's strict prefixes are incomplete (never a
/// different head or an error), and the bytes after it are handed back untouched.
pub fn upstream_response(data: &[u8]) {
    let mut buf = data.to_vec();
    let Ok(Some((head, rest))) = response::parse(&mut buf, 64 * 1024) else {
        return;
    };
    let n = head.raw.len();
    assert_eq!(&data[n..], &rest[..], "leftover bytes");
    for cut in [n.saturating_sub(1), n / 2, 1] {
        if cut == 0 || cut >= n {
            continue;
        }
        let mut prefix = data[..cut].to_vec();
        let r = response::parse(&mut prefix, 64 * 1024);
        assert!(matches!(r, Ok(None)), "prefix of {cut} bytes gave {r:?}");
    }
}

/// The load generator's response reader over an in-memory stream: returns (no panic, no
/// hang: the stream ends), and a body length never exceeds the bytes sent.
pub fn loadgen_response(data: &[u8]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut a, b) = tokio::io::duplex(data.len() + 1);
        a.write_all(data).await.expect("write");
        drop(a);
        let mut conn = H1Conn::new(b);
        for _ in 0..4 {
            match conn.read_response(data.first() == Some(&b'H')).await {
                Ok(r) => assert!(r.body_len <= data.len() as u64, "{r:?}"),
                Err(_) => break,
            }
        }
    });
}

/// The fake upstream's request parser: the head length is within the input, and the body
/// reader consumes the rest fed whole or byte by byte to the same payload.
pub fn fake_upstream_request(data: &[u8]) {
    let Ok(Some((head, n))) = parse_head(data) else {
        return;
    };
    assert!(n <= data.len());
    let whole = feed(head.body, &data[n..], data.len() - n);
    let split = feed(head.body, &data[n..], 1);
    assert_eq!(whole, split, "split body reading differs");
}

fn feed(
    kind: proxylab_upstream::wire::request::BodyKind,
    rest: &[u8],
    step: usize,
) -> Option<(Vec<u8>, bool)> {
    let mut r = BodyReader::new(kind);
    let mut buf = BytesMut::new();
    let mut sink = Vec::new();
    let mut done = r.is_done();
    for piece in rest.chunks(step.max(1)) {
        if done {
            break;
        }
        buf.extend_from_slice(piece);
        done = r.feed(&mut buf, Some(&mut sink)).ok()?;
    }
    Some((sink, done))
}
