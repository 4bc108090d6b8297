//! A cache key as nginx computes it: the rendered `proxy_cache_key`, its MD5 (the file name,
//! in hex) and its CRC32 (stored in the file header to detect MD5 collisions), and the file's
//! path under the zone's `levels` directories (the last hex digits of the name, from the end).

use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

/// A rendered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key text (written after `KEY: ` in the file).
    pub text: Vec<u8>,
    /// MD5 of the text.
    pub md5: [u8; 16],
    /// CRC32 of the text.
    pub crc32: u32,
}

impl Key {
    /// The key for `text`.
    pub fn new(text: Vec<u8>) -> Key {
        let md5: [u8; 16] = Md5::digest(&text).into();
        let crc32 = crc32fast::hash(&text);
        Key { text, md5, crc32 }
    }

    /// The same key text stored under another MD5 (a Vary variant's secondary file).
    pub fn with_md5(&self, md5: [u8; 16]) -> Key {
        Key {
            text: self.text.clone(),
            md5,
            crc32: self.crc32,
        }
    }

    /// The file name: MD5 in lowercase hex.
    pub fn hex(&self) -> String {
        hex(&self.md5)
    }

    /// The entry's path under `dir` with `levels` (e.g. `1:2` → `dir/c/29/…029c`).
    pub fn path(&self, dir: &Path, levels: &[usize]) -> PathBuf {
        path_of(&self.hex(), dir, levels)
    }
}

/// nginx's variant hash of a response with `Vary: vary` for a request with `headers`: MD5
/// of the main key's MD5, then per named header `name:` + its values (joined by `,`; the
/// Accept-Charset/-Encoding/-Language values split at spaces and commas) + CRLF.
pub fn variant<'h>(
    main: &[u8; 16],
    vary: &[u8],
    headers: impl Iterator<Item = (&'h [u8], &'h [u8])> + Clone,
) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(main);
    let lower = vary.to_ascii_lowercase();
    let names = lower
        .split(|&b| b == b',' || b == b' ')
        .filter(|n| !n.is_empty());
    for name in names {
        md5.update(name);
        md5.update(b":");
        let normalize = matches!(
            name,
            b"accept-charset" | b"accept-encoding" | b"accept-language"
        );
        let mut multiple = false;
        for (_, v) in headers
            .clone()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            let parts: Vec<&[u8]> = if normalize {
                v.split(|&b| b == b',' || b == b' ')
                    .filter(|p| !p.is_empty())
                    .collect()
            } else {
                vec![v]
            };
            for p in parts {
                if multiple {
                    md5.update(b",");
                }
                md5.update(p);
                multiple = true;
            }
        }
        md5.update(b"\r\n");
    }
    md5.finalize().into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// The path of the file named `name` (32 hex digits) under `dir` with `levels`.
pub fn path_of(name: &str, dir: &Path, levels: &[usize]) -> PathBuf {
    let mut p = dir.to_path_buf();
    let mut end = name.len();
    for &n in levels {
        let start = end.saturating_sub(n);
        p.push(&name[start..end]);
        end = start;
    }
    p.push(name);
    p
}

/// The MD5 of a file name (32 hex digits), None for other names.
pub fn parse_hex(name: &str) -> Option<[u8; 16]> {
    if name.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(name.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels_as_nginx() {
        // The example of nginx's proxy_cache_path documentation.
        let dir = Path::new("/data/nginx/cache");
        let name = "b7f54b2df7773722d382f4809d65029c";
        assert_eq!(
            path_of(name, dir, &[1, 2]),
            Path::new("/data/nginx/cache/c/29/b7f54b2df7773722d382f4809d65029c")
        );
        let k = Key::new(b"httplocalhost/".to_vec());
        assert_eq!(parse_hex(&k.hex()), Some(k.md5));
        assert_eq!(k.hex().len(), 32);
        assert_eq!(parse_hex("zz"), None);
    }
}
