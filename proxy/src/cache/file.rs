//! Cache files in nginx's layout (`ngx_http_file_cache_header_t` of a 64-bit build, version
//! 5): a fixed binary header, `\nKEY: ` + the key + `\n`, the upstream's response head as it
//! was received, then the (decoded) body. A file that is too small, of another version, of
//! another key (CRC32 or key text), or with a header longer than the limit is refused, as
//! nginx refuses it (the request is then a miss and the file is replaced).

use super::key::Key;
use std::io::Write;
use std::path::Path;

/// `NGX_HTTP_CACHE_VERSION`.
pub const VERSION: u64 = 5;
/// Size of the binary header (x86-64: 8 × 6 + 4 + 2 × 3 + 1 + 128 + 1 + 128 + 16, padded).
pub const HEADER_LEN: usize = 336;
/// `\nKEY: `.
const KEY_MARK: &[u8] = b"\nKEY: ";
/// `NGX_HTTP_CACHE_ETAG_LEN` and `NGX_HTTP_CACHE_VARY_LEN`.
pub const ETAG_MAX: usize = 128;
/// `NGX_HTTP_CACHE_VARY_LEN`.
pub const VARY_MAX: usize = 128;

/// The header fields a request reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Fresh until (Unix seconds).
    pub valid_sec: i64,
    /// `stale-while-revalidate` seconds.
    pub updating_sec: i64,
    /// `stale-if-error` seconds.
    pub error_sec: i64,
    /// Last-Modified (Unix seconds; -1 when none).
    pub last_modified: i64,
    /// When stored (Unix seconds).
    pub date: i64,
    /// ETag of a 200/206 response (at most 128 bytes).
    pub etag: Vec<u8>,
    /// The upstream's Vary value (at most 128 bytes).
    pub vary: Vec<u8>,
    /// MD5 of the request headers named by Vary.
    pub variant: [u8; 16],
}

/// Why a file was refused (nginx's error-log wording after `cache file "PATH" `).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Shorter than its header.
    TooSmall,
    /// Another `NGX_HTTP_CACHE_VERSION`.
    Version,
    /// Another key.
    Collision,
    /// Header offsets out of range.
    TooLongHeader,
    /// Vary longer than 128 bytes.
    VaryLength,
}

impl Refused {
    /// nginx's words.
    pub fn words(self) -> &'static str {
        match self {
            Refused::TooSmall => "is too small",
            Refused::Version => "version mismatch",
            Refused::Collision => "has md5 collision",
            Refused::TooLongHeader => "has too long header",
            Refused::VaryLength => "has incorrect vary length",
        }
    }
}

/// A file read back: its metadata, the upstream head and the body.
#[derive(Debug)]
pub struct Entry {
    /// Header fields.
    pub meta: Meta,
    /// The upstream response head (status line and headers, ending with an empty line).
    pub head: Vec<u8>,
    /// The body.
    pub body: Vec<u8>,
}

