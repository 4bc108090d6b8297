//! The relay on the links that `link:` faults name. It starts after the upstreams: links
//! towards a pool take the place of its instances' addresses in the proxy config
//! (`{{upstream.POOL}}`). The clients' link opens once the proxy listens and takes the place
//! of the proxy's ports in the loadgen's targets. Links towards a service open before the
//! upstreams start: the URL the apps get names the relay. Faults add a toxic to every relayed link of
//! their hop and remove it after `for`.

use super::{State, deadline};
use crate::run::RunError;
use crate::run::child::Proc;
use crate::run::launch::{self, StartError};
use crate::scenario::{FaultAction, FaultTarget, Hop, LoadTarget};
use proxylab_relay::client::{Client, parse_ready};
use std::net::SocketAddr;

/// Where a relayed link leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LinkEnd {
    /// Instance `index` of pool `pool` (by name).
    Instance(String, u32),
    /// A port the loadgen would otherwise hit directly (a proxy listener, or with proxy
    /// `none` an instance).
    Client(u16),
    /// A `[[service]]` (by name) the apps reach through the relay.
    Service(String),
}

/// One link opened on the relay.
#[derive(Debug, Clone)]
pub(super) struct RelayLink {
    name: String,
    end: LinkEnd,
    port: u16,
}

/// The relay process and its links.
pub(super) struct Relay {
    pub proc: Proc,
    client: Client,
    links: Vec<RelayLink>,
}

