//! The open-loop connection pool of one population on one thread: idle HTTP/1.1 connections
//! (LIFO), shared HTTP/2 connections, and an optional cap; requests that find the cap reached
//! wait and are counted as waiting.

use super::ctx::Conn;
use crate::record::Rec;
use std::cell::{Cell, RefCell};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// Connections of one population on one thread.
#[derive(Debug)]
pub struct Pool {
    idle: RefCell<Vec<Conn>>,
    sem: Option<Semaphore>,
    h2: bool,
    h2_cap: usize,
    h2_rr: Cell<usize>,
    h2_opening: Cell<usize>,
    h2_ready: Notify,
}

/// A request's hold on the pool: maybe a connection, and a permit when capped.
#[derive(Debug)]
pub struct Lease<'a> {
    /// The connection to use (`None`: open one and leave it here).
    pub slot: Option<Conn>,
    pool: &'a Pool,
    opening_h2: bool,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Pool {
    /// A pool capped at `cap` connections (None: uncapped). HTTP/2 pools share connections
    /// (`cap` of them, default 1).
    pub fn new(cap: Option<usize>, h2: bool) -> Pool {
        Pool {
            idle: RefCell::new(Vec::new()),
            sem: if h2 { None } else { cap.map(Semaphore::new) },
            h2,
            h2_cap: cap.unwrap_or(1),
            h2_rr: Cell::new(0),
            h2_opening: Cell::new(0),
            h2_ready: Notify::new(),
        }
    }

    /// Gets a connection slot, waiting (and recording it) when the cap is reached.
    pub async fn acquire(&self, rec: &Rec) -> Lease<'_> {
        if self.h2 {
            return self.acquire_h2().await;
        }
        let permit = match &self.sem {
            None => None,
            Some(sem) => match sem.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => {
                    rec.waiting(1);
                    let p = sem.acquire().await.ok();
                    rec.waiting(-1);
                    p
                }
            },
        };
        // Idle connections the server closed meanwhile (keepalive_timeout) are dropped here,
        // not charged to the next request as a reset.
        let slot = loop {
            let c = self.idle.borrow_mut().pop();
            match c {
                Some(Conn::H1 { c, .. }) if c.io.is_stale() => continue,
                other => break other,
            }
        };
        Lease {
            slot,
            pool: self,
            opening_h2: false,
            _permit: permit,
        }
    }

    /// HTTP/2: share an open connection; open one more while under the cap; otherwise wait
    /// for a connection being opened by another request.
    async fn acquire_h2(&self) -> Lease<'_> {
        loop {
            let ready = self.h2_ready.notified();
            if let Some(lease) = self.try_h2() {
                return lease;
            }
            ready.await;
        }
    }

    fn try_h2(&self) -> Option<Lease<'_>> {
        let idle = self.idle.borrow();
        if idle.len() + self.h2_opening.get() < self.h2_cap {
            drop(idle);
            self.h2_opening.set(self.h2_opening.get() + 1);
            return Some(Lease {
                slot: None,
                pool: self,
                opening_h2: true,
                _permit: None,
            });
        }
        if idle.is_empty() {
            return None;
        }
        let i = self.h2_rr.get();
        self.h2_rr.set(i.wrapping_add(1));
        let slot = match &idle[i % idle.len()] {
            Conn::H2 { h, ep, src, t } => Some(Conn::H2 {
                h: h.clone(),
                ep: *ep,
                src: *src,
                t: t.clone(),
            }),
            Conn::H1 { .. } => None,
        };
        Some(Lease {
            slot,
            pool: self,
            opening_h2: false,
            _permit: None,
        })
    }

    /// Forgets a broken shared HTTP/2 connection.
    pub fn drop_h2(&self, broken: &Conn) {
        if let Conn::H2 { t, .. } = broken {
            self.idle
                .borrow_mut()
                .retain(|c| !matches!(c, Conn::H2 { t: t2, .. } if std::rc::Rc::ptr_eq(t, t2)));
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        match self.slot.take() {
            Some(c @ Conn::H1 { .. }) => self.pool.idle.borrow_mut().push(c),
            Some(c @ Conn::H2 { .. }) if self.opening_h2 => self.pool.idle.borrow_mut().push(c),
            _ => {}
        }
        if self.opening_h2 {
            self.pool.h2_opening.set(self.pool.h2_opening.get() - 1);
            self.pool.h2_ready.notify_waiters();
        }
    }
}
