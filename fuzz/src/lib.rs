//! Fuzz targets for every parser that reads outside input: each takes arbitrary bytes, must
//! never panic, and checks an invariant beyond "no panic" (a round trip, or two ways of
//! reading agreeing). `src/bin/afl.rs` runs one under AFL++; `tests/seeds.rs` replays each
//! target's seed corpus (`fuzz/seeds/TARGET/`) under plain `cargo test`.

pub mod conf;
pub mod h2head;
pub mod http1;
pub mod limit_req;
pub mod peers;
pub mod scenario;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name (the seed directory and the AFL argument).
    pub name: &'static str,
    /// What it reads.
    pub about: &'static str,
    /// Runs one input; panics when an invariant breaks.
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "conf",
        about: "nginx.conf lexer, parser and -t checks; parse, print, parse again",
        run: conf::run,
    },
    Target {
        name: "request_head",
        about: "HTTP/1.1 request head parser; reparse of what is forwarded",
        run: http1::request_head,
    },
    Target {
        name: "chunked",
        about: "chunked decoder; byte-at-a-time equals all-at-once; encode round trip",
        run: http1::chunked,
    },
    Target {
        name: "h2_head",
        about: "HTTP/2 head assembly; the unparsed fast path equals parsing",
        run: h2head::run,
    },
    Target {
        name: "upstream_response",
        about: "upstream response head parser; prefixes are incomplete",
        run: peers::upstream_response,
    },
    Target {
        name: "limit_req",
        about: "limit_req zone and slab operations from an op list",
        run: limit_req::run,
    },
    Target {
        name: "scenario",
        about: "scenario file loader",
        run: scenario::run,
    },
    Target {
        name: "loadgen_response",
        about: "the load generator's HTTP/1.1 response reader",
        run: peers::loadgen_response,
    },
    Target {
        name: "upstream_request",
        about: "the fake upstream's request head and body parser",
        run: peers::fake_upstream_request,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The target names, comma-separated.
pub fn names() -> String {
    TARGETS
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}
