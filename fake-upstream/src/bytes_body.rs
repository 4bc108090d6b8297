//! The deterministic body of `/bytes/{n}` and `body_bytes` routes, and its SHA-256, so that a
//! client can prove that nothing was lost or corrupted on the way.

use sha2::{Digest, Sha256};

/// `n` bytes where byte `i` is `i % 251` (a prime period, so it never aligns with buffer sizes).
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Lower-case hex SHA-256 of `data` (the value of the `x-body-sha256` header).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pattern_and_digest_are_stable() {
        let p = super::pattern(300);
        assert_eq!((p[0], p[250], p[251], p[299]), (0, 250, 0, 48));
        assert_eq!(
            super::sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
