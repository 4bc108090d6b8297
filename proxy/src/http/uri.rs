//! Request-target handling: split path and args, and nginx's normalization (`%XX` decoding,
//! `.`/`..` resolution, `//` merging) used for location matching and `$uri`.

use std::borrow::Cow;

/// Why a URI was rejected (nginx answers 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUri;

/// Splits a request target into (path, args) at the first `?`.
pub fn split_args(target: &[u8]) -> (&[u8], &[u8]) {
    match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &[]),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalizes a path as nginx's `ngx_http_parse_complex_uri`: decodes `%XX`, merges slashes
/// (when `merge_slashes`), resolves `.` and `..` (`..` above the root is an error), and
/// rejects NUL bytes. A path that needs none of that is returned as it is, without a copy.
pub fn normalize(path: &[u8], merge_slashes: bool) -> Result<Cow<'_, [u8]>, BadUri> {
    if path.first() != Some(&b'/') {
        return Err(BadUri);
    }
    // nginx ends the path at a raw `#` (a fragment sent by the client).
    let path = match path.iter().position(|&b| b == b'#') {
        Some(i) => &path[..i],
        None => path,
    };
    let fast = !path.iter().any(|&b| b == b'%' || b == b'.' || b == 0)
        && (!merge_slashes || !path.windows(2).any(|w| w == b"//"));
    if fast {
        return Ok(Cow::Borrowed(path));
    }
    let mut decoded = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if b == b'%' {
            match (
                path.get(i + 1).and_then(|&c| hex(c)),
                path.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    decoded.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => return Err(BadUri),
            }
        }
        decoded.push(b);
        i += 1;
    }
    if decoded.contains(&0) {
        return Err(BadUri);
    }
    let mut out: Vec<u8> = Vec::with_capacity(decoded.len());
    let trailing_slash_needed = decoded.ends_with(b"/.") || decoded.ends_with(b"/..");
    for seg in decoded.split(|&b| b == b'/').skip(1) {
        match seg {
            b"." => {}
            b".." => {
                if out.is_empty() {
                    return Err(BadUri);
                }
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            b"" if merge_slashes => {}
            _ => {
                out.push(b'/');
                out.extend_from_slice(seg);
            }
        }
    }
    if decoded.ends_with(b"/") || trailing_slash_needed || out.is_empty() {
        out.push(b'/');
    }
    Ok(Cow::Owned(out))
}

/// Percent-escapes a normalized path for sending upstream with nginx's `NGX_ESCAPE_URI`
/// set: control bytes, space, `#`, `%`, `?`, DEL and bytes above 0x7f; everything else
/// (`\\`, `"`, `<`, `{`, ...) goes as it is, as nginx sends it.
pub fn escape_path(path: &[u8], out: &mut Vec<u8>) {
    for &b in path {
        let keep = b > 0x20 && b < 0x7f && !matches!(b, b'#' | b'%' | b'?');
        if keep {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_nginx() {
        assert_eq!(normalize(b"/a/../b//c%20d", true).unwrap(), &b"/b/c d"[..]);
        assert_eq!(normalize(b"/a/./b/", true).unwrap(), &b"/a/b/"[..]);
        assert_eq!(normalize(b"/a/..", true).unwrap(), &b"/"[..]);
        assert_eq!(normalize(b"/..", true), Err(BadUri));
        assert_eq!(normalize(b"/%2e%2e/x", true), Err(BadUri));
        assert_eq!(normalize(b"/x%00", true), Err(BadUri));
        assert_eq!(
            normalize(b"/plain/path", true).unwrap(),
            &b"/plain/path"[..]
        );
        assert!(matches!(
            normalize(b"/plain/path", true),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(split_args(b"/a?x=1?y"), (&b"/a"[..], &b"x=1?y"[..]));
        // Regression (corpus uri/secret-fragment): `/secret#f` is `/secret` to nginx.
        assert_eq!(normalize(b"/secret#f", true).unwrap(), &b"/secret"[..]);
        let mut out = Vec::new();
        escape_path(b"/a\\b c%\xff", &mut out);
        assert_eq!(out, b"/a\\b%20c%25%FF");
    }
}
