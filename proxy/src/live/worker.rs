//! Which worker thread runs the current task: each worker's requests use that worker's own
//! keepalive pools (nginx's pools are per worker process).

use std::cell::Cell;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Index of the worker thread running the current task (0 outside workers).
pub fn worker_index() -> usize {
    WORKER.with(Cell::get)
}

/// Marks the current thread as worker `index` (called once by each worker thread).
pub fn set_worker_index(index: usize) {
    WORKER.with(|w| w.set(index));
}
