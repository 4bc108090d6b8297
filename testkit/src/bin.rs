//! Locating (and building, once per test process) the `proxylab` binary, so that any crate's
//! tests can start any component as a real process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path to an up-to-date `proxylab` binary of the same profile as the running test.
///
/// `PROXYLAB_BIN` overrides it. Otherwise it runs `cargo build --bin proxylab` (with
/// `--release` when the test itself is a release build) once per test process; cargo releases
/// its lock while tests run, so the nested build works and is a no-op when nothing changed.
pub fn proxylab_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build).clone()
}

fn build() -> PathBuf {
    if let Some(p) = std::env::var_os("PROXYLAB_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test-binary>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the workspace")
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "-q", "-p", "proxylab", "--bin", "proxylab"]);
    // The variables cargo sets for the running test: `ring`'s build script reruns when
    // CARGO_MANIFEST_DIR changes, so passing them on rebuilt ring and relinked everything
    // above it whenever the value differed from the last build's (each package's tests, and
    // every `cargo test` run after a nested build).
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let per_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| k.starts_with(p));
        if per_test || k == "CARGO_PRIMARY_PACKAGE" || k == "CARGO_TARGET_TMPDIR" {
            cmd.env_remove(&key);
        }
    }
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .expect("run cargo build for the proxylab binary");
    assert!(status.success(), "cargo build --bin proxylab failed");
    let bin = profile_dir.join("proxylab");
    assert!(
        bin.exists(),
        "built proxylab binary not found at {}",
        bin.display()
    );
    bin
}
