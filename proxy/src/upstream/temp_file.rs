//! Temporary files as nginx makes them (`ngx_create_temp_file`): one counter for the whole
//! process (`ngx_temp_number`: the first file is `0000000001`), the name hashed into the
//! path's levels (`client_body_temp_path`, `proxy_temp_path`), mode 0600, level directories
//! made on demand (0700), and the name unlinked at once unless the file must be kept; and
//! nginx's writes to them (`pwrite()` looping on short writes, `pwritev()` failing on one),
//! with the `[crit]` texts nginx logs when they fail.

use crate::conf::body::TempPath;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The temp-file counter (nginx's `ngx_temp_number`, shared by request bodies and responses).
static NEXT_TEMP: AtomicU32 = AtomicU32::new(0);

/// Creates a temp file under `tp`; `keep` = leave the name in place, else unlink it at once.
/// Err: nginx's crit text (`open() "PATH" failed (ERRNO: TEXT)`).
pub fn create(tp: &TempPath, keep: bool) -> Result<(std::fs::File, PathBuf), String> {
    let mut n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let mut made_dirs = false;
    for _ in 0..64 {
        let path = tp.file(n);
        let r = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match r {
            Ok(f) => {
                if !keep {
                    let _ = std::fs::remove_file(&path);
                }
                return Ok((f, path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !made_dirs => {
                made_dirs = true;
                if let Some(parent) = path.parent() {
                    let _ = std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(parent);
                }
            }
            Err(e) => {
                return Err(format!(
                    "open() \"{}\" failed ({})",
                    path.display(),
                    crate::logs::os_error(&e)
                ));
            }
        }
    }
    Err(format!(
        "open() \"{}\" failed (17: File exists)",
        tp.file(n).display()
    ))
}

/// How nginx writes a piece to a temp file: `pwrite()` for one buffer (short writes are
/// continued), `pwritev()` for several (a short write is an error of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// One buffer.
    Pwrite,
    /// Several buffers in one call.
    Pwritev,
}

/// Writes `data` at `offset` as nginx's `ngx_write_file` (`Pwrite`) or `ngx_writev_file`
/// (`Pwritev`) does. Err: nginx's crit text naming `path`.
pub fn write_at(
    file: &std::fs::File,
    path: &std::path::Path,
    call: Call,
    data: &[u8],
    offset: u64,
) -> Result<(), String> {
    let mut done = 0usize;
    while done < data.len() {
        let n = file
            .write_at(&data[done..], offset + done as u64)
            .map_err(|e| {
                let name = if call == Call::Pwrite {
                    "pwrite"
                } else {
                    "pwritev"
                };
                format!(
                    "{name}() \"{}\" failed ({})",
                    path.display(),
                    crate::logs::os_error(&e)
                )
            })?;
        if call == Call::Pwritev && n != data.len() {
            return Err(format!(
                "pwritev() \"{}\" has written only {n} of {}",
                path.display(),
                data.len()
            ));
        }
        if n == 0 {
            // (a regular file does not do this; stop rather than loop)
            return Err(format!(
                "pwrite() \"{}\" has written only {done} of {}",
                path.display(),
                data.len()
            ));
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_numbered_hashed_and_unlinked_unless_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args: Vec<String> = [
            dir.path().join("t").to_string_lossy().into_owned(),
            "1".into(),
        ]
        .into_iter()
        .collect();
        let tp = TempPath::parse(&args, std::path::Path::new("/")).expect("path");
        let (_f, gone) = create(&tp, false).expect("create");
        assert!(!gone.exists(), "{gone:?}");
        let (_k, kept) = create(&tp, true).expect("create kept");
        assert!(kept.exists(), "{kept:?}");
        let name = kept.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(name.len(), 10);
        let level = kept.parent().and_then(|p| p.file_name()).expect("level");
        assert_eq!(level.to_str(), Some(&name[9..]));
    }

    #[test]
    fn a_full_device_gives_nginx_texts() {
        let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let p = std::path::Path::new("/dev/full");
        let e = write_at(&full, p, Call::Pwritev, b"abc", 0).expect_err("full");
        assert_eq!(
            e,
            "pwritev() \"/dev/full\" failed (28: No space left on device)"
        );
        let e = write_at(&full, p, Call::Pwrite, b"abc", 0).expect_err("full");
        assert!(e.starts_with("pwrite() \"/dev/full\" failed (28:"), "{e}");
    }
}
