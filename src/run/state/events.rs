//! The fault timeline and restarts: signals to instance process groups, the fake upstream's
//! admin API, the proxy's SIGHUP reload with a re-expanded config.

use super::{Event, State, deadline};
use crate::run::launch;
use crate::run::{Marker, fault, os};
use crate::scenario::{FaultAction, FaultTarget};
use std::time::Duration;

impl State<'_> {
    pub(super) fn targets_of(&self, t: &FaultTarget) -> Vec<usize> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, i)| match t {
                FaultTarget::Proxy | FaultTarget::Link(_) | FaultTarget::Service(_) => false,
                FaultTarget::Pool(p) => &self.s.upstreams[i.pool].name == p,
                FaultTarget::Instance(p, n) => &self.s.upstreams[i.pool].name == p && i.index == *n,
            })
            .map(|(k, _)| k)
            .collect()
    }

    pub(super) fn handle(&mut self, ev: Event) {
        let t = self.now().as_secs_f64();
        let (label, result) = match ev {
            Event::Apply(k) | Event::Undo(k) => {
                let undo = matches!(ev, Event::Undo(_));
                let f = self.s.faults[k].clone();
                let label = if undo {
                    format!("end of {}", f.label)
                } else {
                    f.label.clone()
                };
                let r = if matches!(f.target, FaultTarget::Link(_)) {
                    self.apply_link(k, undo)
                } else {
                    self.apply(&f.action, &f.target, f.at, undo)
                };
                (label, r)
            }
            Event::Restart(i) => {
                let name = self.instances[i].name.clone();
                (format!("restart {name}"), self.restart(i))
            }
            Event::RestartProxy => ("restart proxy".to_string(), self.restart_proxy()),
            Event::RestartService(name) => {
                let r = self.restart_service(&name);
                (format!("restart {name}"), r)
            }
        };
        self.markers.push(Marker {
            t,
            label,
            error: result.err(),
        });
    }

    pub(super) fn restart(&mut self, i: usize) -> Result<(), String> {
        let inst = &self.instances[i];
        if inst.proc.is_some() {
            return Ok(());
        }
        let pool = &self.pool_for_start(inst.pool);
        match launch::start_instance(
            pool,
            inst.index,
            inst.ports,
            &self.opts.dir,
            deadline(self.s),
        ) {
            Ok((p, _)) => {
                let inst = &mut self.instances[i];
                inst.proc = Some(p);
                inst.down_on_purpose = false;
                inst.paused = false;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) fn apply(
        &mut self,
        action: &FaultAction,
        target: &FaultTarget,
        at: Duration,
        undo: bool,
    ) -> Result<(), String> {
        if let FaultAction::Reload(conf) = action {
            return self.reload(conf);
        }
        if *target == FaultTarget::Proxy {
            return self.apply_proxy(action, at, undo);
        }
        if let FaultTarget::Service(name) = target {
            return self.apply_service(name, action, at, undo);
        }
        let mut errors = Vec::new();
        for i in self.targets_of(target) {
            if let Err(e) = self.apply_instance(i, action, at, undo) {
                errors.push(format!("{}: {e}", self.instances[i].name));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    pub(super) fn apply_instance(
        &mut self,
        i: usize,
        action: &FaultAction,
        at: Duration,
        undo: bool,
    ) -> Result<(), String> {
        let now = self.now();
        let inst = &mut self.instances[i];
        let pid = inst.proc.as_ref().map(|p| p.pid());
        let admin_port = inst.ports.admin;
        let admin = |path: &str| match admin_port {
            Some(p) => fault::admin(p, path),
            None => Err("no admin API (not a fake upstream)".into()),
        };
        match action {
            FaultAction::Kill {
                signal,
                restart_after,
            } => {
                let pid = pid.ok_or("not running")?;
                inst.down_on_purpose = true;
                os::signal_group(pid, libc::SIGCONT);
                os::signal_group(pid, *signal);
                if let Some(d) = restart_after {
                    self.events.push((now.max(at) + *d, Event::Restart(i)));
                }
                Ok(())
            }
            FaultAction::Restart => {
                if pid.is_some() {
                    return Err("already running".into());
                }
                self.restart(i)
            }
            FaultAction::Pause | FaultAction::Resume => {
                let pid = pid.ok_or("not running")?;
                let stop = matches!(action, FaultAction::Pause) && !undo;
                inst.paused = stop;
                os::signal_group(pid, if stop { libc::SIGSTOP } else { libc::SIGCONT });
                Ok(())
            }
            FaultAction::Unhealthy | FaultAction::Healthy => {
                let bad = matches!(action, FaultAction::Unhealthy) && !undo;
                admin(if bad {
                    "/faults/health?state=unhealthy"
                } else {
                    "/faults/health?state=healthy"
                })
            }
            FaultAction::Latency(f) => admin(&format!(
                "/faults/latency?multiplier={}",
                if undo { 1.0 } else { *f }
            )),
            FaultAction::StopAccepting | FaultAction::ResumeAccepting => {
                let stop = matches!(action, FaultAction::StopAccepting) && !undo;
                admin(if stop {
                    "/faults/accept?state=stop"
                } else {
                    "/faults/accept?state=resume"
                })
            }
            FaultAction::CrashWorker => admin("/faults/crash"),
            FaultAction::CrashWorkers => admin("/faults/crash?worker=all"),
            FaultAction::Reload(_) | FaultAction::Toxic(_) => Ok(()),
            FaultAction::HoldConnections(_) => Err("hold_connections applies to a service".into()),
            FaultAction::SlowQuery(_) => Err("slow_query applies to a service".into()),
            FaultAction::LockTable(table) => admin(&format!(
                "/faults/lock?table={table}&state={}",
                if undo { "off" } else { "on" }
            )),
        }
    }

    pub(super) fn reload(&mut self, conf: &std::path::Path) -> Result<(), String> {
        let Some(pid) = self.proxy.as_ref().map(|p| p.pid()) else {
            return Err("no proxy in this run (proxy kind none): reload skipped".into());
        };
        let text = std::fs::read_to_string(conf).map_err(|e| format!("{}: {e}", conf.display()))?;
        self.reloads += 1;
        let keep = self
            .opts
            .dir
            .join("proxy")
            .join(format!("proxy.conf.{}", self.reloads - 1));
        let _ = std::fs::copy(&self.proxy_conf_path, keep);
        self.write_proxy_config(&text)?;
        os::signal_group(pid, libc::SIGHUP);
        Ok(())
    }
}
