//! `PopCtx`: one population's state on one worker thread (recorder handle, pool, RNG, stop
//! signal), and `Conn`, a pooled connection that keeps the open-connection gauge honest.

use super::pool::Pool;
use super::shared::{PopShared, Shared};
use crate::record::Rec;
use crate::transport::{ErrorKind, Stream, h1::H1Conn, h2conn};
use rand::{RngExt, SeedableRng, rngs::SmallRng};
use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::Notify;

/// The thread-local "stop now" signal (run end or Ctrl-C).
#[derive(Debug, Default)]
pub struct LocalStop {
    flag: Cell<bool>,
    notify: Notify,
}

impl LocalStop {
    /// Raises the signal and wakes every waiter.
    pub fn fire(&self) {
        self.flag.set(true);
        self.notify.notify_waiters();
    }
    /// True once fired.
    pub fn is_set(&self) -> bool {
        self.flag.get()
    }
    /// Completes when fired (immediately if it already was).
    pub async fn wait(&self) {
        let n = self.notify.notified();
        if self.flag.get() {
            return;
        }
        n.await
    }
}

/// Counts one open connection in the gauge while alive.
#[derive(Debug)]
pub struct ConnTrack(Rec);

impl ConnTrack {
    /// Counts a newly opened connection.
    pub fn new(rec: &Rec) -> ConnTrack {
        rec.conn(1);
        ConnTrack(rec.clone())
    }
}

impl Drop for ConnTrack {
    fn drop(&mut self) {
        self.0.conn(-1);
    }
}

/// A connection ready for requests.
#[derive(Debug)]
pub enum Conn {
    /// HTTP/1.1.
    H1 {
        /// The connection.
        c: H1Conn<Stream>,
        /// Endpoint index.
        ep: usize,
        /// Source address (`source_addresses`), for per-client outcomes.
        src: Option<Ipv4Addr>,
        /// Gauge.
        _t: ConnTrack,
    },
    /// HTTP/2 (the handle may be shared by several requests).
    H2 {
        /// The connection handle.
        h: h2conn::H2Handle,
        /// Endpoint index.
        ep: usize,
        /// Source address (`source_addresses`), for per-client outcomes.
        src: Option<Ipv4Addr>,
        /// Gauge, shared by the clones of the handle.
        t: Rc<ConnTrack>,
    },
}

impl Conn {
    /// Endpoint index of this connection.
    pub fn ep(&self) -> usize {
        match self {
            Conn::H1 { ep, .. } | Conn::H2 { ep, .. } => *ep,
        }
    }

    /// The source address this connection was opened from (with `source_addresses`).
    pub fn source(&self) -> Option<Ipv4Addr> {
        match self {
            Conn::H1 { src, .. } | Conn::H2 { src, .. } => *src,
        }
    }
}

/// One population on one thread.
#[derive(Debug)]
pub struct PopCtx {
    /// Run-wide state.
    pub shared: Arc<Shared>,
    /// Population index.
    pub idx: usize,
    /// Worker thread index and count.
    pub thread: (usize, usize),
    /// Recorder handle.
    pub rec: Rec,
    /// Open-loop connection pool.
    pub pool: Pool,
    /// Stop signal of this thread.
    pub stop: Rc<LocalStop>,
    rng: RefCell<SmallRng>,
    ep_rr: Cell<usize>,
}

impl PopCtx {
    /// Builds the context of population `idx` on thread `thread.0` of `thread.1`.
    pub fn new(
        shared: Arc<Shared>,
        idx: usize,
        thread: (usize, usize),
        rec: Rec,
        stop: Rc<LocalStop>,
    ) -> PopCtx {
        let ps = &shared.pops[idx];
        let pool = Pool::new(ps.conn_cap(thread.0, thread.1), ps.h2);
        let seed = shared.plan.seed
            ^ ((idx as u64) << 32)
            ^ (thread.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        PopCtx {
            pool,
            rng: RefCell::new(SmallRng::seed_from_u64(seed)),
            ep_rr: Cell::new(thread.0),
            shared,
            idx,
            thread,
            rec,
            stop,
        }
    }

    /// This population's shared state.
    pub fn ps(&self) -> &PopShared {
        &self.shared.pops[self.idx]
    }

    /// A random u64 from the thread's seeded generator.
    pub fn rand(&self) -> u64 {
        self.rng.borrow_mut().random()
    }

    /// Next endpoint, round robin.
    pub fn next_ep(&self) -> usize {
        let i = self.ep_rr.get();
        self.ep_rr.set(i.wrapping_add(1));
        i % self.ps().endpoints.len()
    }

    /// One of the population's `source_addresses`, drawn at random (None: the kernel's choice).
    pub fn pick_source(&self) -> Option<Ipv4Addr> {
        self.ps().pop.source_addresses.map(|n| {
            let i = (self.rand() % u64::from(n.max(1))) as u32;
            crate::plan::source_address(i)
        })
    }

    /// Opens a raw stream to endpoint `ep` (optionally with a small receive buffer).
    pub async fn connect_stream(
        &self,
        ep: usize,
        recv_buffer: Option<u32>,
    ) -> Result<Stream, ErrorKind> {
        self.connect_stream_from(ep, recv_buffer, self.pick_source())
            .await
    }

    async fn connect_stream_from(
        &self,
        ep: usize,
        recv_buffer: Option<u32>,
        source: Option<Ipv4Addr>,
    ) -> Result<Stream, ErrorKind> {
        let ps = self.ps();
        ps.connector
            .connect_from(&ps.endpoints[ep], recv_buffer, source.map(IpAddr::V4))
            .await
    }

    /// Opens a request connection (HTTP/1.1 or HTTP/2 per the plan) to endpoint `ep`.
    pub async fn connect(&self, ep: usize) -> Result<Conn, ErrorKind> {
        let src = self.pick_source();
        let stream = match self.connect_stream_from(ep, None, src).await {
            Ok(s) => s,
            Err(k) => {
                if let Some(a) = src {
                    self.rec.source(a, k.as_str());
                }
                return Err(k);
            }
        };
        if self.ps().h2 {
            let h = h2conn::handshake(stream).await?;
            Ok(Conn::H2 {
                h,
                ep,
                src,
                t: Rc::new(ConnTrack::new(&self.rec)),
            })
        } else {
            Ok(Conn::H1 {
                c: H1Conn::new(stream),
                ep,
                src,
                _t: ConnTrack::new(&self.rec),
            })
        }
    }
}
