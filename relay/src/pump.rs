//! One direction of a relayed connection: read a chunk, apply the toxics that touch it, write
//! it. Without a toxic a chunk is written as soon as it is read; with latency, chunks wait in
//! a queue (in order, each `latency` ± jitter after it was read) while reading goes on. On a
//! connection opened under latency, the first client bytes also wait one round trip, what the
//! TCP handshake costs on a real link (the relay accepts locally at once).

use crate::state::{LinkState, View, mix, unit};
use crate::toxic::Direction;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

/// Read size.
const CHUNK: usize = 16 * 1024;
/// Bytes held for latency before reading stops (back pressure).
const MAX_QUEUED: usize = 1 << 20;

/// How a direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The source closed; the FIN was passed on.
    Eof,
    /// A `limit_data` budget was spent: the whole connection must close.
    Limit,
}

/// One direction's state.
pub(crate) struct Pump<'a> {
    dir: Direction,
    rx: watch::Receiver<Arc<LinkState>>,
    seed: u64,
    opened: std::time::Instant,
    bytes: &'a AtomicU64,
    view: View,
    rng: u64,
    /// Next time the bandwidth cap lets a byte out.
    pace: Instant,
    /// Bytes counted against the current data limit (toxic id, bytes).
    counted: (u64, u64),
    /// Due time of the last queued chunk (order is kept under jitter).
    last_due: Instant,
    /// Extra delay of the first chunk: the round trip of the TCP handshake a real link
    /// would cost a new connection (client → server only; zero once spent).
    handshake: Duration,
}

enum Step {
    Due,
    Read(io::Result<usize>),
}

impl<'a> Pump<'a> {
    pub(crate) fn new(
        dir: Direction,
        rx: watch::Receiver<Arc<LinkState>>,
        seed: u64,
        opened: std::time::Instant,
        bytes: &'a AtomicU64,
    ) -> Self {
        let now = Instant::now();
        let mut p = Pump {
            dir,
            rx,
            seed,
            opened,
            bytes,
            view: View::default(),
            rng: mix(seed ^ dir as u64),
            pace: now,
            counted: (u64::MAX, 0),
            last_due: now,
            handshake: Duration::ZERO,
        };
        p.refresh();
        if dir == Direction::Up {
            let st = p.rx.borrow();
            p.handshake = p.view.latency + st.view(seed, Direction::Down, opened).latency;
        }
        p
    }

    fn refresh(&mut self) {
        let st = self.rx.borrow();
        if st.generation != self.view.generation {
            self.view = st.view(self.seed, self.dir, self.opened);
        }
    }

    fn draw(&mut self) -> f64 {
        self.rng = mix(self.rng);
        unit(self.rng)
    }

    /// When a chunk read now is due.
    fn due(&mut self) -> Instant {
        let (lat, jit) = (self.view.latency, self.view.jitter);
        let spread = jit.as_secs_f64() * (2.0 * self.draw() - 1.0);
        let d = Duration::from_secs_f64((lat.as_secs_f64() + spread).max(0.0))
            + std::mem::take(&mut self.handshake);
        let due = (Instant::now() + d).max(self.last_due);
        self.last_due = due;
        due
    }

    /// Copies `rd` to `wr` until the end of the stream or a data limit.
    pub(crate) async fn run<R, W>(mut self, rd: &mut R, wr: &mut W) -> io::Result<End>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buf = vec![0u8; CHUNK];
        let mut q: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let (mut queued, mut eof, mut limit_hit) = (0usize, false, false);
        loop {
            let head = q.front().map(|x| x.0);
            let step = match head {
                Some(due) if eof || limit_hit || queued >= MAX_QUEUED => {
                    sleep_until(due).await;
                    Step::Due
                }
                Some(due) => tokio::select! {
                    biased;
                    _ = sleep_until(due) => Step::Due,
                    r = rd.read(&mut buf) => Step::Read(r),
                },
                None if limit_hit => return Ok(End::Limit),
                None if eof => return self.close(wr).await,
                None => Step::Read(rd.read(&mut buf).await),
            };
            let n = match step {
                Step::Due => {
                    if let Some((_, b)) = q.pop_front() {
                        queued -= b.len();
                        self.write(wr, &b).await?;
                    }
                    continue;
                }
                Step::Read(r) => r?,
            };
            if n == 0 {
                eof = true;
                continue;
            }
            self.refresh();
            if self.view.black_hole {
                continue;
            }
            let data = self.budget(&buf[..n], &mut limit_hit);
            self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            if self.view.latency.is_zero() && self.handshake.is_zero() && q.is_empty() {
                self.write(wr, data).await?;
            } else {
                let due = self.due();
                queued += data.len();
                q.push_back((due, data.to_vec()));
            }
        }
    }

    /// The part of `data` within the data limit; sets `hit` when the limit is reached.
    fn budget<'b>(&mut self, data: &'b [u8], hit: &mut bool) -> &'b [u8] {
        let Some((id, bytes, _)) = self.view.limit else {
            return data;
        };
        if self.counted.0 != id {
            self.counted = (id, 0);
        }
        let left = bytes.saturating_sub(self.counted.1);
        let take = (data.len() as u64).min(left) as usize;
        self.counted.1 += take as u64;
        if self.counted.1 >= bytes {
            *hit = true;
        }
        &data[..take]
    }

    /// Passes the end of the stream on: after `slow_close`, and never while black-holed.
    async fn close<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> io::Result<End> {
        self.refresh();
        while self.view.black_hole {
            if self.rx.changed().await.is_err() {
                break;
            }
            self.refresh();
        }
        if !self.view.slow_close.is_zero() {
            sleep(self.view.slow_close).await;
        }
        wr.shutdown().await?;
        Ok(End::Eof)
    }

    /// Writes one chunk: sliced and paced when those toxics are on.
    async fn write<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, data: &[u8]) -> io::Result<()> {
        self.refresh();
        let Some((avg, var, delay)) = self.view.slicer else {
            return self.paced(wr, data).await;
        };
        let mut rest = data;
        while !rest.is_empty() {
            let size = avg - var + (self.draw() * (2 * var + 1) as f64) as usize;
            let (a, b) = rest.split_at(size.clamp(1, rest.len()));
            self.paced(wr, a).await?;
            wr.flush().await?;
            rest = b;
            if !rest.is_empty() && !delay.is_zero() {
                sleep(delay).await;
            }
        }
        Ok(())
    }

    /// Writes under the bandwidth cap: pieces of 20 ms worth, each after the previous
    /// piece's share of time.
    async fn paced<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, data: &[u8]) -> io::Result<()> {
        let Some(rate) = self.view.rate else {
            return wr.write_all(data).await;
        };
        let piece = ((rate / 50) as usize).max(1);
        for part in data.chunks(piece) {
            if self.pace > Instant::now() {
                sleep_until(self.pace).await;
            }
            wr.write_all(part).await?;
            let cost = Duration::from_secs_f64(part.len() as f64 / rate as f64);
            self.pace = self.pace.max(Instant::now()) + cost;
        }
        Ok(())
    }
}
