//! The live progress line: once a second on a terminal (stderr), silent otherwise.

use super::text::fmt_us;
use crate::engine::Row;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Progress display (a no-op when stderr is not a TTY or `quiet`).
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    sent: u64,
    done: u64,
    errors: u64,
}

impl Progress {
    /// A progress line on stderr if it is a terminal and not `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b
        });
        Progress {
            bar,
            sent: 0,
            done: 0,
            errors: 0,
        }
    }

    /// One finished second (its rows; the all-populations row is the last).
    pub fn second(&mut self, rows: &[Row]) {
        let Some(r) = rows.last() else { return };
        self.sent += r.sent;
        self.done += r.completed;
        let errs: u64 = r.errors.iter().sum();
        self.errors += errs;
        if let Some(b) = &self.bar {
            let non2xx: u64 = r
                .status
                .iter()
                .filter(|(c, _)| !(200..400).contains(*c))
                .map(|(_, n)| n)
                .sum();
            b.set_message(format!(
                "[{:>4}s] {:>7} req/s  sent {}  done {}  non-2xx/3xx {}  errors {} (+{errs})  p99 {}  in flight {}  conns {}  lag p99 {}",
                r.second + 1,
                r.completed,
                self.sent,
                self.done,
                non2xx,
                self.errors,
                fmt_us(r.p99_us),
                r.in_flight,
                r.open_connections,
                fmt_us(r.lag_p99_us),
            ));
            b.tick();
        }
    }

    /// Clears the line.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
