//! Value parsers with nginx's rules: sizes (`ngx_parse_size`/`ngx_parse_offset`), times
//! (`ngx_parse_time`), numbers, flags.

use std::time::Duration;

/// `ngx_parse_size`: a number with optional `k`/`K`/`m`/`M` suffix, in bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    parse_scaled(s, false)
}

/// `ngx_parse_offset`: like [`parse_size`] plus `g`/`G`.
pub fn parse_offset(s: &str) -> Option<u64> {
    parse_scaled(s, true)
}

fn parse_scaled(s: &str, allow_g: bool) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1024),
        b'm' | b'M' => (&s[..s.len() - 1], 1024 * 1024),
        b'g' | b'G' if allow_g => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    parse_number(num)?.checked_mul(mult)
}

/// `ngx_atoi`: decimal digits only.
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `ngx_parse_time`: `1h 30m`, `500ms`, `60` (seconds when no unit). `is_sec` rejects `ms`.
pub fn parse_time(s: &str, is_sec: bool) -> Option<Duration> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    let mut seen_units = 0u32;
    let mut any = false;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let (mult_ms, rank, len) = match (b.get(i), b.get(i + 1)) {
            (Some(b'm'), Some(b's')) if !is_sec => (1, 1, 2),
            (Some(b'y'), _) => (365 * 86_400_000, 9, 1),
            (Some(b'M'), _) => (30 * 86_400_000, 8, 1),
            (Some(b'w'), _) => (7 * 86_400_000, 7, 1),
            (Some(b'd'), _) => (86_400_000, 6, 1),
            (Some(b'h'), _) => (3_600_000, 5, 1),
            (Some(b'm'), _) => (60_000, 4, 1),
            (Some(b's'), _) => (1000, 3, 1),
            (None, _) | (Some(b' '), _) => (1000, 2, 0),
            _ => return None,
        };
        if seen_units & (1 << rank) != 0 {
            return None;
        }
        seen_units |= 1 << rank;
        i += len;
        total_ms = total_ms.checked_add(n.checked_mul(mult_ms)?)?;
        any = true;
    }
    any.then(|| Duration::from_millis(total_ms))
}

/// `on` → true, `off` → false (case-insensitive, as nginx).
pub fn parse_flag(s: &str) -> bool {
    s.eq_ignore_ascii_case("on")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1g"), None);
        assert_eq!(parse_offset("1g"), Some(1 << 30));
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_time("30s", false), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_time("86400s", false),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(parse_time("500ms", false), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1h 30m", false), Some(Duration::from_secs(5400)));
        assert_eq!(parse_time("75", false), Some(Duration::from_secs(75)));
        assert_eq!(parse_time("abc", false), None);
        assert_eq!(parse_time("", false), None);
    }
}
