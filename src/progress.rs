//! Live progress bar on a terminal (elapsed, rate, errors, 5xx), fed by the loadgen's series as
//! it grows; a no-op with `--ci` or when stderr is not a terminal.

use crate::results::counts::{self, Counts};
use crate::results::loadgen_out::SeriesRow;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;
use std::time::Duration;

/// The bar (None when disabled).
#[derive(Debug)]
pub struct Bar {
    bar: Option<ProgressBar>,
    total: RefCell<Counts>,
}

impl Bar {
    /// A bar for a run of `duration`, shown only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool, duration: Duration) -> Bar {
        use std::io::IsTerminal;
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(duration.as_millis() as u64);
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
        }
    }

    /// Moves to `elapsed` and folds in new series rows.
    pub fn update(&self, elapsed: Duration, new_rows: &[SeriesRow]) {
        let Some(b) = &self.bar else { return };
        let last = new_rows.iter().map(|r| r.second).max();
        let now = counts::window(new_rows, None, 0.0, f64::MAX);
        let mut t = self.total.borrow_mut();
        t.completed += now.completed;
        for (k, v) in &now.errors {
            *t.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &now.status {
            *t.status.entry(*k).or_default() += v;
        }
        let rate = last.map_or(0.0, |l| {
            counts::window(new_rows, None, f64::from(l), f64::from(l) + 1.0).completed
        });
        b.set_position(elapsed.as_millis() as u64);
        b.set_message(format!(
            "{rate:.0} req/s  completed {:.0}  errors {:.0}  5xx {:.0}",
            t.completed,
            t.error_total(),
            t.status_matching(|c| c / 100 == 5)
        ));
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
