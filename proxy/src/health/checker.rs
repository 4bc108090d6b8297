//! The checker of one upstream group: every `interval` it probes all peers at once and
//! applies nginx Plus's rule — `fails` consecutive failed probes take a peer out
//! (`set_unhealthy(peer, true)`), `passes` consecutive good ones bring it back.

use super::probe::{ProbeOutcome, probe};
use crate::balance::{PeerAddr, PeerId, Upstream};
use crate::conf::health::{HealthParams, MatchBlock};
use crate::conf::model::LogLevel;
use crate::logs::ErrorLog;
use std::sync::Arc;

/// What a checker needs: the group, the rule, where to log.
pub struct Check {
    /// The upstream group whose peers are probed: every worker's copy (one with `zone`);
    /// a peer's health is set in all of them.
    pub groups: Vec<Arc<Upstream>>,
    /// `health_check` parameters.
    pub params: HealthParams,
    /// The `match` block named by `match=`, if any.
    pub rule: Option<Arc<MatchBlock>>,
    /// Host header of the probes (the proxied server name, `$proxy_host`).
    pub host: String,
    /// Error log for state changes.
    pub log: Arc<ErrorLog>,
}

impl Check {
    fn set_unhealthy(&self, id: PeerId, unhealthy: bool) {
        for g in &self.groups {
            g.set_unhealthy(id, unhealthy);
        }
    }

    fn name(&self) -> &str {
        self.groups.first().map_or("", |g| g.name())
    }
}

struct PeerState {
    id: PeerId,
    addr: std::net::SocketAddr,
    name: String,
    fails: u32,
    passes: u32,
    unhealthy: bool,
}

/// Runs until aborted (the manager aborts it when a reload replaces the config).
pub async fn run(c: Check) {
    let Some(first) = c.groups.first() else {
        return;
    };
    let mut peers: Vec<PeerState> = first
        .peers()
        .into_iter()
        .filter_map(|(id, a)| match a {
            PeerAddr::Inet(mut addr) => {
                let name = addr.to_string();
                if let Some(p) = c.params.port {
                    addr.set_port(p);
                }
                Some(PeerState {
                    id,
                    addr,
                    name,
                    fails: 0,
                    passes: 0,
                    unhealthy: c.params.mandatory,
                })
            }
            PeerAddr::Unix(_) => None,
        })
        .collect();
    for p in &peers {
        if p.unhealthy {
            c.set_unhealthy(p.id, true);
        }
    }
    let timeout = c.params.interval.max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval(c.params.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rule = c.rule.as_deref();
        let outcomes = futures_util::future::join_all(
            peers
                .iter()
                .map(|p| probe(p.addr, &c.host, &c.params.uri, rule, timeout)),
        )
        .await;
        for (p, o) in peers.iter_mut().zip(outcomes) {
            apply(&c, p, &o);
        }
    }
}

fn apply(c: &Check, p: &mut PeerState, o: &ProbeOutcome) {
    if o.ok() {
        p.fails = 0;
        p.passes = p.passes.saturating_add(1);
        if p.unhealthy && p.passes >= c.params.passes {
            p.unhealthy = false;
            c.set_unhealthy(p.id, false);
            c.log.log(
                LogLevel::Notice,
                &format!(
                    "peer is healthy while checking health of upstream \"{}\", peer: {}",
                    c.name(),
                    p.name
                ),
            );
        }
    } else {
        p.passes = 0;
        p.fails = p.fails.saturating_add(1);
        if !p.unhealthy && p.fails >= c.params.fails {
            p.unhealthy = true;
            c.set_unhealthy(p.id, true);
            let why = match o {
                ProbeOutcome::Mismatch(s) => format!("status {s}"),
                ProbeOutcome::Failed(e) => e.clone(),
                ProbeOutcome::Healthy(_) => String::new(),
            };
            c.log.log(
                LogLevel::Warn,
                &format!(
                    "peer is unhealthy ({why}) while checking health of upstream \"{}\", peer: {}",
                    c.name(),
                    p.name
                ),
            );
        }
    }
}
