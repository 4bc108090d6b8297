//! The client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), awaited before the `h2`
//! crate takes the connection, so that a client that never sends it, sends part of it, or
//! sends something else is answered as nginx 1.22 answers (`ngx_http_v2_state_preface`, the
//! read and idle handlers): the server's SETTINGS, then GOAWAY PROTOCOL_ERROR for bytes that
//! are not the preface (at once, once 24 bytes came), for part of it when
//! `client_header_timeout` passes, and for a prior-knowledge (h2c) connection that sent
//! nothing at all (nginx's timer fires before its HTTP/2 state exists); GOAWAY NO_ERROR for
//! a TLS connection that sent nothing after its handshake (nginx's idle handler).

use h2::Reason;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The preface every HTTP/2 client sends first.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How the wait for the preface ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Preface {
    /// The 24 bytes came and are the preface.
    Received,
    /// Refused with GOAWAY of this code; the text is nginx's info line ("" for none).
    Refused(Reason, &'static str),
    /// The client closed or the socket failed.
    Gone,
}

/// Reads the preface from `io` until `deadline` (it is consumed: the caller hands it on).
pub async fn wait<S: AsyncRead + Unpin>(io: &mut S, deadline: Instant, tls: bool) -> Preface {
    let mut got = [0u8; 24];
    let mut have = 0;
    while have < got.len() {
        match tokio::time::timeout_at(deadline, io.read(&mut got[have..])).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Preface::Gone,
            Ok(Ok(n)) => have += n,
            Err(_) if have == 0 && tls => return Preface::Refused(Reason::NO_ERROR, ""),
            Err(_) => {
                return Preface::Refused(
                    Reason::PROTOCOL_ERROR,
                    "client timed out (110: Connection timed out)",
                );
            }
        }
    }
    if &got == PREFACE {
        Preface::Received
    } else {
        Preface::Refused(Reason::PROTOCOL_ERROR, "invalid http2 connection preface")
    }
}

/// Sends `settings` (the server's SETTINGS frame, as the `h2` crate would) and GOAWAY with
/// `reason`, then shuts the connection down.
pub async fn refuse<S: AsyncWrite + Unpin>(io: &mut S, settings: &[(u16, u32)], reason: Reason) {
    let mut out = Vec::with_capacity(64);
    let payload: Vec<u8> = settings
        .iter()
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect();
    frame(&mut out, 4, &payload);
    let mut goaway = [0u8; 8];
    goaway[4..].copy_from_slice(&u32::from(reason).to_be_bytes());
    frame(&mut out, 7, &goaway);
    let _ = io.write_all(&out).await;
    let _ = io.shutdown().await;
}

/// Appends one frame of `kind` on stream 0 without flags.
fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, 0, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::{PREFACE, Preface, refuse, wait};
    use h2::Reason;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(200)
    }

    #[tokio::test]
    async fn the_preface_in_pieces_is_received() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&PREFACE[..5]).await.unwrap();
        let w = tokio::spawn(async move {
            a.write_all(&PREFACE[5..]).await.unwrap();
            a
        });
        assert_eq!(wait(&mut b, soon(), false).await, Preface::Received);
        drop(w.await);
    }

    #[tokio::test]
    async fn other_bytes_silence_and_part_of_it_are_refused_as_nginx_does() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let r = wait(&mut b, soon(), false).await;
        assert_eq!(
            r,
            Preface::Refused(Reason::PROTOCOL_ERROR, "invalid http2 connection preface")
        );
        let (_a, mut b) = tokio::io::duplex(64);
        let r = wait(&mut b, soon(), false).await;
        assert!(matches!(r, Preface::Refused(Reason::PROTOCOL_ERROR, _)));
        let r = wait(&mut b, soon(), true).await;
        assert_eq!(r, Preface::Refused(Reason::NO_ERROR, ""));
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&PREFACE[..10]).await.unwrap();
        let r = wait(&mut b, soon(), true).await;
        assert!(matches!(r, Preface::Refused(Reason::PROTOCOL_ERROR, _)));
        drop(a);
        let (mut a, mut b) = tokio::io::duplex(256);
        refuse(&mut b, &[(3, 200)], Reason::PROTOCOL_ERROR).await;
        let mut out = Vec::new();
        a.read_to_end(&mut out).await.unwrap();
        assert_eq!(
            out,
            [
                &[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 200][..],
                &[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
            ]
            .concat()
        );
    }
}