/// Where the upstream head starts for `key` (`header_start`).
pub fn header_start(key: &Key) -> usize {
    HEADER_LEN + KEY_MARK.len() + key.text.len() + 1
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Encodes the binary header, the key line and the head (the body follows).
pub fn encode(key: &Key, meta: &Meta, head: &[u8]) -> Vec<u8> {
    let hs = header_start(key);
    let body_start = hs + head.len();
    let mut b = vec![0u8; HEADER_LEN];
    b[0..8].copy_from_slice(&VERSION.to_le_bytes());
    for (i, v) in [
        meta.valid_sec,
        meta.updating_sec,
        meta.error_sec,
        meta.last_modified,
        meta.date,
    ]
    .iter()
    .enumerate()
    {
        b[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    b[48..52].copy_from_slice(&key.crc32.to_le_bytes());
    // valid_msec (52) stays 0; offsets are u_short as in nginx.
    b[54..56].copy_from_slice(&(hs.min(0xffff) as u16).to_le_bytes());
    b[56..58].copy_from_slice(&(body_start.min(0xffff) as u16).to_le_bytes());
    let etag = &meta.etag[..meta.etag.len().min(ETAG_MAX)];
    b[58] = etag.len() as u8;
    b[59..59 + etag.len()].copy_from_slice(etag);
    let vary = &meta.vary[..meta.vary.len().min(VARY_MAX)];
    b[187] = vary.len() as u8;
    b[188..188 + vary.len()].copy_from_slice(vary);
    b[316..332].copy_from_slice(&meta.variant);
    b.extend_from_slice(KEY_MARK);
    b.extend_from_slice(&key.text);
    b.push(b'\n');
    b.extend_from_slice(head);
    b
}

/// Decodes a whole file for `key`.
pub fn decode(key: &Key, mut file: Vec<u8>) -> Result<Entry, Refused> {
    let hs = header_start(key);
    if file.len() < hs {
        return Err(Refused::TooSmall);
    }
    if i64_at(&file, 0) as u64 != VERSION {
        return Err(Refused::Version);
    }
    let crc = u32::from_le_bytes([file[48], file[49], file[50], file[51]]);
    if crc != key.crc32 || u16_at(&file, 54) != hs {
        return Err(Refused::Collision);
    }
    if &file[HEADER_LEN..HEADER_LEN + KEY_MARK.len()] != KEY_MARK
        || file[HEADER_LEN + KEY_MARK.len()..hs - 1] != key.text[..]
    {
        return Err(Refused::Collision);
    }
    let body_start = u16_at(&file, 56);
    if body_start < hs || body_start > file.len() {
        return Err(Refused::TooLongHeader);
    }
    let vary_len = usize::from(file[187]);
    let etag_len = usize::from(file[58]).min(ETAG_MAX);
    let mut variant = [0u8; 16];
    variant.copy_from_slice(&file[316..332]);
    let meta = Meta {
        valid_sec: i64_at(&file, 8),
        updating_sec: i64_at(&file, 16),
        error_sec: i64_at(&file, 24),
        last_modified: i64_at(&file, 32),
        date: i64_at(&file, 40),
        etag: file[59..59 + etag_len].to_vec(),
        vary: file[188..188 + vary_len.min(VARY_MAX)].to_vec(),
        variant,
    };
    if vary_len > VARY_MAX {
        return Err(Refused::VaryLength);
    }
    let body = file.split_off(body_start);
    let head = file.split_off(hs);
    Ok(Entry { meta, head, body })
}

/// Rewrites the header fields of an existing file in place (nginx's
/// `ngx_http_file_cache_update_header`, after a revalidation).
pub fn update_meta(path: &Path, key: &Key, meta: &Meta) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut head = encode(key, meta, b"");
    head.truncate(54);
    f.write_all_at(&head[8..48], 8)
}

/// Writes a complete file through a temporary name, then renames it into place (creating the
/// level directories). The temporary file is in `temp_dir` (`use_temp_path=on`: the
/// location's `proxy_temp_path`) or else in the file's own directory; when the rename crosses
/// file systems it is written again there, as nginx copies it. Returns the file's size.
pub fn store(
    path: &Path,
    temp_dir: Option<&Path>,
    prefix: &[u8],
    body: &[u8],
) -> std::io::Result<u64> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let size = (prefix.len() + body.len()) as u64;
    for at in temp_dir.into_iter().chain([dir]) {
        std::fs::create_dir_all(at)?;
        let mut tmp = tempfile::NamedTempFile::new_in(at)?;
        tmp.write_all(prefix)?;
        tmp.write_all(body)?;
        match tmp.persist(path) {
            Ok(_) => return Ok(size),
            Err(e) if at != dir && e.error.raw_os_error() == Some(libc::EXDEV) => {}
            Err(e) => return Err(e.error),
        }
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = Key::new(b"http127.0.0.1:9/a".to_vec());
        let meta = Meta {
            valid_sec: 1_700_000_000,
            last_modified: -1,
            date: 1_699_999_999,
            etag: b"\"x\"".to_vec(),
            ..Meta::default()
        };
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".to_vec();
        let mut file = encode(&key, &meta, &head);
        assert_eq!(file.len(), header_start(&key) + head.len());
        file.extend_from_slice(b"hi");
        let e = decode(&key, file.clone()).expect("decodes");
        assert_eq!((e.meta, e.head, e.body), (meta, head, b"hi".to_vec()));
        let other = Key::new(b"http127.0.0.1:9/b".to_vec());
        assert_eq!(decode(&other, file.clone()).err(), Some(Refused::Collision));
        assert_eq!(
            decode(&key, file[..100].to_vec()).err(),
            Some(Refused::TooSmall)
        );
        let mut bad = file.clone();
        bad[0] = 4;
        assert_eq!(decode(&key, bad).err(), Some(Refused::Version));
        let mut bad = file;
        bad[56] = 0xff;
        bad[57] = 0xff;
        assert_eq!(decode(&key, bad).err(), Some(Refused::TooLongHeader));
    }
}
