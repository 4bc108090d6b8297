//! The AFL++ entry point: `proxylab-fuzz-afl TARGET` runs one target of
//! [`proxylab_fuzz::TARGETS`] under `afl-fuzz` (see docs/fuzzing.md).

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = proxylab_fuzz::target(&name) else {
        eprintln!(
            "usage: proxylab-fuzz-afl TARGET; targets: {}",
            proxylab_fuzz::names()
        );
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        (target.run)(data);
    });
}
