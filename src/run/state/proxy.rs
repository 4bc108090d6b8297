//! The proxy process: expanding its config, starting it on the allocated ports, and the
//! proxy faults (kill, restart, pause, resume) of the timeline.

use super::{Event, State, deadline};
use crate::run::child::{Proc, free_port, wait_port};
use crate::run::launch::{self, StartError};
use crate::run::{RunError, os};
use crate::scenario::template;
use crate::scenario::{FaultAction, ProxyKind};
use std::time::{Duration, Instant};

impl State<'_> {
    pub(super) fn write_proxy_config(&mut self, template_text: &str) -> Result<(), String> {
        let text = template::expand(template_text, &self.bindings)?;
        std::fs::write(&self.proxy_conf_path, &text)
            .map_err(|e| format!("{}: {e}", self.proxy_conf_path.display()))?;
        self.proxy_config = text;
        Ok(())
    }

    pub(super) fn start_proxy(&mut self) -> Result<(), RunError> {
        if self.s.proxy.kind == ProxyKind::None {
            return Ok(());
        }
        // A port picked free can be taken by someone else before the proxy binds it: retry
        // with fresh ports when the proxy says so.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_start_proxy() {
                Err(RunError::Start(e)) if attempt < 3 && e.tail.contains("in use") => continue,
                other => return other,
            }
        }
    }

    fn try_start_proxy(&mut self) -> Result<(), RunError> {
        let p = &self.s.proxy;
        self.stopped()?;
        let dir = self.opts.dir.join("proxy");
        let log = self.proxy_log();
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| RunError::Io(format!("{}: {e}", dir.display())))?;
        for l in &p.listeners {
            let port = free_port().map_err(|e| StartError::spawn("proxy", &log, e))?;
            self.bindings.listeners.insert(l.clone(), port);
        }
        self.bindings.dir = dir.clone();
        self.bindings.scenario_dir = self.s.dir.clone();
        self.bindings.proxylab = p.kind == ProxyKind::Proxylab;
        (self.bindings.tls_cert, self.bindings.tls_key) = crate::run::tls::paths(&self.opts.dir);
        self.write_proxy_config(&p.config_text.clone())
            .map_err(|e| StartError {
                component: "proxy".into(),
                reason: format!("config: {e}"),
                log: log.display().to_string(),
                tail: String::new(),
            })?;
        self.proxy = Some(self.spawn_proxy()?);
        Ok(())
    }

    fn proxy_log(&self) -> std::path::PathBuf {
        self.opts.dir.join("logs").join("proxy.log")
    }

    /// Starts the proxy on the config as last written (same ports) and waits until every
    /// listener accepts connections.
    fn spawn_proxy(&self) -> Result<Proc, StartError> {
        let p = &self.s.proxy;
        let log = self.proxy_log();
        let mut cmd = launch::proxy_cmd(
            p.kind,
            &p.binary,
            &self.proxy_conf_path,
            &self.opts.dir.join("proxy"),
            &self.proxy_config,
        );
        if let Some(n) = p.rlimit_nofile {
            os::limit_nofile(&mut cmd, n);
        }
        if let Some(bytes) = p.disk_limit {
            let dir = self.opts.dir.join("proxy").join("limited");
            std::fs::create_dir_all(&dir).map_err(|e| StartError::spawn("proxy", &log, e))?;
            cmd = proxylab_harness::in_limited_dir(cmd, &dir, bytes);
        }
        let mut proc = Proc::spawn("proxy", cmd, &log, &p.cpus)
            .map_err(|e| StartError::spawn("proxy", &log, e))?;
        let dl = deadline(self.s);
        for (name, port) in &self.bindings.listeners {
            if !wait_port(*port, dl, || proc.exited().is_none()) {
                let what = if name.is_empty() {
                    "{{listen}}".to_string()
                } else {
                    format!("{{{{listen.{name}}}}}")
                };
                let err = StartError::from_proc(
                    &mut proc,
                    format!("{what} (port {port}) did not accept connections before the deadline"),
                );
                proc.kill();
                return Err(err);
            }
        }
        Ok(proc)
    }

    /// Starts the proxy again after a kill fault (same ports, the config as last written).
    /// Waits (up to `ready_timeout`) for every process of the old one to be gone first, so
    /// that its listening sockets are closed.
    pub(super) fn restart_proxy(&mut self) -> Result<(), String> {
        if let Some(old) = self.proxy.as_mut() {
            if !self.proxy_down && old.exited().is_none() {
                return Ok(());
            }
            let dl = deadline(self.s);
            let pg = old.pid();
            while (old.exited().is_none() || os::group_alive(pg)) && Instant::now() < dl {
                std::thread::sleep(Duration::from_millis(10));
            }
            if old.exited().is_none() || os::group_alive(pg) {
                return Err("the killed proxy did not exit before the ready timeout".into());
            }
        }
        self.proxy = None;
        let p = self.spawn_proxy().map_err(|e| e.to_string())?;
        self.proxy = Some(p);
        self.proxy_down = false;
        self.proxy_paused = false;
        Ok(())
    }

    /// A fault on the proxy (every action but `reload`, which `apply` handles).
    pub(super) fn apply_proxy(
        &mut self,
        action: &FaultAction,
        at: Duration,
        undo: bool,
    ) -> Result<(), String> {
        let now = self.now();
        let Some(proxy) = self.proxy.as_mut() else {
            return Err("no proxy in this run".into());
        };
        let pid = proxy.pid();
        let running = !self.proxy_down && proxy.exited().is_none();
        match action {
            FaultAction::Kill {
                signal,
                restart_after,
            } => {
                if !running {
                    return Err("not running".into());
                }
                self.proxy_down = true;
                self.proxy_paused = false;
                os::signal_group(pid, libc::SIGCONT);
                os::signal_group(pid, *signal);
                if let Some(d) = restart_after {
                    self.events.push((now.max(at) + *d, Event::RestartProxy));
                }
                Ok(())
            }
            FaultAction::Restart => {
                if running {
                    return Err("already running".into());
                }
                self.restart_proxy()
            }
            FaultAction::Pause | FaultAction::Resume => {
                if !running {
                    return Err("not running".into());
                }
                let stop = matches!(action, FaultAction::Pause) && !undo;
                self.proxy_paused = stop;
                os::signal_group(pid, if stop { libc::SIGSTOP } else { libc::SIGCONT });
                Ok(())
            }
            _ => Err("not applicable to the proxy".into()),
        }
    }
}
