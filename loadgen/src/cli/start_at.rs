//! `--start-at TIME`: a wall-clock start shared by shards on different machines (no
//! coordinator: each waits for the same instant on its own clock, NTP keeps them together).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `2026-12-07T13:00:00Z` (RFC 3339), `@1796648400` (Unix seconds) or `+30s`
/// (from now).
pub fn parse(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    let bad = |why: String| format!("bad --start-at {s:?}: {why}");
    if let Some(rel) = s.strip_prefix('+') {
        let d = humantime::parse_duration(rel).map_err(|e| bad(e.to_string()))?;
        return Ok(SystemTime::now() + d);
    }
    if let Some(secs) = s.strip_prefix('@') {
        let v: f64 = secs.parse().map_err(|_| bad("want @UNIX_SECONDS".into()))?;
        if !v.is_finite() || v < 0.0 {
            return Err(bad("want @UNIX_SECONDS".into()));
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(v));
    }
    humantime::parse_rfc3339_weak(s).map_err(|e| {
        bad(format!(
            "{e} (want e.g. 2026-12-07T13:00:00Z, @UNIX_SECONDS or +30s)"
        ))
    })
}

/// Sleeps until `at` (returns at once when it has passed), checking `stop` every 100 ms;
/// returns how late the start is (zero when on time) or `None` when stopped.
pub fn wait_until(at: SystemTime, stop: &dyn Fn() -> bool) -> Option<Duration> {
    loop {
        if stop() {
            return None;
        }
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(Duration::from_millis(100))),
            Ok(_) => return Some(Duration::ZERO),
            Err(late) => return Some(late.duration()),
        }
    }
}

/// Waits for `--start-at` and says so on stderr (late starts are reported, not refused).
pub fn wait_announced(spec: &str, stop: &dyn Fn() -> bool) -> Result<bool, String> {
    let at = parse(spec)?;
    if let Ok(left) = at.duration_since(SystemTime::now()) {
        eprintln!(
            "waiting {:.1} s for --start-at {}",
            left.as_secs_f64(),
            humantime::format_rfc3339_millis(at)
        );
    }
    match wait_until(at, stop) {
        None => Ok(false),
        Some(late) if late > Duration::from_secs(1) => {
            eprintln!(
                "WARNING: started {:.1} s after --start-at (the pod or process came up late)",
                late.as_secs_f64()
            );
            Ok(true)
        }
        Some(_) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let t = parse("2026-12-07T13:00:00Z").expect("rfc3339");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok(),
            Some(1_796_648_400)
        );
        assert_eq!(parse("@1796648400").ok(), Some(t));
        let soon = parse("+2s").expect("relative");
        assert!(soon > SystemTime::now());
        for bad in ["tomorrow", "@x", "+2 parsecs", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn past_times_start_at_once_and_report_the_delay() {
        let at = SystemTime::now() - Duration::from_secs(5);
        let late = wait_until(at, &|| false).expect("not stopped");
        assert!(late >= Duration::from_secs(5));
        let future = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(wait_until(future, &|| true), None);
    }
}
