//! Static findings from the config model, each with the deployed file:line, the probe that can
//! show it and, where there is a standard remedy, the exact change (docs/audit.md lists them).

mod cache;
mod headers;
mod limits;
mod paths;
mod tls;
mod upstream;

use super::finding::Finding;
use super::model::{Loc, Model};
use super::rewrite::Patch;
use super::source::Node;
use std::time::Duration;

pub use paths::{PathVerdict, regex_paths};

/// What the checks assume about the world outside the file.
#[derive(Debug, Clone, Copy)]
pub struct Assumptions {
    /// The upstream's idle keep-alive timeout (Uvicorn's `--timeout-keep-alive`, 5 s).
    pub upstream_keepalive: Duration,
    /// The open-file limit nginx's workers get (`ulimit -n` here).
    pub nofile: u64,
}

/// Runs every check.
pub fn run(m: &Model<'_>, a: &Assumptions) -> Vec<Finding> {
    let mut v = Vec::new();
    headers::check(m, &mut v);
    upstream::check(m, a, &mut v);
    limits::check(m, a, &mut v);
    paths::check(m, &mut v);
    cache::check(m, &mut v);
    tls::check(m, &mut v);
    // One finding per check and line.
    let mut seen = std::collections::HashSet::new();
    v.retain(|f| seen.insert(f.id.clone()));
    v
}

/// Lowercased first arguments.
fn names(nodes: &[&Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n.arg0().to_ascii_lowercase())
        .collect()
}

/// Locations whose proxy_pass names upstream block `u`.
fn proxying_to<'m, 'a>(m: &'m Model<'a>, u: &Node) -> Vec<&'m Loc<'a>> {
    m.locs
        .iter()
        .filter(|l| m.upstream_of(l).is_some_and(|x| x.at() == u.at()))
        .collect()
}

/// A patch adding `lines` at the start of the block at `at`.
fn add(at: String, lines: Vec<String>) -> Patch {
    Patch {
        block: at,
        add: lines,
        replace: Vec::new(),
    }
}

/// The lines of directives as written, each ending in `;`.
fn written(nodes: &[&Node]) -> Vec<String> {
    nodes.iter().map(|n| format!("{};", n.text())).collect()
}
