//! The client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), checked by the guard
//! while the `h2` crate's handshake reads it (after the server's SETTINGS went out, as in
//! nginx), so that a client that never sends it, sends part of it, or sends something else
//! is answered as nginx 1.22 answers (`ngx_http_v2_state_preface`, the read and idle
//! handlers): GOAWAY PROTOCOL_ERROR for bytes that are not the preface (at once, when its
//! first 16 bytes or all 24 are there), for part of it when `client_header_timeout` passes,
//! and for a prior-knowledge (h2c) connection that sent nothing at all (nginx's timer fires
//! before its HTTP/2 state exists); GOAWAY NO_ERROR for a TLS connection that sent nothing
//! after its handshake (nginx's idle handler).

use h2::Reason;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use tokio::time::{Instant, Sleep};

/// The preface every HTTP/2 client sends first.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why a connection was refused: the GOAWAY code and nginx's info line ("" for none).
pub type Refusal = (Reason, &'static str);

/// The preface being awaited.
pub struct Check {
    got: [u8; 24],
    have: usize,
    deadline: Pin<Box<Sleep>>,
    tls: bool,
}

impl Check {
    /// Awaits the preface until `deadline` on a TLS (`tls`) or h2c connection.
    pub fn new(deadline: Instant, tls: bool) -> Check {
        Check {
            got: [0; 24],
            have: 0,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            tls,
        }
    }

    /// Follows `bytes` just read: `Ok(true)` once the whole preface came, an error when the
    /// bytes are not the preface.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, Refusal> {
        let n = bytes.len().min(24 - self.have);
        self.got[self.have..self.have + n].copy_from_slice(&bytes[..n]);
        self.have += n;
        // nginx compares the first 16 bytes (the request line) as soon as they are there.
        let part = if self.have < 24 {
            self.have.min(16)
        } else {
            24
        };
        if part >= 16 && self.got[..part] != PREFACE[..part] {
            return Err((Reason::PROTOCOL_ERROR, "invalid connection preface"));
        }
        Ok(self.have == 24)
    }

    /// The refusal once `client_header_timeout` has passed (the task is woken then).
    pub fn expired(&mut self, cx: &mut Context<'_>) -> Option<Refusal> {
        self.deadline
            .as_mut()
            .poll(cx)
            .is_ready()
            .then_some(if self.have == 0 && self.tls {
                (Reason::NO_ERROR, "")
            } else {
                (
                    Reason::PROTOCOL_ERROR,
                    "client timed out (110: Connection timed out)",
                )
            })
    }
}

/// A GOAWAY frame (last stream 0) with `reason`.
pub fn goaway(reason: Reason) -> [u8; 17] {
    let mut f = [0u8; 17];
    f[2] = 8;
    f[3] = 7;
    f[13..].copy_from_slice(&u32::from(reason).to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::{Check, PREFACE, goaway};
    use h2::Reason;
    use std::time::Duration;
    use tokio::time::Instant;

    fn check(tls: bool) -> Check {
        Check::new(Instant::now() + Duration::from_millis(100), tls)
    }

    #[tokio::test]
    async fn the_preface_is_checked_as_nginx_checks_it() {
        let mut c = check(false);
        assert_eq!(c.feed(&PREFACE[..5]), Ok(false));
        assert_eq!(c.feed(&PREFACE[5..]), Ok(true));
        let refused = Err((Reason::PROTOCOL_ERROR, "invalid connection preface"));
        assert_eq!(
            check(false).feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            refused
        );
        // 16 bytes that are not the preface's first line: refused before the other 8 come.
        assert_eq!(check(false).feed(b"PRI * HTTP/2.0\r\0"), refused);
        // Fewer than 16: nginx waits for more.
        assert_eq!(check(false).feed(b"GET / HTTP"), Ok(false));
        let mut end = PREFACE.to_vec();
        end[20] = b'x';
        assert_eq!(check(false).feed(&end), refused);
    }

    #[tokio::test]
    async fn silence_and_part_of_it_expire_as_nginx_does() {
        for (tls, part, reason) in [
            (false, 0, Reason::PROTOCOL_ERROR),
            (true, 0, Reason::NO_ERROR),
            (true, 10, Reason::PROTOCOL_ERROR),
        ] {
            let mut c = check(tls);
            let _ = c.feed(&PREFACE[..part]);
            let r = std::future::poll_fn(|cx| match c.expired(cx) {
                Some(r) => std::task::Poll::Ready(r),
                None => std::task::Poll::Pending,
            })
            .await;
            assert_eq!(r.0, reason, "tls {tls} part {part}");
        }
        let f = goaway(Reason::PROTOCOL_ERROR);
        assert_eq!(f, [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
