//! URI normalisation (nginx's complex-URI parsing), `root`/`alias` mapping and the URI
//! extension.
//!
//! Safety: the file path is the document root plus a *normalised* URI: `%XX` decoded (so
//! `%2e%2e%2f` is `../`), `//` merged, `.` and `..` segments resolved; a `..` that would climb
//! above `/` and a NUL byte are errors (nginx answers 400). After normalisation no segment
//! is `..`, so the path cannot leave the root lexically. Symlinks are followed, also to
//! targets outside the root, as nginx does by default (`disable_symlinks off`).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// A request URI nginx would refuse with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Does not start with `/`.
    #[error("URI does not start with \"/\"")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("invalid percent-encoding in URI")]
    BadEscape,
    /// A NUL byte, raw or `%00`.
    #[error("NUL byte in URI")]
    Nul,
    /// `..` above the root.
    #[error("URI climbs above the root")]
    AboveRoot,
}

/// Normalises the path part of a request target (no `?query`) as nginx does before location
/// matching: percent-decoding, slash merging, `.`/`..` resolution.
pub fn normalize_uri(raw: &[u8]) -> Result<Vec<u8>, UriError> {
    if raw.first() != Some(&b'/') {
        return Err(UriError::NotAbsolute);
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(h), Some(l)) = (
                raw.get(i + 1).and_then(|&c| hex(c)),
                raw.get(i + 2).and_then(|&c| hex(c)),
            ) else {
                return Err(UriError::BadEscape);
            };
            decoded.push((h * 16 + l) as u8);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    if decoded.contains(&0) {
        return Err(UriError::Nul);
    }
    let mut segs: Vec<&[u8]> = Vec::new();
    for seg in decoded.split(|&b| b == b'/').skip(1) {
        match seg {
            b"" | b"." => {}
            b".." => {
                segs.pop().ok_or(UriError::AboveRoot)?;
            }
            s => segs.push(s),
        }
    }
    let trailing = decoded.ends_with(b"/") || decoded.ends_with(b"/.") || decoded.ends_with(b"/..");
    let mut out = Vec::with_capacity(decoded.len());
    for s in &segs {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing || out.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

/// Whether `uri` is already normalised (what [`super::serve`] requires): starts with `/`,
/// no NUL, no `.`/`..` segment and no empty segment except a trailing `/`.
pub fn is_normalized(uri: &[u8]) -> bool {
    // one pass: a segment ends at each `/` after the first byte
    let seg_ok = |s: &[u8], last: bool| match s {
        b"" => last,
        b"." | b".." => false,
        _ => true,
    };
    if uri.first() != Some(&b'/') {
        return false;
    }
    let mut start = 1;
    for (i, &b) in uri.iter().enumerate().skip(1) {
        if b == 0 {
            return false;
        }
        if b == b'/' {
            if !seg_ok(&uri[start..i], false) {
                return false;
            }
            start = i + 1;
        }
    }
    seg_ok(&uri[start..], true)
}

/// Where a location's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocRoot {
    /// `root P`: file = P + URI (a trailing `/` of P is dropped, as nginx does).
    Root(PathBuf),
    /// `alias P` in a prefix location named `location`: file = P + (URI minus the prefix).
    Alias {
        /// The alias path.
        path: PathBuf,
        /// The location's prefix (`/static/`).
        location: String,
    },
    /// `alias` in a regex location, captures already substituted: the file path itself.
    AliasRegex(PathBuf),
}

/// nginx's `ngx_http_map_uri_to_path` for a normalised URI (one allocation, of the exact
/// size).
pub fn map_uri_to_path(root: &DocRoot, uri: &[u8]) -> PathBuf {
    map_uri_into(root, uri, PathBuf::new())
}

/// [`map_uri_to_path`] written into `buf` (its old content is dropped, its allocation
/// reused when big enough).
pub(super) fn map_uri_into(root: &DocRoot, uri: &[u8], buf: PathBuf) -> PathBuf {
    let (base, tail): (&[u8], &[u8]) = match root {
        DocRoot::Root(r) => {
            let r = r.as_os_str().as_bytes();
            (r.strip_suffix(b"/").unwrap_or(r), uri)
        }
        DocRoot::Alias { path, location } => (
            path.as_os_str().as_bytes(),
            uri.get(location.len()..).unwrap_or(b""),
        ),
        DocRoot::AliasRegex(path) => (path.as_os_str().as_bytes(), b""),
    };
    let mut p = buf.into_os_string().into_vec();
    p.clear();
    p.reserve_exact(base.len() + tail.len());
    p.extend_from_slice(base);
    p.extend_from_slice(tail);
    PathBuf::from(OsString::from_vec(p))
}

/// nginx's `r->exten`: the bytes after the last `.` of the last path segment.
pub fn exten(uri: &[u8]) -> Option<&[u8]> {
    let seg_start = uri.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let seg = &uri[seg_start..];
    let dot = seg.iter().rposition(|&b| b == b'.')?;
    Some(&seg[dot + 1..])
}

/// nginx's `ngx_escape_uri(…, NGX_ESCAPE_URI)` as used for redirect `Location`s: escapes
/// space, `#`, `%`, `?`, controls and bytes ≥ 0x7f.
pub fn escape_uri(uri: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(uri.len());
    for &b in uri {
        if b <= 0x20 || b >= 0x7f || matches!(b, b'#' | b'%' | b'?') {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn normalization_and_traversal() {
        let n = |s: &str| normalize_uri(s.as_bytes()).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(n("/a//b/./c/../d").unwrap(), "/a/b/d");
        assert_eq!(n("/a/b/").unwrap(), "/a/b/");
        assert_eq!(n("/a/..").unwrap(), "/");
        assert_eq!(n("/%61%2Fb").unwrap(), "/a/b");
        assert_eq!(n("/.."), Err(UriError::AboveRoot));
        assert_eq!(n("/a/../../etc/passwd"), Err(UriError::AboveRoot));
        assert_eq!(n("/%2e%2e/etc/passwd"), Err(UriError::AboveRoot));
        assert_eq!(n("/x/%2E%2E%2F%2e%2e%2fetc"), Err(UriError::AboveRoot));
        assert_eq!(n("/a%00.txt"), Err(UriError::Nul));
        assert_eq!(n("/a%zz"), Err(UriError::BadEscape));
        assert_eq!(n("a"), Err(UriError::NotAbsolute));
        assert!(is_normalized(b"/a/b.txt") && is_normalized(b"/a/") && is_normalized(b"/"));
        assert!(!is_normalized(b"/a/../b") && !is_normalized(b"/a//b") && !is_normalized(b"/./a"));
        for bad in [
            &b"/."[..],
            b"/..",
            b"//",
            b"/a/.",
            b"/a/..",
            b"a/b",
            b"",
            b"/a\0b",
        ] {
            assert!(!is_normalized(bad), "{bad:?}");
        }
        for good in [&b"/a"[..], b"/a/b/", b"/.a", b"/a..b/c", b"/.../x"] {
            assert!(is_normalized(good), "{good:?}");
        }
    }

    /// Without `%`, a URI is normalised exactly when normalising leaves it as it is: all
    /// strings over `/ . a NUL` up to 7 bytes.
    #[test]
    fn is_normalized_agrees_with_normalize_uri() {
        let alphabet = [b'/', b'.', b'a', 0];
        let mut uris: Vec<Vec<u8>> = vec![Vec::new()];
        let mut all = uris.clone();
        for _ in 0..7 {
            uris = uris
                .iter()
                .flat_map(|u| {
                    alphabet.iter().map(move |&c| {
                        let mut v = u.clone();
                        v.push(c);
                        v
                    })
                })
                .collect();
            all.extend(uris.iter().cloned());
        }
        for u in &all {
            let same = normalize_uri(u).is_ok_and(|n| &n == u);
            assert_eq!(is_normalized(u), same, "{:?}", String::from_utf8_lossy(u));
        }
    }

    #[test]
    fn root_and_alias_mapping() {
        let root = DocRoot::Root("/srv/www/".into());
        assert_eq!(
            map_uri_to_path(&root, b"/img/a.png"),
            Path::new("/srv/www/img/a.png")
        );
        let alias = DocRoot::Alias {
            path: "/data/static/".into(),
            location: "/static/".into(),
        };
        assert_eq!(
            map_uri_to_path(&alias, b"/static/css/a.css"),
            Path::new("/data/static/css/a.css")
        );
        // location without trailing slash reaches siblings by concatenation (nginx quirk)
        let alias = DocRoot::Alias {
            path: "/dir".into(),
            location: "/al-noslash".into(),
        };
        assert_eq!(
            map_uri_to_path(&alias, b"/al-noslash/a.txt"),
            Path::new("/dir/a.txt")
        );
        assert_eq!(
            map_uri_to_path(&alias, b"/al-noslasha.txt"),
            Path::new("/dira.txt")
        );
        let re = DocRoot::AliasRegex("/data/img/x.png".into());
        assert_eq!(
            map_uri_to_path(&re, b"/i/x.png"),
            Path::new("/data/img/x.png")
        );
    }

    #[test]
    fn extension() {
        assert_eq!(exten(b"/a/b.txt"), Some(&b"txt"[..]));
        assert_eq!(exten(b"/a.d/b"), None);
        assert_eq!(exten(b"/.htaccess"), Some(&b"htaccess"[..]));
        assert_eq!(escape_uri(b"/a b/%?"), b"/a%20b/%25%3F".to_vec());
    }
}
