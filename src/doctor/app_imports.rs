//! A real Uvicorn app's own Python dependencies: the pool's interpreter imports the app's
//! module (from its `app_dir`, as uvicorn and gunicorn will) and names the first module it
//! cannot find, so that `run` stops with exit 2 and `pip install MODULE` rather than a
//! component that dies at start (`ModuleNotFoundError` in its log).

use crate::scenario::UpstreamPool;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Imports `argv[2]` with `argv[1]` first on the path; prints the missing module's name, and
/// nothing when the import works or fails for another reason (a variable the run sets, a
/// database not started yet: those are not missing programs).
const PROBE: &str = "import sys\nsys.path.insert(0, sys.argv[1])\ntry:\n    \
                     __import__(sys.argv[2])\nexcept ModuleNotFoundError as e:\n    \
                     print(e.name or '')\nexcept BaseException:\n    pass\n";

/// An import that takes longer is left alone (the run will show what it does).
const LIMIT: Duration = Duration::from_secs(60);

/// The first module the app of `pool` (kind = "uvicorn") imports and its Python cannot find
/// (not the app's module itself).
pub fn first_missing(pool: &UpstreamPool) -> Option<String> {
    let module = pool.asgi.as_deref()?.split(':').next()?;
    let mut child = Command::new(&pool.python)
        .args(["-c", PROBE])
        .arg(&pool.app_dir)
        .arg(module)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let name = out.trim();
    // The app's own module not found is a wrong `asgi` or `app_dir`, not a missing program:
    // the run shows it (the upstream does not start, exit 3, its log names the module).
    let own = name == module || module.starts_with(&format!("{name}."));
    (!name.is_empty() && !own).then(|| name.to_string())
}
