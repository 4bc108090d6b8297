//! The health-check manager: a thread with its own small runtime that follows the live
//! config. When a config generation is activated (the reload broadcast) it aborts the previous
//! generation's checkers and starts one per upstream group that has a `health_check` (in the
//! `upstream` block, or in a location proxying to that group). It sleeps between reloads and
//! exits when the proxy state is dropped.

use super::checker::{self, Check};
use crate::conf::health::HealthParams;
use crate::conf::model::{Handler, Loc};
use crate::live::Live;
use arc_swap::ArcSwap;
use std::sync::Weak;
use tokio::sync::watch;

/// Handle of the running manager thread.
#[derive(Debug)]
pub struct Manager;

impl Manager {
    /// Starts the manager thread following `live`, woken by `reloads` (the generation
    /// broadcast after each reload); it ends once `live` or the broadcast's sender is dropped.
    pub fn spawn(live: Weak<ArcSwap<Live>>, reloads: watch::Receiver<u64>) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("proxylab-health".into())
            .spawn(move || rt.block_on(follow(live, reloads)))?;
        Ok(())
    }
}

async fn follow(live: Weak<ArcSwap<Live>>, mut reloads: watch::Receiver<u64>) {
    let mut generation = 0;
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        let Some(cur) = live.upgrade().map(|l| l.load_full()) else {
            break;
        };
        if cur.generation != generation {
            generation = cur.generation;
            for t in tasks.drain(..) {
                t.abort();
            }
            for c in checks(&cur) {
                tasks.push(tokio::spawn(checker::run(c)));
            }
        }
        drop(cur);
        // The generation is stored before it is broadcast, so a wake always sees it.
        if reloads.changed().await.is_err() {
            break;
        }
    }
    for t in tasks {
        t.abort();
    }
}

/// Every (upstream index, params, host) wanted by the config: upstream-level first, then
/// location-level for groups that have none yet.
fn checks(live: &Live) -> Vec<Check> {
    let http = &live.config.http;
    let mut wanted: Vec<Option<(Vec<String>, String)>> = http
        .upstreams
        .iter()
        .map(|u| u.health_check.clone().map(|a| (a, u.name.clone())))
        .collect();
    let mut visit = |l: &Loc| {
        if let (Some(a), Handler::Proxy(pass)) = (&l.health_check, &l.handler)
            && let Some(slot @ None) = wanted.get_mut(pass.upstream)
        {
            *slot = Some((a.clone(), pass.proxy_host.clone()));
        }
    };
    for s in &http.servers {
        for l in s.locations.all() {
            visit(&l.conf);
        }
    }
    let mut out = Vec::new();
    for (i, w) in wanted.into_iter().enumerate() {
        let (Some((args, host)), Some(rt)) = (w, live.upstreams.get(i)) else {
            continue;
        };
        // Validated when the config was read; a failure here only skips the group.
        let Ok(params) = HealthParams::parse(&args) else {
            continue;
        };
        let rule = params
            .match_name
            .as_ref()
            .and_then(|n| http.matches.iter().find(|m| &m.name == n).cloned());
        out.push(Check {
            groups: rt.groups.clone(),
            params,
            rule,
            host,
            log: live.error_log.clone(),
        });
    }
    out
}
