//! `Range` / `If-Range` handling as nginx's range filter: single and multiple byte ranges,
//! 416 for unsatisfiable ones, the whole file when the ranges are syntactically odd or
//! overlap beyond the file size.

use super::conditional::parse_http_date;

/// A byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// What to send for a 200 representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// The whole file with `Accept-Ranges: bytes`.
    Full,
    /// 206 with one range.
    Single(ByteRange),
    /// 206 `multipart/byteranges`.
    Multi(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// nginx's range header filter (HTTP/1.0+ requests, 200 responses with a known length).
/// `max_ranges` is the `max_ranges` directive (`None` = unlimited, the default).
pub fn evaluate(
    range: Option<&[u8]>,
    if_range: Option<&[u8]>,
    etag: impl AsRef<[u8]>,
    last_modified: i64,
    len: u64,
    max_ranges: Option<usize>,
) -> RangeDecision {
    if max_ranges == Some(0) {
        return RangeDecision::Full;
    }
    let Some(r) = range else {
        return RangeDecision::Full;
    };
    if r.len() < 7 || !r[..6].eq_ignore_ascii_case(b"bytes=") {
        return RangeDecision::Full;
    }
    if let Some(ir) = if_range {
        if ir.len() >= 2 && ir.ends_with(b"\"") {
            if ir != etag.as_ref() {
                return RangeDecision::Full;
            }
        } else if parse_http_date(ir) != Some(last_modified) {
            return RangeDecision::Full;
        }
    }
    match parse(&r[6..], len, max_ranges.unwrap_or(usize::MAX)) {
        Parsed::Ok(v) if v.len() == 1 => RangeDecision::Single(v[0]),
        Parsed::Ok(v) => RangeDecision::Multi(v),
        Parsed::NotSatisfiable => RangeDecision::Unsatisfiable,
        Parsed::Declined => RangeDecision::Full,
    }
}

/// The framing of a `multipart/byteranges` body as nginx writes it: the boundary is a
/// process-wide counter printed on 20 digits (nginx's `ngx_next_temp_number`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The response's Content-Type (`multipart/byteranges; boundary=…`).
    pub content_type: String,
    /// Each range's part head (boundary, Content-Type, Content-Range), in order.
    pub heads: Vec<String>,
    /// The closing boundary.
    pub tail: String,
    /// The body's length: heads, ranges and tail.
    pub len: u64,
}

static BOUNDARY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Multipart {
    /// The parts of `ranges` of a `size`-byte representation of type `ctype`.
    pub fn new(ranges: &[ByteRange], ctype: &str, size: u64) -> Multipart {
        let n = BOUNDARY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let boundary = format!("{n:020}");
        let part_head =
            format!("\r\n--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes ");
        let heads: Vec<String> = ranges
            .iter()
            .map(|r| format!("{part_head}{}-{}/{size}\r\n\r\n", r.start, r.end - 1))
            .collect();
        let tail = format!("\r\n--{boundary}--\r\n");
        let len = heads.iter().map(|h| h.len() as u64).sum::<u64>()
            + ranges.iter().map(|r| r.end - r.start).sum::<u64>()
            + tail.len() as u64;
        Multipart {
            content_type: format!("multipart/byteranges; boundary={boundary}"),
            heads,
            tail,
            len,
        }
    }
}

enum Parsed {
    Ok(Vec<ByteRange>),
    NotSatisfiable,
    Declined,
}

/// A position in a `Range` value; reads past the end give 0, as nginx's NUL-terminated
/// string does.
struct Cursor<'s> {
    spec: &'s [u8],
    p: usize,
}

impl Cursor<'_> {
    fn at(&self) -> u8 {
        self.spec.get(self.p).copied().unwrap_or(0)
    }

    fn skip_spaces(&mut self) {
        while self.at() == b' ' {
            self.p += 1;
        }
    }

    /// Decimal digits (none: 0); None when the value overflows `off_t`.
    fn number(&mut self) -> Option<i64> {
        let mut v: i64 = 0;
        while self.at().is_ascii_digit() {
            v = v
                .checked_mul(10)?
                .checked_add(i64::from(self.at() - b'0'))?;
            self.p += 1;
        }
        Some(v)
    }
}

/// One `start-end`, `start-` or `-suffix` as nginx reads it, as `[start, end)` clamped to
/// the length `cl`; None for anything else (not satisfiable).
fn one_range(c: &mut Cursor<'_>, cl: i64) -> Option<(i64, i64)> {
    let mut start = 0;
    c.skip_spaces();
    let suffix = c.at() == b'-';
    if !suffix {
        if !c.at().is_ascii_digit() {
            return None;
        }
        start = c.number()?;
        c.skip_spaces();
        if c.at() != b'-' {
            return None;
        }
        c.p += 1;
        c.skip_spaces();
        if c.at() == b',' || c.at() == 0 {
            return Some((start, cl));
        }
    } else {
        c.p += 1;
    }
    if !c.at().is_ascii_digit() {
        return None;
    }
    let mut end = c.number()?;
    c.skip_spaces();
    if c.at() != b',' && c.at() != 0 {
        return None;
    }
    if suffix {
        start = if end < cl { cl - end } else { 0 };
        end = cl - 1;
    }
    end = if end >= cl { cl } else { end + 1 };
    Some((start, end))
}

