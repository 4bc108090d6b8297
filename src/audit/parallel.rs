//! A few probe runs at a time (`--jobs`): each run is its own set of processes on free
//! loopback ports in its own directory, so runs share nothing but the CPU. The longest runs
//! start first (the battery ends sooner); results come back in the order they were given.

use std::sync::{Mutex, PoisonError};

/// `f` over `items`, at most `jobs` at once, the items with the highest `cost` started first;
/// the results are in the order of `items`. With `jobs` ≤ 1 everything runs on this thread.
pub fn map<T, R>(
    jobs: usize,
    items: Vec<T>,
    cost: impl Fn(&T) -> f64,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R>
where
    T: Send,
    R: Send,
{
    if jobs <= 1 || items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let queue = Mutex::new(queue(items, cost));
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(n) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
                    let Some((i, t)) = next else { break };
                    let r = f(t);
                    out.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// The items with their places, cheapest first: workers pop from the end.
fn queue<T>(items: Vec<T>, cost: impl Fn(&T) -> f64) -> Vec<(usize, T)> {
    let mut q: Vec<(usize, T)> = items.into_iter().enumerate().collect();
    q.sort_by(|a, b| cost(&a.1).total_cmp(&cost(&b.1)));
    q
}

#[cfg(test)]
mod tests {
    use super::{map, queue};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_in_given_order_whatever_the_start_order() {
        let r = map(3, vec![1u64, 5, 2, 4, 3], |x| *x as f64, |x| x * 10);
        assert_eq!(r, vec![10, 50, 20, 40, 30]);
    }

    #[test]
    fn never_more_than_jobs_at_once() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let r = map(
            2,
            (1..=8).collect::<Vec<u64>>(),
            |x| *x as f64,
            |x| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                running.fetch_sub(1, Ordering::SeqCst);
                x
            },
        );
        assert_eq!(r, (1..=8).collect::<Vec<u64>>());
        assert!((1..=2).contains(&peak.load(Ordering::SeqCst)));
    }

    #[test]
    fn longest_popped_first() {
        let q = queue(vec![2.0, 9.0, 1.0, 5.0], |x| *x);
        let popped: Vec<usize> = q.iter().rev().map(|(i, _)| *i).collect();
        assert_eq!(popped, vec![1, 3, 0, 2]);
    }

    #[test]
    fn one_job_runs_in_order_on_this_thread() {
        let me = std::thread::current().id();
        let r = map(
            1,
            vec![3u8, 1, 2],
            |x| *x as f64,
            |x| {
                assert_eq!(std::thread::current().id(), me);
                x
            },
        );
        assert_eq!(r, vec![3, 1, 2]);
    }
}
