//! The HdrHistogram interval log (`.hlog`): one latency histogram per population per second,
//! tagged with the population name, in the standard V2 + deflate format (readable by
//! HistogramLogProcessor and other HdrHistogram tools). Values are microseconds.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// An open interval log.
pub struct HlogWriter {
    out: BufWriter<File>,
    ser: V2DeflateSerializer,
    tags: Vec<String>,
    error: Option<String>,
}

impl std::fmt::Debug for HlogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlogWriter")
            .field("tags", &self.tags)
            .finish()
    }
}

impl HlogWriter {
    /// Creates `path` and writes the header (flushed at once: `StartTime` is the run's clock
    /// origin, which a parent process aligns to); `tags` are the population names.
    pub fn create(
        path: &Path,
        tags: Vec<String>,
        start: SystemTime,
    ) -> std::io::Result<HlogWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut ser = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(
                "proxylab loadgen latency, microseconds; one histogram per population per second",
            )
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut ser)?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        out.flush()?;
        Ok(HlogWriter {
            out,
            ser,
            tags,
            error: None,
        })
    }

    /// Appends second `sec` of population `pop` (skipped when empty).
    pub fn write(&mut self, pop: usize, sec: u64, h: &Histogram<u64>) {
        if h.is_empty() || self.error.is_some() {
            return;
        }
        let tag = self.tags.get(pop).and_then(|t| Tag::new(t));
        let res = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut self.out, &mut self.ser)
            .map_err(|e| e.to_string())
            .and_then(|mut w| {
                w.write_histogram(h, Duration::from_secs(sec), Duration::from_secs(1), tag)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = res {
            self.error = Some(e);
        }
    }

    /// Pushes what was written so far to the file (once per second, so that a parent process
    /// can follow the log live).
    pub fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e.to_string());
        }
    }

    /// Flushes; reports the first error met while writing.
    pub fn finish(mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())?;
        self.error.map_or(Ok(()), Err)
    }
}
