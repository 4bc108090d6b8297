//! The scenario file loader: any bytes as a scenario file are loaded or refused with an
//! error naming the file (never a panic).

use proxylab::scenario::{Overrides, load};

/// Writes `data` as `scenario.toml` in a private directory and loads it.
pub fn run(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, data).expect("write");
    if let Err(e) = load(&path, &Overrides::default()) {
        assert!(!e.to_string().is_empty());
    }
}
