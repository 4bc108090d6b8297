//! The run's real services: started first (their addresses go into the upstreams' arguments
//! and environment), sampled, watched and stopped like every component.

use super::{Event, State, deadline};
use crate::run::{RunError, os};
use crate::run::{hold, services};
use crate::scenario::{FaultAction, UpstreamPool};
use std::time::{Duration, Instant};

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
            .map(|(n, s)| {
                let url = match self.service_port(n) {
                    Some(p) => s.url.replace(&format!(":{}/", s.port), &format!(":{p}/")),
                    None => s.url.clone(),
                };
                (n.clone(), url)
            })
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
            if svc.down {
                continue;
            }
            if let Some(st) = svc.proc.exited() {
                return Err(RunError::Died(format!(
                    "service {name} exited unexpectedly ({st})\n--- last lines of logs/{name}.log ---\n{}",
                    svc.proc.log_tail(20)
                )));
            }
        }
        Ok(())
    }

    /// A fault on a service: kill (and restart after a delay), restart, pause, resume.
    pub(super) fn apply_service(
        &mut self,
        name: &str,
        action: &FaultAction,
        at: Duration,
        undo: bool,
    ) -> Result<(), String> {
        if let FaultAction::HoldConnections(n) = action {
            return self.hold(name, *n, undo);
        }
        if let FaultAction::LockTable(table) = action {
            return self.lock(name, table, undo);
        }
        if let FaultAction::SlowQuery(d) = action {
            return self.slow_query(name, *d, undo);
        }
        let now = self.now();
        let Some((_, svc)) = self.services.iter_mut().find(|(n, _)| n == name) else {
            return Err(format!("no service {name}"));
        };
        let pid = svc.proc.pid();
        let running = !svc.down && svc.proc.exited().is_none();
        match action {
            FaultAction::Kill {
                signal,
                restart_after,
            } => {
                if !running {
                    return Err("not running".into());
                }
                svc.down = true;
                os::signal_group(pid, libc::SIGCONT);
                os::signal_group(pid, *signal);
                if let Some(d) = restart_after {
                    let ev = Event::RestartService(name.to_string());
                    self.events.push((now.max(at) + *d, ev));
                }
                Ok(())
            }
            FaultAction::Restart => self.restart_service(name),
            FaultAction::Pause | FaultAction::Resume => {
                if !running {
                    return Err("not running".into());
                }
                let stop = matches!(action, FaultAction::Pause) && !undo;
                os::signal_group(pid, if stop { libc::SIGSTOP } else { libc::SIGCONT });
                Ok(())
            }
            _ => Err(
                "not applicable to a service (kill, restart, pause, resume, hold_connections, lock_table, slow_query)"
                    .into(),
            ),
        }
    }

    /// `hold_connections`: opens `n` idle client connections to service `name` (or, undoing,
    /// closes them). Connections the server refuses make the fault's marker say so.
    fn hold(&mut self, name: &str, n: u32, undo: bool) -> Result<(), String> {
        if undo {
            self.held.retain(|(s, _)| s != name);
            return Ok(());
        }
        let kind = self
            .s
            .services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.kind);
        let port = self
            .services
            .iter()
            .find(|(x, _)| x == name)
            .map(|(_, s)| s.port);
        let (Some(kind), Some(port)) = (kind, port) else {
            return Err(format!("no service {name}"));
        };
        let h = hold::open(kind, port, n, Duration::from_secs(2));
        let got = h.conns.len();
        let refused = h.refused.clone();
        self.held.push((name.to_string(), h));
        match refused {
            None => Ok(()),
            Some(e) => Err(format!(
                "held {got} of {n}; the server refused the rest: {e}"
            )),
        }
    }

    /// `lock_table`: takes `ACCESS EXCLUSIVE` on `table` of service `name` on a connection of
    /// the runner's own (or, undoing, closes that connection: PostgreSQL rolls back and the
    /// queries waiting on the table go on).
    fn lock(&mut self, name: &str, table: &str, undo: bool) -> Result<(), String> {
        if undo {
            self.locks.retain(|(s, t, _)| !(s == name && t == table));
            return Ok(());
        }
        let port = self.own_port(name)?;
        let conn = hold::lock_table(port, table)?;
        self.locks.push((name.to_string(), table.to_string(), conn));
        Ok(())
    }

    /// `slow_query`: one command on a connection of the runner's own that keeps Redis busy
    /// for `d` (or, undoing, closes that connection; the command has ended by then).
    fn slow_query(&mut self, name: &str, d: Duration, undo: bool) -> Result<(), String> {
        if undo {
            self.busy.retain(|(s, _)| s != name);
            return Ok(());
        }
        let port = self.own_port(name)?;
        let conn = hold::slow_command(port, d)?;
        self.busy.push((name.to_string(), conn));
        Ok(())
    }

    /// The port service `name` listens on (not a relay's).
    fn own_port(&self, name: &str) -> Result<u16, String> {
        self.services
            .iter()
            .find(|(x, _)| x == name)
            .map(|(_, s)| s.port)
            .ok_or_else(|| format!("no service {name}"))
    }

    /// Starts a killed service again: same port, same data directory.
    pub(super) fn restart_service(&mut self, name: &str) -> Result<(), String> {
        let Some(spec) = self.s.services.iter().find(|s| s.name == name) else {
            return Err(format!("no service {name}"));
        };
        let dl = deadline(self.s);
        let log = self.opts.dir.join("logs").join(format!("{name}.log"));
        let Some((_, svc)) = self.services.iter_mut().find(|(n, _)| n == name) else {
            return Err(format!("no service {name}"));
        };
        if !svc.down && svc.proc.exited().is_none() {
            return Err("already running".into());
        }
        // The old server (and, for PostgreSQL, its backends) must be gone first.
        let pg = svc.proc.pid();
        svc.proc.kill();
        while os::group_alive(pg) && Instant::now() < dl {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (proc, _) = services::spawn(spec, svc.data.path(), svc.port, &log, dl)
            .map_err(|e| e.to_string())?;
        svc.proc = proc;
        svc.down = false;
        Ok(())
    }
}
