//! What every worker thread shares for a run: the plan, the clock origin, per-population
//! endpoints, request mixes, connectors and request budgets.

use crate::plan::{Behaviour, ConnectionPolicy, Load, Plan, PlanError, Population, Protocol};
use crate::request::{Body, Mix};
use crate::transport::{Connector, Endpoint, resolve};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Setup failed (name resolution, TLS files, threads).
    #[error("{0}")]
    Setup(String),
}

/// Per-population shared state.
#[derive(Debug)]
pub struct PopShared {
    /// The population as planned.
    pub pop: Population,
    /// Resolved targets.
    pub endpoints: Vec<Endpoint>,
    /// Prepared request mix.
    pub mix: Mix,
    /// Connector (TLS / ALPN settings for this population).
    pub connector: Connector,
    /// HTTP/2 for normal requests.
    pub h2: bool,
    /// When it starts and stops dispatching.
    pub start: Instant,
    /// See `start`.
    pub end: Instant,
    budget: Option<AtomicU64>,
}

/// Run-wide shared state.
#[derive(Debug)]
pub struct Shared {
    /// The plan.
    pub plan: Plan,
    /// Clock origin of the run (second 0 of the series).
    pub t0: Instant,
    /// Hard end of the run.
    pub run_end: Instant,
    /// Worker threads.
    pub threads: usize,
    /// Populations, in plan order.
    pub pops: Vec<PopShared>,
    budget: Option<AtomicU64>,
}

impl Shared {
    /// Validates and prepares `plan`; the run's clock starts `lead` from now.
    pub fn new(plan: &Plan, lead: Duration) -> Result<Shared, EngineError> {
        plan.validate()?;
        let t0 = Instant::now() + lead;
        let threads = if plan.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            plan.threads
        };
        let mut pops = Vec::new();
        for p in &plan.populations {
            let endpoints =
                resolve(plan.targets_of(p), plan.tls.sni.as_deref()).map_err(EngineError::Setup)?;
            let body = match p.behaviour {
                Behaviour::LargeUpload { bytes } => Some(Body::pattern(bytes)),
                _ => None,
            };
            let mix = Mix::prepare(p, &endpoints, body)?;
            let h1_only = p.behaviour.needs_h1() || plan.protocol == Protocol::H1;
            let connector = Connector::new(plan, h1_only).map_err(EngineError::Setup)?;
            pops.push(PopShared {
                pop: p.clone(),
                endpoints,
                mix,
                connector,
                h2: !h1_only,
                start: t0 + p.start.get(),
                end: t0 + plan.end_of(p),
                budget: p.max_requests.map(AtomicU64::new),
            });
        }
        Ok(Shared {
            plan: plan.clone(),
            t0,
            run_end: t0 + plan.duration.get(),
            threads: threads.max(1),
            pops,
            budget: plan.max_requests.map(AtomicU64::new),
        })
    }

    /// Takes one request from the population's and the run's budgets; false when exhausted.
    pub fn take_budget(&self, pop: usize) -> bool {
        let take = |b: &Option<AtomicU64>| match b {
            None => true,
            Some(a) => a
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                .is_ok(),
        };
        take(&self.pops[pop].budget) && take(&self.budget)
    }
}

impl PopShared {
    /// Per-thread connection cap (open loop `max_connections` split over threads).
    pub fn conn_cap(&self, thread: usize, threads: usize) -> Option<usize> {
        match &self.pop.load {
            Load::Open {
                max_connections: Some(c),
                ..
            } => {
                let c = *c as usize;
                Some((c / threads + usize::from(thread < c % threads)).max(1))
            }
            _ => None,
        }
    }

    /// Requests per connection before the client closes it, and whether to send `close`.
    pub fn per_conn_limit(&self) -> (Option<u64>, bool) {
        match self.pop.connection {
            ConnectionPolicy::KeepAlive { max_requests } => (max_requests, false),
            ConnectionPolicy::PerRequest {} => (Some(1), true),
        }
    }
}
