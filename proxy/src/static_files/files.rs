//! Open files kept per worker thread between requests, revalidated on every use. nginx
//! (without `open_file_cache`, its default) opens, `fstat`s and closes the file for every
//! request; here a file answered recently stays open, and the next request for the same path
//! `stat`s the path instead (one syscall instead of `open` + `fstat` + `close`) and reuses the
//! open file only when the path still names the same file (device and inode) with the same
//! owner, permissions and change time. What the client sees is what a fresh `open` gives:
//! the size and mtime come from that fresh `stat`, the bytes are read from the same inode
//! (so a file rewritten in place is read as it is now), a file replaced (rename) or removed
//! is opened again or answered 404, and a `chmod`/`chown` (which changes the change time)
//! goes through `open` again, so its 403 comes from `open` as in nginx.

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files kept open per thread (the least recently used one is closed when a new one comes).
const KEPT: usize = 16;

/// A file not asked for in this long is closed at the next lookup (so that a removed file's
/// space is not held for long).
const IDLE: Duration = Duration::from_secs(10);

/// What must not have changed for the open file to stand for the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    ctime: i64,
    ctime_nsec: i64,
}

impl Identity {
    fn of(m: &Metadata) -> Identity {
        Identity {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            ctime: m.ctime(),
            ctime_nsec: m.ctime_nsec(),
        }
    }
}

struct Entry {
    path: Vec<u8>,
    file: Arc<File>,
    id: Identity,
    used: Instant,
}

thread_local! {
    static FILES: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// The open file for `path` with the path's fresh metadata, when this thread keeps it open
/// and a `stat` of the path shows the same regular file unchanged (owner, permissions,
/// change time). `None` (one `stat` spent, or none when the path is not kept): open it.
pub(super) fn reuse(path: &Path) -> Option<(Arc<File>, Metadata)> {
    let key = path.as_os_str().as_bytes();
    let now = crate::logs::time::now_mono();
    FILES.with(|f| {
        let mut f = f.borrow_mut();
        f.retain(|e| now.saturating_duration_since(e.used) < IDLE);
        let pos = f.iter().position(|e| e.path == key)?;
        let e = &mut f[pos];
        match std::fs::metadata(path).ok() {
            Some(m) if m.is_file() && Identity::of(&m) == e.id => {
                e.used = now;
                Some((e.file.clone(), m))
            }
            _ => {
                f.swap_remove(pos);
                None
            }
        }
    })
}

/// Keeps `file` (just opened at `path`, a regular file with metadata `meta` from `fstat`)
/// open for later requests.
pub(super) fn keep(path: &Path, file: &Arc<File>, meta: &Metadata) {
    let key = path.as_os_str().as_bytes();
    let _ = FILES.try_with(|f| {
        let Ok(mut f) = f.try_borrow_mut() else {
            return;
        };
        let entry = Entry {
            path: key.to_vec(),
            file: file.clone(),
            id: Identity::of(meta),
            used: crate::logs::time::now_mono(),
        };
        if let Some(e) = f.iter_mut().find(|e| e.path == key) {
            *e = entry;
        } else if f.len() < KEPT {
            f.push(entry);
        } else if let Some(oldest) = f.iter_mut().min_by_key(|e| e.used) {
            *oldest = entry;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn open_kept(path: &Path) -> Arc<File> {
        let f = Arc::new(File::open(path).unwrap());
        keep(path, &f, &f.metadata().unwrap());
        f
    }

    #[test]
    fn reused_only_while_the_path_names_the_same_unchanged_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"one").unwrap();
        assert!(reuse(&p).is_none(), "not kept yet");
        let f = open_kept(&p);
        let (g, m) = reuse(&p).expect("kept and unchanged");
        assert!(Arc::ptr_eq(&f, &g));
        assert_eq!(m.len(), 3);

        // rewritten in place: the same inode, read as it is now (size from the fresh stat)
        std::fs::write(&p, b"three").unwrap();
        if let Some((g, m)) = reuse(&p) {
            assert_eq!(m.len(), 5);
            let mut buf = [0u8; 5];
            std::os::unix::fs::FileExt::read_exact_at(&*g, &mut buf, 0).unwrap();
            assert_eq!(&buf, b"three");
        }

        // replaced by another file: opened again
        let f = open_kept(&p);
        let q = dir.path().join("b.txt");
        std::fs::write(&q, b"other").unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert!(reuse(&p).is_none(), "another inode");
        drop(f);

        // permissions changed: opened again
        open_kept(&p);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(reuse(&p).is_none(), "chmod");

        // removed: not reused
        open_kept(&p);
        std::fs::remove_file(&p).unwrap();
        assert!(reuse(&p).is_none(), "removed");
    }

    #[test]
    fn keeps_at_most_kept_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..KEPT + 4)
            .map(|i| {
                let p = dir.path().join(format!("{i}.txt"));
                std::fs::write(&p, b"x").unwrap();
                open_kept(&p);
                p
            })
            .collect();
        let kept = paths.iter().filter(|p| reuse(p).is_some()).count();
        assert_eq!(kept, KEPT);
        assert!(reuse(&paths[KEPT + 3]).is_some(), "the newest is kept");
        FILES.with(|f| assert!(f.borrow().len() <= KEPT));
    }
}
