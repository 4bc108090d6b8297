//! The streams of one HTTP/2 connection, run inside the connection's task: a set of futures
//! like `FuturesUnordered`, but each finished stream's slot (its pinned future storage and
//! its waker) is kept and reused by the next stream, so starting a stream allocates nothing
//! and writes the request pipeline's (several KiB) future into memory that is still warm.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Where woken slots are queued for the next poll.
#[derive(Default)]
struct Ready {
    /// Indices of the slots woken since they were last polled.
    queue: Mutex<Vec<usize>>,
    /// The task polling the set.
    parent: AtomicWaker,
}

/// One slot's waker: queues the slot (once until it is polled) and wakes the parent task.
struct SlotWake {
    index: usize,
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            if let Ok(mut q) = self.ready.queue.lock() {
                q.push(self.index);
            }
            self.ready.parent.wake();
        }
    }
}

struct Slot<F> {
    /// The running future (None: the slot is free).
    fut: Pin<Box<Option<F>>>,
    wake: Arc<SlotWake>,
    waker: Waker,
}

/// A set of `()` futures polled by one task, with reused slots (see the module docs).
pub struct Slots<F> {
    slots: Vec<Slot<F>>,
    free: Vec<usize>,
    ready: Arc<Ready>,
    /// The queue taken out of `ready` for one poll (kept for its capacity).
    batch: Vec<usize>,
    running: usize,
}

impl<F: Future<Output = ()>> Slots<F> {
    /// An empty set.
    pub fn new() -> Slots<F> {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
            ready: Arc::new(Ready::default()),
            batch: Vec::new(),
            running: 0,
        }
    }

    /// No future is running.
    pub fn is_empty(&self) -> bool {
        self.running == 0
    }

    /// Adds the future `make` returns; it is first polled by the next [`Slots::poll`] (the
    /// caller's, as the task is not woken for it). Inlined with `make`, the future is built
    /// straight into its slot (no copy of it through the stack).
    #[inline(always)]
    pub fn push_with(&mut self, make: impl FnOnce() -> F) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let index = self.slots.len();
                let wake = Arc::new(SlotWake {
                    index,
                    queued: AtomicBool::new(false),
                    ready: self.ready.clone(),
                });
                let waker = Waker::from(wake.clone());
                self.slots.push(Slot {
                    fut: Box::pin(None),
                    wake,
                    waker,
                });
                index
            }
        };
        let slot = &mut self.slots[index];
        slot.fut.set(Some(make()));
        self.running += 1;
        // Queued for the next poll, without waking the task (the caller polls next).
        if !slot.wake.queued.swap(true, Ordering::AcqRel)
            && let Ok(mut q) = self.ready.queue.lock()
        {
            q.push(index);
        }
    }

    /// Polls the futures woken since the last call; Ready(n) when `n > 0` of them finished,
    /// Pending otherwise (the task is woken when one of them is).
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        self.ready.parent.register(cx.waker());
        let mut finished = 0;
        // Futures woken while these are polled are polled too (by the next round).
        for _ in 0..4 {
            if let Ok(mut q) = self.ready.queue.lock() {
                std::mem::swap(&mut *q, &mut self.batch);
            }
            if self.batch.is_empty() {
                break;
            }
            for k in 0..self.batch.len() {
                let index = self.batch[k];
                let slot = &mut self.slots[index];
                slot.wake.queued.store(false, Ordering::Release);
                let Some(fut) = slot.fut.as_mut().as_pin_mut() else {
                    continue; // a stale wake-up of a free slot
                };
                if fut.poll(&mut Context::from_waker(&slot.waker)).is_ready() {
                    slot.fut.set(None);
                    self.free.push(index);
                    self.running -= 1;
                    finished += 1;
                }
            }
            self.batch.clear();
        }
        if !self.ready.queue.lock().map_or(true, |q| q.is_empty()) {
            cx.waker().wake_by_ref();
        }
        if finished > 0 {
            Poll::Ready(finished)
        } else {
            Poll::Pending
        }
    }
}

impl<F: Future<Output = ()>> Default for Slots<F> {
    fn default() -> Slots<F> {
        Slots::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[tokio::test]
    async fn runs_every_future_to_completion_and_reuses_slots() {
        let done = Rc::new(Cell::new(0));
        let mut set = Slots::new();
        let spawn = |set: &mut Slots<_>, ms: u64| {
            let done = done.clone();
            set.push_with(|| async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                done.set(done.get() + 1);
            });
        };
        for ms in [30, 10, 0, 20] {
            spawn(&mut set, ms);
        }
        assert_eq!(set.running, 4);
        let mut total = 0;
        while total < 4 {
            total += std::future::poll_fn(|cx| set.poll(cx)).await;
        }
        assert!(set.is_empty());
        assert_eq!(done.get(), 4);
        for ms in [5, 0] {
            spawn(&mut set, ms);
        }
        assert_eq!(set.slots.len(), 4, "finished slots are reused");
        let mut total = 0;
        while total < 2 {
            total += std::future::poll_fn(|cx| set.poll(cx)).await;
        }
        assert_eq!(done.get(), 6);
    }
}
