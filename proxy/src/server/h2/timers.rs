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
/// default server (the read size is the http block's).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// `client_header_timeout`.
    pub header: Duration,
    /// `keepalive_timeout`.
    pub keepalive: Duration,
    /// `keepalive_requests`.
    pub keepalive_requests: u64,
    /// `keepalive_time`.
    pub keepalive_time: Duration,
    /// `send_timeout`.
    pub send: Duration,
    /// `http2_max_concurrent_streams`.
    pub max_streams: u32,
    /// The most one read takes (`http2_recv_buffer_size` less 32 bytes).
    pub read_size: usize,
}

impl ConnLimits {
    /// The limits of the server SNI chose (`sni`), else of the default server of `local`
    /// (nginx's defaults when no server listens there any more, e.g. after a reload).
    pub fn of(shared: &Shared, local: SocketAddr, sni: Option<&str>) -> ConnLimits {
        let live = shared.live.load();
        let read_size = super::recv::read_size(live.config.http.http2_recv_buffer_size);
        live.route(local)
            .map(|r| {
                let s = &live.config.http.servers[r.first(sni)];
                ConnLimits {
                    header: s.client_header_timeout,
                    keepalive: s.base.keepalive_timeout.0,
                    keepalive_requests: s.base.keepalive_requests,
                    keepalive_time: s.base.keepalive_time,
                    send: s.base.send_timeout,
                    max_streams: s.http2_max_concurrent_streams,
                    read_size,
                }
            })
            .unwrap_or(ConnLimits {
                header: Duration::from_secs(60),
                keepalive: Duration::from_secs(75),
                keepalive_requests: 1000,
                keepalive_time: Duration::from_secs(3600),
                send: Duration::from_secs(60),
                max_streams: 128,
                read_size,
            })
    }
}

impl ConnLimits {
    /// Whether a stream opened now, the connection's `served`-th (counting it), at `age`, is
    /// its last one (`ngx_http_v2_state_headers`): `keepalive_requests` reached,
    /// `keepalive_time` passed, or `keepalive_timeout 0`.
    pub fn last_stream(&self, served: u64, age: Duration) -> bool {
        served >= self.keepalive_requests || age > self.keepalive_time || self.keepalive.is_zero()
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
