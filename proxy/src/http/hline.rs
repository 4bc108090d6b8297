//! Header lines as nginx 1.22 reads them (`ngx_http_parse_header_line`): a name of letters,
//! digits and `-` (`_` only with `underscores_in_headers`; other visible bytes make the
//! header invalid, and nginx drops invalid headers unless `ignore_invalid_headers off`); a
//! space, a control byte or DEL in the name, a line starting with whitespace (obs-fold) or a
//! `:`, and NUL anywhere are errors (400). The value is everything after the spaces that
//! follow the `:` up to the line ending, without trailing spaces (tabs are kept, as nginx
//! keeps them). Lines end with CRLF or a bare LF; extra CRs before the LF are skipped.

use super::reject::Reject;
use std::ops::Range;

/// One header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name.
    pub name: Range<usize>,
    /// The value (may be empty).
    pub value: Range<usize>,
    /// Whether nginx counts the name as invalid (dropped under `ignore_invalid_headers`).
    pub invalid: bool,
}

/// What starts at a position of the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A header line, and the index after its line ending.
    Field(Field, usize),
    /// The empty line ending the head, and the index after it.
    End(usize),
}

fn name_char(c: u8, underscores: bool) -> Option<bool> {
    match c {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => Some(true),
        b'_' => Some(underscores),
        0..=0x20 | 0x7f | b':' => None,
        _ => Some(false),
    }
}

/// Parses the line at `buf[at..]`. `Ok(None)`: not complete (and not invalid so far);
/// `Err(Reject::HeaderLine)`: nginx's "client sent invalid header line", naming the byte
/// its parser stopped at (for a bad line ending, the end of the name or value before it).
pub fn parse(buf: &[u8], at: usize, underscores: bool) -> Result<Option<Next>, Reject> {
    let get = |i: usize| buf.get(i).copied();
    match get(at) {
        None => return Ok(None),
        Some(b'\n') => return Ok(Some(Next::End(at + 1))),
        Some(b'\r') => {
            return match get(at + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some(Next::End(at + 2))),
                Some(_) => Err(bad(at, at)),
            };
        }
        _ => {}
    }
    let mut i = at;
    let mut invalid = false;
    let name_end = loop {
        let Some(c) = get(i) else {
            return Ok(None);
        };
        if c == b':' && i > at {
            break i;
        }
        if matches!(c, b'\r' | b'\n') && i > at {
            // A name without a colon: a header with an empty value.
            return line_end(buf, i, bad(at, i)).map(|e| {
                e.map(|end| {
                    Next::Field(
                        Field {
                            name: at..i,
                            value: i..i,
                            invalid,
                        },
                        end,
                    )
                })
            });
        }
        match name_char(c, underscores) {
            Some(valid) => invalid |= !valid,
            None => return Err(bad(at, i)),
        }
        i += 1;
    };
    i = name_end + 1;
    while get(i) == Some(b' ') {
        i += 1;
    }
    let vstart = i;
    let mut vend = i;
    loop {
        match get(i) {
            None => return Ok(None),
            Some(0) => return Err(bad(at, i)),
            Some(b'\r' | b'\n') => break,
            Some(b' ') => {}
            Some(_) => vend = i + 1,
        }
        i += 1;
    }
    let value = vstart..vend.max(vstart);
    line_end(buf, i, bad(at, value.end)).map(|e| {
        e.map(|end| {
            Next::Field(
                Field {
                    name: at..name_end,
                    value,
                    invalid,
                },
                end,
            )
        })
    })
}

/// The index after the line ending at `i` (CR* LF); `bad` when something else follows.
fn line_end(buf: &[u8], mut i: usize, bad: Reject) -> Result<Option<usize>, Reject> {
    while buf.get(i) == Some(&b'\r') {
        i += 1;
    }
    match buf.get(i) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(i + 1)),
        Some(_) => Err(bad),
    }
}

/// The refusal of the line starting at `start`, its parser stopped at `stop`.
fn bad(start: usize, stop: usize) -> Reject {
    Reject::HeaderLine { start, stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(s: &[u8]) -> (String, String, bool) {
        match parse(s, 0, false) {
            Ok(Some(Next::Field(f, _))) => (
                String::from_utf8_lossy(&s[f.name]).into_owned(),
                String::from_utf8_lossy(&s[f.value]).into_owned(),
                f.invalid,
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nginx_header_lines() {
        assert_eq!(
            field(b"X-A:  a b  \r\n"),
            ("X-A".into(), "a b".into(), false)
        );
        assert_eq!(field(b"X-A:\ta\t\n"), ("X-A".into(), "\ta\t".into(), false));
        assert!(field(b"X.A: 1\r\n").2);
        assert!(field(b"X_A: 1\r\n").2);
        assert_eq!(field(b"X-A: 1\r\r\n").1, "1");
        assert_eq!(field(b"X-A\r\n"), ("X-A".into(), String::new(), false));
        assert_eq!(field(b"X-A: a\x01\x7f\r\n").1, "a\x01\x7f");
        // nginx names the byte it stopped at (for a bad line ending, the end of the value)
        for (bad, stop) in [
            (&b" X: 1\r\n"[..], 0),
            (b"\tX: 1\r\n", 0),
            (b": x\r\n", 0),
            (b"X A: 1\r\n", 1),
            (b"X : 1\r\n", 1),
            (b"X: a\0\r\n", 4),
            (b"X: a\rb\r\n", 4),
            (b"X: a  \rb\r\n", 4),
            (b"X\0: 1\r\n", 1),
            (b"\rX", 0),
        ] {
            let want = Err(Reject::HeaderLine { start: 0, stop });
            assert_eq!(parse(bad, 0, false), want, "{bad:?}");
        }
        assert_eq!(parse(b"\r\n", 0, false), Ok(Some(Next::End(2))));
        assert_eq!(parse(b"X-A: 1", 0, false), Ok(None));
        assert_eq!(parse(b"X-A: 1\r", 0, false), Ok(None));
    }
}
