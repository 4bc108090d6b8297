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
    // The variables cargo sets for a running test describe the test's own package. A build
    // script that depends on one (ring's on CARGO_MANIFEST_DIR) would see it differ between
    // the outer `cargo test` and this build, and each would rebuild ring and every crate
    // above it (rustls, the proxy, the binary): 30-60 s per test binary, both ways.
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str().filter(|k| set_for_tests(k)) {
            cmd.env_remove(k);
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

/// An environment variable cargo sets for the test process (not the user's settings).
fn set_for_tests(k: &str) -> bool {
    k.starts_with("CARGO_PKG_")
        || k.starts_with("CARGO_BIN_EXE_")
        || matches!(
            k,
            "OUT_DIR"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_variables_cargo_sets_for_tests_are_dropped() {
        for k in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_proxylab",
            "OUT_DIR",
        ] {
            assert!(super::set_for_tests(k), "{k}");
        }
        for k in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_TERM_COLOR",
            "PATH",
        ] {
            assert!(!super::set_for_tests(k), "{k}");
        }
    }
}
