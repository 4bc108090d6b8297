//! Live progress bar on a terminal (elapsed; the clients' req/s and p99 of the loadgen's last
//! closed second, errors, 5xx; the upstreams' view), fed by the loadgen's series CSV, which
//! grows one flushed second at a time; a no-op with `--ci` or when stderr is not a terminal.

use crate::results::counts::{self, Counts};
use crate::results::loadgen_out::SeriesRow;
use crate::run::Sample;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;
use std::time::Duration;

/// The bar (None when disabled).
#[derive(Debug)]
pub struct Bar {
    bar: Option<ProgressBar>,
    total: RefCell<Counts>,
    last_requests: RefCell<Option<(f64, f64)>>,
    /// The loadgen's last closed second: (second, completed, p99 µs).
    last_second: RefCell<Option<(u32, f64, f64)>>,
}

impl Bar {
    /// A bar for a run of `duration`, shown only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool, duration: Duration) -> Bar {
        use std::io::IsTerminal;
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(duration.as_millis() as u64);
            b.enable_steady_tick(Duration::from_millis(250));
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:30}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Bar {
            bar,
            total: RefCell::new(Counts::default()),
            last_requests: RefCell::new(None),
            last_second: RefCell::new(None),
        }
    }

    /// Moves to `elapsed` and folds in new series rows (the loadgen's view, when its series
    /// grows during the run) and the latest sample (the upstreams' view: `up.POOL.requests`,
    /// `up.POOL.responses_5xx` summed over pools, and the proxy's active connections).
    pub fn update(&self, elapsed: Duration, new_rows: &[SeriesRow], sample: Option<&Sample>) {
        let Some(b) = &self.bar else { return };
        let now = counts::window(new_rows, None, 0.0, f64::MAX);
        let mut t = self.total.borrow_mut();
        t.completed += now.completed;
        t.seconds += now.seconds;
        for (k, v) in &now.errors {
            *t.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &now.status {
            *t.status.entry(*k).or_default() += v;
        }
        let mut msg = String::new();
        if let Some(l) = new_rows.iter().map(|r| r.second).max() {
            let c = counts::window(new_rows, None, f64::from(l), f64::from(l) + 1.0);
            let p99 = new_rows
                .iter()
                .find(|r| r.second == l && r.population == "all")
                .and_then(|r| r.values.get("p99_us").copied())
                .unwrap_or(0.0);
            *self.last_second.borrow_mut() = Some((l, c.completed, p99));
        }
        if let Some((sec, rate, p99)) = *self.last_second.borrow() {
            msg.push_str(&format!(
                "clients [{}s]: {rate:.0} req/s  p99 {:.1} ms  completed {:.0}  errors {:.0}  5xx {:.0}  ",
                sec + 1,
                p99 / 1000.0,
                t.completed,
                t.error_total(),
                t.status_matching(|c| c / 100 == 5)
            ));
        }
        if let Some(s) = sample {
            let sum = |suffix: &str| -> f64 {
                s.values
                    .iter()
                    .filter(|(k, _)| {
                        k.starts_with("up.") && k.ends_with(suffix) && k.matches('.').count() == 2
                    })
                    .map(|(_, v)| v)
                    .sum()
            };
            let reqs = sum(".requests");
            let mut last = self.last_requests.borrow_mut();
            let rate = match *last {
                Some((t0, r0)) if s.t > t0 => (reqs - r0).max(0.0) / (s.t - t0),
                _ => 0.0,
            };
            *last = Some((s.t, reqs));
            msg.push_str(&format!(
                "upstreams: {rate:.0} req/s  5xx {:.0}  in flight {:.0}",
                sum(".responses_5xx"),
                sum(".in_flight")
            ));
            if let Some(a) = s.values.get("proxy.active") {
                msg.push_str(&format!("  proxy conns {a:.0}"));
            }
        }
        b.set_position(elapsed.as_millis() as u64);
        b.set_message(msg);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
