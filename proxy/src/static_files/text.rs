//! Short header values built per response (`Last-Modified`, `ETag`, `Content-Range`) kept
//! inline instead of on the heap, and nginx's HTTP date format (`ngx_http_time`) written
//! without allocating.

use std::fmt;

/// Capacity of a [`HeaderText`] in bytes: enough for `bytes A-B/LEN` with three 20-digit
/// numbers, an ETag of two 16-digit hex numbers and an HTTP date of any `i64` second.
pub const HEADER_TEXT_CAP: usize = 72;

/// A short header value (at most [`HEADER_TEXT_CAP`] bytes of text) stored inline, so that
/// building one costs no allocation. Filled through [`fmt::Write`]; a write that does not
/// fit fails and leaves the text as it was before that write.
#[derive(Clone, Copy)]
pub struct HeaderText {
    len: u8,
    buf: [u8; HEADER_TEXT_CAP],
}

impl HeaderText {
    /// An empty text.
    pub const fn new() -> HeaderText {
        HeaderText {
            len: 0,
            buf: [0; HEADER_TEXT_CAP],
        }
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The text (always valid UTF-8: only whole `&str`s are ever written).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl Default for HeaderText {
    fn default() -> HeaderText {
        HeaderText::new()
    }
}

impl fmt::Write for HeaderText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        if end > HEADER_TEXT_CAP {
            return Err(fmt::Error);
        }
        self.buf[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for HeaderText {
    fn eq(&self, other: &HeaderText) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for HeaderText {}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1..=12, day 1..=31) of a day number (days since 1970-01-01, proleptic
/// Gregorian calendar, any sign).
fn civil_from_days(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

/// Appends `secs` (seconds since the epoch) as an HTTP date, `Sun, 06 Nov 1994 08:49:37 GMT`
/// (nginx's `ngx_http_time`; years outside 0..=9999 are printed with all their digits).
pub fn write_http_date(out: &mut impl fmt::Write, secs: i64) -> fmt::Result {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        let (h, m, s) = (two(in_day / 3600), two(in_day / 60 % 60), two(in_day % 60));
        let d = two(day);
        let y = [
            b'0' + (year / 1000) as u8,
            b'0' + (year / 100 % 10) as u8,
            b'0' + (year / 10 % 10) as u8,
            b'0' + (year % 10) as u8,
        ];
        let mut b = [0u8; 29];
        b[..3].copy_from_slice(weekday.as_bytes());
        b[3..5].copy_from_slice(b", ");
        b[5..7].copy_from_slice(&d);
        b[7] = b' ';
        b[8..11].copy_from_slice(MONTHS[month - 1].as_bytes());
        b[11] = b' ';
        b[12..16].copy_from_slice(&y);
        b[16] = b' ';
        b[17..19].copy_from_slice(&h);
        b[19] = b':';
        b[20..22].copy_from_slice(&m);
        b[22] = b':';
        b[23..25].copy_from_slice(&s);
        b[25..].copy_from_slice(b" GMT");
        // ASCII by construction
        out.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    } else {
        write!(
            out,
            "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
            MONTHS[month - 1],
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;
    use std::time::{Duration, UNIX_EPOCH};

    fn date(secs: i64) -> String {
        let mut s = String::new();
        write_http_date(&mut s, secs).unwrap();
        s
    }

    #[test]
    fn http_dates_match_httpdate() {
        // every day boundary ± a second over 1970..2100, and scattered seconds up to 9999
        let mut t = 0i64;
        while t < 4_102_444_800 {
            for s in [t, t + 1, t + 86_399] {
                let want = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s as u64));
                assert_eq!(date(s), want, "{s}");
            }
            t += 86_400;
        }
        let mut s = 1i64;
        while s < 253_402_300_799 {
            let want = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s as u64));
            assert_eq!(date(s), want, "{s}");
            s = s * 3 + 7;
        }
        assert_eq!(date(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn out_of_range_dates_do_not_panic() {
        assert_eq!(date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(date(-86_400 * 365), "Wed, 01 Jan 1969 00:00:00 GMT");
        assert_eq!(date(253_402_300_800), "Sat, 01 Jan 10000 00:00:00 GMT");
        let mut t = HeaderText::new();
        write_http_date(&mut t, i64::MAX).unwrap();
        write_http_date(&mut HeaderText::new(), i64::MIN / 2).unwrap();
        assert!(t.as_str().ends_with(" GMT"));
    }

    #[test]
    fn header_text_is_bounded() {
        let mut t = HeaderText::new();
        write!(t, "bytes {}-{}/{}", u64::MAX, u64::MAX, u64::MAX).unwrap();
        assert_eq!(t.as_str().len(), 6 + 20 + 1 + 20 + 1 + 20);
        assert!(t.write_str(&"x".repeat(HEADER_TEXT_CAP)).is_err());
        assert_eq!(t.as_str(), format!("bytes {0}-{0}/{0}", u64::MAX));
    }
}