/// nginx's `ngx_http_range_parse` on the bytes after `bytes=` (signed arithmetic as nginx's
/// `off_t`).
fn parse(spec: &[u8], len: u64, mut ranges_left: usize) -> Parsed {
    let cl = len.min(i64::MAX as u64) as i64;
    let mut c = Cursor { spec, p: 0 };
    let (mut out, mut size) = (Vec::new(), 0i64);
    loop {
        let Some((start, end)) = one_range(&mut c, cl) else {
            return Parsed::NotSatisfiable;
        };
        if start < end {
            out.push(ByteRange {
                start: start as u64,
                end: end as u64,
            });
            if size > i64::MAX - (end - start) {
                return Parsed::NotSatisfiable;
            }
            size += end - start;
            if ranges_left == 0 {
                return Parsed::Declined;
            }
            ranges_left -= 1;
        } else if start == 0 {
            return Parsed::Declined;
        }
        let sep = c.at();
        c.p += 1;
        if sep != b',' {
            break;
        }
    }
    if out.is_empty() {
        return Parsed::NotSatisfiable;
    }
    if size > cl {
        return Parsed::Declined;
    }
    Parsed::Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(r: &str, len: u64) -> RangeDecision {
        evaluate(Some(r.as_bytes()), None, "\"e\"", 100, len, None)
    }
    fn br(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(ev("bytes=0-9", 100), RangeDecision::Single(br(0, 10)));
        assert_eq!(ev("bytes=90-", 100), RangeDecision::Single(br(90, 100)));
        assert_eq!(ev("bytes=-10", 100), RangeDecision::Single(br(90, 100)));
        assert_eq!(ev("bytes=-1000", 100), RangeDecision::Single(br(0, 100)));
        assert_eq!(ev("bytes=50-1000", 100), RangeDecision::Single(br(50, 100)));
        assert_eq!(ev("bytes= 1 - 2 ", 100), RangeDecision::Single(br(1, 3)));
        assert_eq!(ev("BYTES=1-2", 100), RangeDecision::Single(br(1, 3)));
    }

    #[test]
    fn unsatisfiable_and_declined() {
        assert_eq!(ev("bytes=100-", 100), RangeDecision::Unsatisfiable);
        assert_eq!(ev("bytes=200-300", 100), RangeDecision::Unsatisfiable);
        assert_eq!(ev("bytes=5-3", 100), RangeDecision::Unsatisfiable);
        assert_eq!(ev("bytes=abc", 100), RangeDecision::Unsatisfiable);
        assert_eq!(ev("bytes=1-2x", 100), RangeDecision::Unsatisfiable);
        assert_eq!(ev("bytes=0-", 0), RangeDecision::Full);
        assert_eq!(ev("bytes=-5", 0), RangeDecision::Full);
        assert_eq!(ev("items=0-1", 100), RangeDecision::Full);
        assert_eq!(ev("bytes=", 100), RangeDecision::Full);
        // overlapping ranges summing past the length → whole file
        assert_eq!(ev("bytes=0-99,0-99", 100), RangeDecision::Full);
        assert_eq!(
            ev("bytes=99999999999999999999-", 100),
            RangeDecision::Unsatisfiable
        );
    }

    #[test]
    fn multi_and_if_range() {
        assert_eq!(
            ev("bytes=0-1,5-6", 100),
            RangeDecision::Multi(vec![br(0, 2), br(5, 7)])
        );
        assert_eq!(
            ev("bytes=0-1,500-600", 100),
            RangeDecision::Single(br(0, 2))
        );
        let d = evaluate(
            Some(b"bytes=0-1"),
            Some(b"\"other\""),
            "\"e\"",
            100,
            10,
            None,
        );
        assert_eq!(d, RangeDecision::Full);
        let d = evaluate(Some(b"bytes=0-1"), Some(b"\"e\""), "\"e\"", 100, 10, None);
        assert_eq!(d, RangeDecision::Single(br(0, 2)));
        let d = evaluate(
            Some(b"bytes=0-1"),
            Some(b"Thu, 01 Jan 1970 00:01:40 GMT"),
            "\"e\"",
            100,
            10,
            None,
        );
        assert_eq!(d, RangeDecision::Single(br(0, 2)));
        let d = evaluate(
            Some(b"bytes=0-1"),
            Some(b"Thu, 01 Jan 1970 00:01:41 GMT"),
            "\"e\"",
            100,
            10,
            None,
        );
        assert_eq!(d, RangeDecision::Full);
        let d = evaluate(Some(b"bytes=0-1,3-4"), None, "\"e\"", 100, 10, Some(1));
        assert_eq!(d, RangeDecision::Full);
    }
}
