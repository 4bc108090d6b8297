//! What a toxic is: the fault, the direction it acts on and the share of connections it
//! touches. Serialized as JSON on the control channel; the scenario runner builds these from
//! `[[fault]]` tables.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which bytes a toxic acts on. `Up` is client → server (requests), `Down` server → client
/// (responses).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
    /// Both ways.
    #[default]
    Both,
}

impl Direction {
    /// True when the toxic acts on bytes flowing `dir` (`Up` or `Down`).
    pub fn covers(self, dir: Direction) -> bool {
        self == Direction::Both || self == dir
    }

    /// Parses `up`, `down`, `both`.
    pub fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "up" => Direction::Up,
            "down" => Direction::Down,
            "both" => Direction::Both,
            _ => return None,
        })
    }
}

/// One network fault.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Toxic {
    /// Every chunk is held `latency` ± up to `jitter` (uniform) before it is written; order
    /// is kept.
    Latency {
        /// Added delay.
        latency: Duration,
        /// Spread around it.
        jitter: Duration,
    },
    /// At most `rate` bytes per second.
    Bandwidth {
        /// Bytes per second (> 0).
        rate: u64,
    },
    /// The end of the stream (FIN) is passed on `delay` late.
    SlowClose {
        /// How late.
        delay: Duration,
    },
    /// Black hole: bytes are swallowed; the connection is closed after `close_after`
    /// (never when `None`).
    Timeout {
        /// Close after this long (from the toxic's start on the connection).
        close_after: Option<Duration>,
    },
    /// The connection is reset (RST) `delay` after the toxic's start on it.
    ResetPeer {
        /// Delay before the reset.
        delay: Duration,
    },
    /// Chunks are cut into pieces of `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer {
        /// Mean piece size (> 0).
        average_size: usize,
        /// Spread of the piece size (< `average_size`).
        size_variation: usize,
        /// Pause between pieces.
        delay: Duration,
    },
    /// The connection is closed once `bytes` bytes went through (from the toxic's start).
    LimitData {
        /// Byte budget.
        bytes: u64,
    },
    /// The link is down: new connections are refused (the port is closed), existing ones cut.
    Down,
}

impl Toxic {
    /// The name used in scenario files (`latency`, `bandwidth`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Toxic::Latency { .. } => "latency",
            Toxic::Bandwidth { .. } => "bandwidth",
            Toxic::SlowClose { .. } => "slow_close",
            Toxic::Timeout { .. } => "timeout",
            Toxic::ResetPeer { .. } => "reset_peer",
            Toxic::Slicer { .. } => "slicer",
            Toxic::LimitData { .. } => "limit_data",
            Toxic::Down => "down",
        }
    }

    /// Every toxic name, for messages.
    pub const NAMES: [&'static str; 8] = [
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
        "down",
    ];
}

/// A toxic with its direction and toxicity.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ToxicSpec {
    /// The fault.
    pub toxic: Toxic,
    /// Which bytes it acts on (`down` ignores it: a down link is down both ways).
    pub direction: Direction,
    /// Probability (0..=1) that a given connection is affected, drawn once per connection.
    pub toxicity: f64,
}

/// A bad toxic: the field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// Field name as in a scenario file (`rate`, `toxicity`, …).
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

impl ToxicSpec {
    /// Checks the values a relay cannot act on.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(self.toxicity.is_finite() && (0.0..=1.0).contains(&self.toxicity)) {
            return Err(invalid("toxicity", "a probability between 0 and 1"));
        }
        match &self.toxic {
            Toxic::Bandwidth { rate: 0 } => Err(invalid("rate", "must be > 0 bytes/s")),
            Toxic::Latency { latency, jitter } if jitter > latency => Err(invalid(
                "jitter",
                "must not exceed `latency` (a chunk cannot be sent before it arrives)",
            )),
            Toxic::Slicer {
                average_size: 0, ..
            } => Err(invalid("average_size", "must be > 0 bytes")),
            Toxic::Slicer {
                average_size,
                size_variation,
                ..
            } if size_variation >= average_size => Err(invalid(
                "size_variation",
                "must be smaller than `average_size`",
            )),
            Toxic::LimitData { bytes: 0 } => Err(invalid("bytes", "must be > 0")),
            _ => Ok(()),
        }
    }
}

/// Parses a byte size: an integer, or a string `N`, `NB`, `NKiB`, `NMiB`, `NGiB`, `NKB`, `NMB`,
/// `NGB` (optional space, optional `/s` for rates).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix("/s").unwrap_or(s).trim_end();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    if split == 0 {
        return None;
    }
    let (num, unit) = s.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    let v = n * mult as f64;
    (v.is_finite() && v >= 0.0 && v < u64::MAX as f64).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1 MiB/s"), Some(1 << 20));
        assert_eq!(parse_size("1.5KB"), Some(1500));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("-1KiB"), None);
        assert_eq!(parse_size("3 parsecs"), None);
    }

    #[test]
    fn validation_names_the_field() {
        let t = |toxic, toxicity| ToxicSpec {
            toxic,
            direction: Direction::Both,
            toxicity,
        };
        assert_eq!(
            t(Toxic::Down, 1.5).validate().unwrap_err().field,
            "toxicity"
        );
        assert_eq!(
            t(Toxic::Bandwidth { rate: 0 }, 1.0)
                .validate()
                .unwrap_err()
                .field,
            "rate"
        );
        let lat = Toxic::Latency {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(6),
        };
        assert_eq!(t(lat, 1.0).validate().unwrap_err().field, "jitter");
    }
}
