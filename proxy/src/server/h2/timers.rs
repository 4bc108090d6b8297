//! The read timer of one HTTP/2 connection, as nginx 1.22 keeps it: `client_header_timeout`
//! from the connection's start until its first stream, deleted while streams are open, and
//! `keepalive_timeout` once none is open. Frames that arrive meanwhile do not restart either.
//! When it expires nginx sends GOAWAY NO_ERROR, or PROTOCOL_ERROR ("client timed out") when
//! the client stopped inside a frame.

use crate::live::Shared;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The settings that bound an HTTP/2 connection, from the server SNI chose or the address's
/// default server.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// `client_header_timeout`.
    pub header: Duration,
    /// `keepalive_timeout`.
    pub keepalive: Duration,
    /// `keepalive_requests`.
    pub keepalive_requests: u64,
    /// `send_timeout`.
    pub send: Duration,
}

impl ConnLimits {
    /// The limits of the server SNI chose (`sni`), else of the default server of `local`
    /// (nginx's defaults when no server listens there any more, e.g. after a reload).
    pub fn of(shared: &Shared, local: SocketAddr, sni: Option<&str>) -> ConnLimits {
        let live = shared.live.load();
        live.route(local)
            .map(|r| {
                let s = &live.config.http.servers[r.first(sni)];
                ConnLimits {
                    header: s.client_header_timeout,
                    keepalive: s.base.keepalive_timeout.0,
                    keepalive_requests: s.base.keepalive_requests,
                    send: s.base.send_timeout,
                }
            })
            .unwrap_or(ConnLimits {
                header: Duration::from_secs(60),
                keepalive: Duration::from_secs(75),
                keepalive_requests: 1000,
                send: Duration::from_secs(60),
            })
    }
}

/// The connection's read timer (one `Sleep`, reset rather than made anew per idle period).
pub struct ReadTimer {
    sleep: Pin<Box<Sleep>>,
    armed: bool,
    keepalive: Duration,
    fired: bool,
}

impl ReadTimer {
    /// Runs until `deadline` (the connection's start plus `client_header_timeout`).
    pub fn new(deadline: Instant, keepalive: Duration) -> ReadTimer {
        ReadTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            armed: true,
            keepalive,
            fired: false,
        }
    }

    /// A stream was opened: nginx deletes the connection's read timer.
    pub fn stream_opened(&mut self) {
        self.armed = false;
    }

    /// No stream is open: the keep-alive timer starts unless a timer runs already.
    pub fn idle(&mut self) {
        if !self.armed && !self.fired {
            let at = Instant::now() + self.keepalive;
            self.sleep.as_mut().reset(at);
            self.armed = true;
        }
    }

    /// True once, when the timer has expired (the task is woken then).
    pub fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed || self.sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.armed = false;
        self.fired = true;
        true
    }
}