impl State<'_> {
    fn hops(&self) -> Vec<&Hop> {
        self.s
            .faults
            .iter()
            .filter_map(|f| match &f.target {
                FaultTarget::Link(h) => Some(h),
                _ => None,
            })
            .collect()
    }

    fn spawn_relay(&mut self) -> Result<&mut Relay, RunError> {
        if self.relay.is_none() {
            let log = self.opts.dir.join("logs").join("relay.log");
            let mut cmd = std::process::Command::new(launch::self_exe());
            cmd.arg("relay").args(["--seed", &self.s.seed.to_string()]);
            let mut p = Proc::spawn("relay", cmd, &log, &[])
                .map_err(|e| StartError::spawn("relay", &log, e))?;
            let line = p
                .wait_line(deadline(self.s), |l| parse_ready(l).is_some())
                .ok_or_else(|| {
                    StartError::from_proc(&mut p, "no ready line before the deadline")
                })?;
            let port = parse_ready(&line).unwrap_or_default();
            self.relay = Some(Relay {
                proc: p,
                client: Client::new(port),
                links: Vec::new(),
            });
        }
        Ok(self.relay.as_mut().expect("just set"))
    }

    fn open_link(&mut self, name: String, end: LinkEnd, backend: u16) -> Result<u16, RunError> {
        let relay = self.spawn_relay()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], backend));
        let port = relay.client.listen(&name, addr).map_err(|e| StartError {
            component: "relay".into(),
            reason: format!("link {name}: {e}"),
            log: relay.proc.log.display().to_string(),
            tail: relay.proc.log_tail(20),
        })?;
        relay.links.push(RelayLink { name, end, port });
        Ok(port)
    }

    /// Relays `proxy->POOL[.I]` links: the proxy config then names the relay's ports.
    pub(super) fn start_pool_links(&mut self) -> Result<(), RunError> {
        let wanted: Vec<(String, u32, u16)> = self
            .instances
            .iter()
            .filter_map(|i| {
                let pool = &self.s.upstreams[i.pool].name;
                let hit = self.hops().into_iter().any(|h| match h {
                    Hop::ProxyPool(p) => p == pool,
                    Hop::ProxyInstance(p, n) => p == pool && *n == i.index,
                    Hop::ClientProxy | Hop::AppsService(_) => false,
                });
                hit.then(|| (pool.clone(), i.index, i.ports.port))
            })
            .collect();
        for (pool, index, backend) in wanted {
            let name = format!("proxy->{pool}.{index}");
            let port = self.open_link(name, LinkEnd::Instance(pool.clone(), index), backend)?;
            if let Some(a) = self
                .bindings
                .pools
                .get_mut(&pool)
                .and_then(|v| v.get_mut(index as usize))
            {
                *a = SocketAddr::from(([127, 0, 0, 1], port));
            }
        }
        Ok(())
    }

    /// Relays `loadgen->proxy`: every port the populations aimed at the proxy would hit.
    pub(super) fn start_client_links(&mut self) -> Result<(), RunError> {
        if !self.hops().contains(&&Hop::ClientProxy) {
            return Ok(());
        }
        let mut ports: Vec<u16> = Vec::new();
        for l in &self.s.loads {
            if let LoadTarget::Proxy(_) = &l.target {
                for p in self.direct_ports(&l.target) {
                    if !ports.contains(&p) {
                        ports.push(p);
                    }
                }
            }
        }
        let one = ports.len() == 1;
        for backend in ports {
            let name = if one {
                "loadgen->proxy".to_string()
            } else {
                format!("loadgen->proxy:{backend}")
            };
            self.open_link(name, LinkEnd::Client(backend), backend)?;
        }
        Ok(())
    }

    /// Relays `apps->SERVICE`: the URL every upstream gets then names the relay's port.
    pub(super) fn start_service_links(&mut self) -> Result<(), RunError> {
        let wanted: Vec<(String, u16)> = self
            .services
            .iter()
            .filter(|(n, _)| {
                self.hops()
                    .into_iter()
                    .any(|h| matches!(h, Hop::AppsService(s) if s == n))
            })
            .map(|(n, svc)| (n.clone(), svc.port))
            .collect();
        for (name, port) in wanted {
            self.open_link(format!("apps->{name}"), LinkEnd::Service(name), port)?;
        }
        Ok(())
    }

    /// The relay's port for service `name`, when its link is relayed.
    pub(super) fn service_port(&self, name: &str) -> Option<u16> {
        self.relay.as_ref().and_then(|r| {
            r.links
                .iter()
                .find(|l| l.end == LinkEnd::Service(name.to_string()))
                .map(|l| l.port)
        })
    }

    /// The port the loadgen uses for `port`: the relay's when the link is relayed.
    pub(super) fn client_port(&self, port: u16) -> u16 {
        self.relay
            .as_ref()
            .and_then(|r| r.links.iter().find(|l| l.end == LinkEnd::Client(port)))
            .map_or(port, |l| l.port)
    }

    /// Adds (or, undoing, removes) fault `k`'s toxic on every link of its hop.
    pub(super) fn apply_link(&mut self, k: usize, undo: bool) -> Result<(), String> {
        let f = &self.s.faults[k];
        let (FaultTarget::Link(hop), FaultAction::Toxic(spec)) = (&f.target, &f.action) else {
            return Err("not a link fault".into());
        };
        let Some(relay) = &self.relay else {
            return Err("no relay in this run".into());
        };
        let mut errors = Vec::new();
        let mut n = 0;
        for l in &relay.links {
            let on = match (hop, &l.end) {
                (Hop::ClientProxy, LinkEnd::Client(_)) => true,
                (Hop::ProxyPool(p), LinkEnd::Instance(q, _)) => p == q,
                (Hop::ProxyInstance(p, i), LinkEnd::Instance(q, j)) => p == q && i == j,
                (Hop::AppsService(s), LinkEnd::Service(t)) => s == t,
                _ => false,
            };
            if !on {
                continue;
            }
            n += 1;
            let r = if undo {
                relay.client.remove(&l.name, k as u64)
            } else {
                relay.client.add(&l.name, k as u64, spec)
            };
            if let Err(e) = r {
                errors.push(format!("{}: {e}", l.name));
            }
        }
        match (n, errors.is_empty()) {
            (0, _) => Err(format!("no relayed link for {hop}")),
            (_, true) => Ok(()),
            _ => Err(errors.join("; ")),
        }
    }
}
