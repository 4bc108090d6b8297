//! The run's real services: started first (their addresses go into the upstreams' arguments
//! and environment), sampled, watched and stopped like every component.

use super::{State, deadline};
use crate::run::RunError;
use crate::run::services;
use crate::scenario::UpstreamPool;

impl State<'_> {
    pub(super) fn start_services(&mut self) -> Result<(), RunError> {
        for spec in &self.s.services {
            self.stopped()?;
            let svc = services::start(spec, &self.opts.dir, deadline(self.s))?;
            self.services.push((spec.name.clone(), svc));
        }
        Ok(())
    }

    /// Pool `pi` as it is started: `{{service.NAME.url}}` expanded in its arguments and flags,
    /// one `PROXYLAB_SERVICE_<NAME>_URL` variable per service in its environment.
    pub(super) fn pool_for_start(&self, pi: usize) -> UpstreamPool {
        let mut pool = self.s.upstreams[pi].clone();
        if self.services.is_empty() {
            return pool;
        }
        let urls: Vec<(String, String)> = self
            .services
            .iter()
            .map(|(n, s)| (n.clone(), s.url.clone()))
            .collect();
        for a in pool.args.iter_mut().chain(pool.flags.iter_mut()) {
            *a = services::expand(a, &urls);
        }
        pool.env = urls
            .iter()
            .map(|(n, u)| (services::env_name(n), u.clone()))
            .collect();
        pool
    }

    /// A service that exited by itself stops the run (exit 3).
    pub(super) fn check_services(&mut self) -> Result<(), RunError> {
        for (name, svc) in &mut self.services {
            if let Some(st) = svc.proc.exited() {
                return Err(RunError::Died(format!(
                    "service {name} exited unexpectedly ({st})\n--- last lines of logs/{name}.log ---\n{}",
                    svc.proc.log_tail(20)
                )));
            }
        }
        Ok(())
    }
}
