//! An in-path TCP relay that degrades links on command ("toxics", after toxiproxy): latency
//! and jitter, bandwidth, slow close, black hole, reset, slicing, a data limit and a link that
//! is down. The scenario runner starts it as its own process (`proxylab relay`), opens one
//! listening port per link (`loadgen->proxy`, `proxy->api.0`, …) and adds or removes toxics
//! through a line-JSON control channel on loopback ([`control`], [`client`]).
//!
//! A link with no toxic copies bytes with one read and one write per chunk; toxics are looked
//! up once per chunk, so an idle relay costs a task switch and a copy per segment.

pub mod cli;
pub mod client;
mod conn;
pub mod control;
pub mod kernel;
mod link;
mod pump;
pub mod state;
pub mod toxic;

pub use toxic::{Direction, Toxic, ToxicSpec};
