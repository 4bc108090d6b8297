//! The live state of a run: component processes, the event queue of faults and restarts, the
//! sampling clock and the main loop that ties them together.

use super::child::{Proc, free_port, wait_port};
use super::launch::{self, InstancePorts, StartError};
use super::procstat::ProcStat;
use super::{Marker, RunError, RunOptions, Sample, Samples, fault, os, probe};
use crate::results::loadgen_out::SeriesTail;
use crate::scenario::template::{self, Bindings};
use crate::scenario::{
    FaultAction, FaultTarget, LoadTarget, ProxyKind, Scenario, UpstreamKind, population,
};
use proxylab_loadgen::plan::{self, Dur, Plan};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(super) struct Instance {
    pool: usize,
    index: u32,
    name: String,
    ports: InstancePorts,
    proc: Option<Proc>,
    /// We stopped it on purpose (kill fault): its exit is expected.
    down_on_purpose: bool,
    paused: bool,
}

#[derive(Debug, Clone)]
enum Event {
    Apply(usize),
    Undo(usize),
    Restart(usize),
}

pub(super) struct State<'a> {
    s: &'a Scenario,
    opts: &'a RunOptions,
    instances: Vec<Instance>,
    proxy: Option<Proc>,
    loadgen: Option<Proc>,
    bindings: Bindings,
    proxy_conf_path: PathBuf,
    pub proxy_config: String,
    pub samples: Samples,
    pub markers: Vec<Marker>,
    events: Vec<(Duration, Event)>,
    t0: Option<Instant>,
    procstat: ProcStat,
    reloads: u32,
    created: Instant,
    /// Time from creation to the loadgen's start.
    pub startup: Duration,
    /// Time 0 follows the loadgen's own clock origin (read from its hlog header).
    aligned: bool,
    /// Wall-clock time of time 0.
    t0_wall: Option<std::time::SystemTime>,
}

/// The loadgen's clock origin: the `#[StartTime: SECONDS` header of its interval log.
fn hlog_origin(path: &std::path::Path) -> Option<std::time::SystemTime> {
    use std::io::Read;
    let mut head = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1024)
        .read_to_string(&mut head)
        .ok()?;
    let rest = &head[head.find("#[StartTime: ")? + 13..];
    let secs: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

fn deadline(s: &Scenario) -> Instant {
    Instant::now() + s.ready_timeout
}

impl<'a> State<'a> {
    pub fn new(s: &'a Scenario, opts: &'a RunOptions) -> Self {
        State {
            s,
            opts,
            instances: Vec::new(),
            proxy: None,
            loadgen: None,
            bindings: Bindings::default(),
            proxy_conf_path: opts.dir.join("proxy").join("proxy.conf"),
            proxy_config: String::new(),
            samples: Samples::default(),
            markers: Vec::new(),
            events: Vec::new(),
            t0: None,
            procstat: ProcStat::default(),
            reloads: 0,
            created: Instant::now(),
            startup: Duration::ZERO,
            aligned: false,
            t0_wall: None,
        }
    }

    fn stopped(&self) -> Result<(), RunError> {
        if self.opts.stop.load(Ordering::SeqCst) {
            Err(RunError::Interrupted)
        } else {
            Ok(())
        }
    }

    pub fn component_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.instances.iter().map(|i| i.name.clone()).collect();
        if self.s.proxy.kind != ProxyKind::None {
            v.push("proxy".into());
        }
        v.push("loadgen".into());
        v
    }

    pub fn run_all(&mut self) -> Result<(), RunError> {
        self.start_upstreams()?;
        self.start_proxy()?;
        self.start_loadgen()?;
        self.main_loop()
    }

    fn start_upstreams(&mut self) -> Result<(), RunError> {
        for (pi, pool) in self.s.upstreams.iter().enumerate() {
            let mut addrs = Vec::new();
            for index in 0..pool.instances {
                self.stopped()?;
                let (p, ports) = launch::start_instance(
                    pool,
                    index,
                    InstancePorts::default(),
                    &self.opts.dir,
                    deadline(self.s),
                )?;
                addrs.push(SocketAddr::from(([127, 0, 0, 1], ports.port)));
                self.instances.push(Instance {
                    pool: pi,
                    index,
                    name: p.name.clone(),
                    ports,
                    proc: Some(p),
                    down_on_purpose: false,
                    paused: false,
                });
            }
            self.bindings.pools.insert(pool.name.clone(), addrs);
        }
        Ok(())
    }

    fn write_proxy_config(&mut self, template_text: &str) -> Result<(), String> {
        let text = template::expand(template_text, &self.bindings)?;
        std::fs::write(&self.proxy_conf_path, &text)
            .map_err(|e| format!("{}: {e}", self.proxy_conf_path.display()))?;
        self.proxy_config = text;
        Ok(())
    }

    fn start_proxy(&mut self) -> Result<(), RunError> {
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
        let log = self.opts.dir.join("logs").join("proxy.log");
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| RunError::Io(format!("{}: {e}", dir.display())))?;
        for l in &p.listeners {
            let port = free_port().map_err(|e| StartError::spawn("proxy", &log, e))?;
            self.bindings.listeners.insert(l.clone(), port);
        }
        self.bindings.dir = dir.clone();
        self.bindings.scenario_dir = self.s.dir.clone();
        self.write_proxy_config(&p.config_text.clone())
            .map_err(|e| StartError {
                component: "proxy".into(),
                reason: format!("config: {e}"),
                log: log.display().to_string(),
                tail: String::new(),
            })?;
        let cmd = launch::proxy_cmd(
            p.kind,
            &p.binary,
            &self.proxy_conf_path,
            &dir,
            &self.proxy_config,
        );
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
                return Err(err.into());
            }
        }
        self.proxy = Some(proc);
        Ok(())
    }

    fn targets(&self, t: &LoadTarget, scheme: &str) -> Vec<String> {
        let ports: Vec<u16> = match t {
            LoadTarget::Proxy(l) if self.s.proxy.kind != ProxyKind::None => self
                .bindings
                .listeners
                .get(l)
                .copied()
                .into_iter()
                .collect(),
            LoadTarget::Proxy(_) => self
                .instances
                .iter()
                .filter(|i| i.pool == 0)
                .map(|i| i.ports.port)
                .collect(),
            LoadTarget::Pool(name) => {
                let pi = self
                    .s
                    .upstreams
                    .iter()
                    .position(|p| &p.name == name)
                    .unwrap_or(usize::MAX);
                self.instances
                    .iter()
                    .filter(|i| i.pool == pi)
                    .map(|i| i.ports.port)
                    .collect()
            }
        };
        ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect()
    }

    fn start_loadgen(&mut self) -> Result<(), RunError> {
        self.stopped()?;
        let s = self.s;
        let (summary, series, hlog) = super::loadgen_paths(&self.opts.dir);
        let populations = s
            .loads
            .iter()
            .map(|l| {
                let ws = l.behaviour.is_websocket();
                let scheme = match (ws, l.tls) {
                    (false, false) => "http",
                    (false, true) => "https",
                    (true, false) => "ws",
                    (true, true) => "wss",
                };
                population(l, Some(self.targets(&l.target, scheme)))
            })
            .collect();
        let plan = Plan {
            targets: Vec::new(),
            protocol: s.loadgen.protocol,
            tls: s.loadgen.tls.clone(),
            duration: Dur::from(s.duration),
            max_requests: None,
            connect_timeout: s.loadgen.connect_timeout.map_or(Dur::secs(5), Dur::from),
            request_timeout: s.loadgen.request_timeout.map_or(Dur::secs(30), Dur::from),
            threads: s.loadgen.threads,
            seed: s.seed,
            output: plan::Output {
                summary_json: Some(summary),
                series_csv: Some(series),
                hlog: Some(hlog),
            },
            populations,
        };
        let log = self.opts.dir.join("logs").join("loadgen.log");
        let plan_path = self.opts.dir.join("plan.toml");
        let text = plan.to_toml_string().map_err(|e| {
            StartError::spawn("loadgen", &log, std::io::Error::other(e.to_string()))
        })?;
        std::fs::write(&plan_path, text)
            .map_err(|e| RunError::Io(format!("{}: {e}", plan_path.display())))?;
        let mut cmd = std::process::Command::new(launch::self_exe());
        cmd.arg("loadgen").arg("--plan").arg(&plan_path);
        let p = Proc::spawn("loadgen", cmd, &log, &s.loadgen.cpus)
            .map_err(|e| StartError::spawn("loadgen", &log, e))?;
        self.t0 = Some(Instant::now());
        self.t0_wall = Some(std::time::SystemTime::now());
        self.startup = self.created.elapsed();
        self.loadgen = Some(p);
        for (i, f) in s.faults.iter().enumerate() {
            self.events.push((f.at, Event::Apply(i)));
            if let Some(u) = f.undo_after {
                self.events.push((f.at + u, Event::Undo(i)));
            }
        }
        Ok(())
    }

    fn now(&self) -> Duration {
        self.t0.map_or(Duration::ZERO, |t| t.elapsed())
    }

    fn main_loop(&mut self) -> Result<(), RunError> {
        let s = self.s;
        let hard_end = s.duration
            + s.loadgen
                .request_timeout
                .unwrap_or(Duration::from_secs(30))
                .min(Duration::from_secs(30))
            + Duration::from_secs(10);
        let mut next_sample = Duration::ZERO;
        let bar = super::super::progress::Bar::new(self.opts.progress, s.duration);
        let mut tail = SeriesTail::default();
        let series_path = super::loadgen_paths(&self.opts.dir).1;
        loop {
            self.stopped()?;
            self.align_clock();
            let now = self.now();
            // Due events, in time order.
            self.events.sort_by_key(|(t, _)| *t);
            while self.events.first().is_some_and(|(t, _)| *t <= now) {
                let (_, ev) = self.events.remove(0);
                self.handle(ev);
            }
            if now >= next_sample {
                self.sample(now);
                next_sample += s.sample_interval;
                bar.update(now, &tail.poll(&series_path), self.samples.rows.last());
            }
            self.check_deaths(now)?;
            let lg = self.loadgen.as_mut().map(|p| p.exited());
            if let Some(Some(status)) = lg {
                bar.finish();
                self.sample(self.now());
                if !status.success() {
                    let p = self
                        .loadgen
                        .as_ref()
                        .map(|p| p.log_tail(20))
                        .unwrap_or_default();
                    return Err(RunError::Died(format!(
                        "loadgen exited with {status}\n--- last lines of logs/loadgen.log ---\n{p}"
                    )));
                }
                return Ok(());
            }
            if now > hard_end {
                bar.finish();
                return Err(RunError::Died(format!(
                    "loadgen still running {:.0} s after the scenario's end; stopped",
                    (now - s.duration).as_secs_f64()
                )));
            }
            let until_sample = next_sample.saturating_sub(self.now());
            std::thread::sleep(until_sample.min(Duration::from_millis(50)));
        }
    }

    /// Moves time 0 to the loadgen's clock origin once its interval log names it, so that
    /// faults, samples and phases line up with the loadgen's seconds (the process starts a few
    /// milliseconds after it is spawned). Gives up after 2 s.
    fn align_clock(&mut self) {
        let Some(t0) = self.t0 else { return };
        if self.aligned {
            return;
        }
        if t0.elapsed() > Duration::from_secs(2) {
            self.aligned = true;
            return;
        }
        let Some(origin) = hlog_origin(&super::loadgen_paths(&self.opts.dir).2) else {
            return;
        };
        let now_wall = std::time::SystemTime::now();
        let now = Instant::now();
        let new_t0 = match origin.duration_since(now_wall) {
            Ok(ahead) => now + ahead,
            Err(e) => now.checked_sub(e.duration()).unwrap_or(t0),
        };
        let shift = if new_t0 >= t0 {
            (new_t0 - t0).as_secs_f64()
        } else {
            -(t0 - new_t0).as_secs_f64()
        };
        if shift.abs() < 1.0 {
            for r in &mut self.samples.rows {
                r.t -= shift;
            }
            self.t0 = Some(new_t0);
            self.t0_wall = Some(origin);
        }
        self.aligned = true;
    }

    /// After the run: re-expresses marker and sample times on the loadgen's clock (its hlog
    /// names its origin; the loadgen may write that header only at the end).
    pub fn align_records(&mut self) {
        let (Some(origin), Some(t0_wall)) = (
            hlog_origin(&super::loadgen_paths(&self.opts.dir).2),
            self.t0_wall,
        ) else {
            return;
        };
        let shift = match origin.duration_since(t0_wall) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        if shift.abs() < 1e-4 || shift.abs() > 1.0 {
            return;
        }
        for r in &mut self.samples.rows {
            r.t -= shift;
        }
        for m in &mut self.markers {
            m.t -= shift;
        }
        self.t0_wall = Some(origin);
    }

    fn check_deaths(&mut self, now: Duration) -> Result<(), RunError> {
        if let Some(p) = self.proxy.as_mut()
            && let Some(st) = p.exited()
        {
            return Err(RunError::Died(format!(
                "the proxy exited unexpectedly ({st})\n--- last lines of logs/proxy.log ---\n{}",
                p.log_tail(20)
            )));
        }
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            let Some(p) = inst.proc.as_mut() else {
                continue;
            };
            let Some(st) = p.exited() else { continue };
            let tail = p.log_tail(20);
            inst.proc = None;
            if inst.down_on_purpose {
                continue;
            }
            let pool = &self.s.upstreams[inst.pool];
            let name = inst.name.clone();
            self.markers.push(Marker {
                t: now.as_secs_f64(),
                label: format!("{name} exited"),
                error: None,
            });
            if let Some(d) = pool.restart_sec {
                self.events.push((now + d, Event::Restart(i)));
            } else if !pool.may_exit {
                return Err(RunError::Died(format!(
                    "upstream {name} died unexpectedly ({st})\n--- last lines of logs/{name}.log ---\n{tail}"
                )));
            }
        }
        Ok(())
    }

    fn targets_of(&self, t: &FaultTarget) -> Vec<usize> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, i)| match t {
                FaultTarget::Proxy => false,
                FaultTarget::Pool(p) => &self.s.upstreams[i.pool].name == p,
                FaultTarget::Instance(p, n) => &self.s.upstreams[i.pool].name == p && i.index == *n,
            })
            .map(|(k, _)| k)
            .collect()
    }

    fn handle(&mut self, ev: Event) {
        let t = self.now().as_secs_f64();
        let (label, result) = match ev {
            Event::Apply(k) => {
                let f = self.s.faults[k].clone();
                (
                    f.label.clone(),
                    self.apply(&f.action, &f.target, f.at, false),
                )
            }
            Event::Undo(k) => {
                let f = self.s.faults[k].clone();
                (
                    format!("end of {}", f.label),
                    self.apply(&f.action, &f.target, f.at, true),
                )
            }
            Event::Restart(i) => {
                let name = self.instances[i].name.clone();
                (format!("restart {name}"), self.restart(i))
            }
        };
        self.markers.push(Marker {
            t,
            label,
            error: result.err(),
        });
    }

    fn restart(&mut self, i: usize) -> Result<(), String> {
        let inst = &self.instances[i];
        if inst.proc.is_some() {
            return Ok(());
        }
        let pool = &self.s.upstreams[inst.pool];
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

    fn apply(
        &mut self,
        action: &FaultAction,
        target: &FaultTarget,
        at: Duration,
        undo: bool,
    ) -> Result<(), String> {
        if let FaultAction::Reload(conf) = action {
            return self.reload(conf);
        }
        let proxy_pid = self.proxy.as_ref().map(|p| p.pid());
        if *target == FaultTarget::Proxy {
            let Some(pid) = proxy_pid else {
                return Err("no proxy in this run".into());
            };
            let sig = match (action, undo) {
                (FaultAction::Pause, false) => libc::SIGSTOP,
                (FaultAction::Pause, true) | (FaultAction::Resume, _) => libc::SIGCONT,
                _ => return Err("not applicable to the proxy".into()),
            };
            os::signal_group(pid, sig);
            return Ok(());
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

    fn apply_instance(
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
            FaultAction::Reload(_) => Ok(()),
        }
    }

    fn reload(&mut self, conf: &std::path::Path) -> Result<(), String> {
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

    fn sample(&mut self, now: Duration) {
        let mut groups: Vec<(String, u32)> = Vec::new();
        if let Some(p) = &self.proxy {
            groups.push(("proxy".into(), p.pid()));
        }
        if let Some(p) = &self.loadgen {
            groups.push(("loadgen".into(), p.pid()));
        }
        for i in &self.instances {
            if let Some(p) = &i.proc {
                groups.push((i.name.clone(), p.pid()));
            }
        }
        let pg: Vec<u32> = groups.iter().map(|(_, p)| *p).collect();
        let stats = self.procstat.sample(&pg);
        let mut v = BTreeMap::new();
        if let Some((cpu, rss)) = self.procstat.own_usage() {
            v.insert("cpu.runner".to_string(), cpu.unwrap_or(0.0));
            v.insert("rss.runner".to_string(), rss);
        }
        for (name, pid) in &groups {
            if let Some(g) = stats.get(pid) {
                v.insert(format!("cpu.{name}"), g.cpu_pct);
                v.insert(format!("rss.{name}"), g.rss_mib);
                v.insert(format!("procs.{name}"), f64::from(g.procs));
            }
        }
        // Pool totals.
        for pool in &self.s.upstreams {
            let pre = format!("{}.", pool.name);
            let (mut c, mut r) = (0.0, 0.0);
            for (k, x) in v.clone() {
                if let Some(rest) = k.strip_prefix("cpu.").and_then(|k| k.strip_prefix(&pre))
                    && rest.parse::<u32>().is_ok()
                {
                    c += x;
                } else if let Some(rest) = k.strip_prefix("rss.").and_then(|k| k.strip_prefix(&pre))
                    && rest.parse::<u32>().is_ok()
                {
                    r += x;
                }
            }
            v.insert(format!("cpu.{}", pool.name), c);
            v.insert(format!("rss.{}", pool.name), r);
        }
        // Proxy status page.
        if let (Some(path), Some(port)) = (
            &self.s.proxy.status_path,
            self.bindings.listeners.get(&self.s.proxy.status_listener),
        ) && self.proxy.is_some()
            && let Ok((200, body)) = probe::request(
                SocketAddr::from(([127, 0, 0, 1], *port)),
                "GET",
                path,
                Duration::from_millis(300),
            )
        {
            for (k, x) in probe::parse_stub_status(&body) {
                v.insert(format!("proxy.{k}"), x);
            }
        }
        // Fake upstream counters.
        let mut pool_tot: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for i in &self.instances {
            let (Some(port), Some(_), false) = (i.ports.admin, &i.proc, i.paused) else {
                continue;
            };
            if self.s.upstreams[i.pool].kind != UpstreamKind::Fake {
                continue;
            }
            let Ok((200, body)) = probe::request(
                SocketAddr::from(([127, 0, 0, 1], port)),
                "GET",
                "/counters",
                Duration::from_millis(300),
            ) else {
                continue;
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            let fivexx = ["responses_503", "responses_500"]
                .iter()
                .filter_map(|k| json.get(*k).and_then(|x| x.as_f64()))
                .sum::<f64>();
            v.insert(format!("up.{}.responses_5xx", i.name), fivexx);
            *pool_tot
                .entry(self.s.upstreams[i.pool].name.clone())
                .or_default()
                .entry("responses_5xx".into())
                .or_default() += fivexx;
            for k in ["in_flight", "queued", "connections", "requests", "workers"] {
                if let Some(x) = json.get(k).and_then(|x| x.as_f64()) {
                    v.insert(format!("up.{}.{k}", i.name), x);
                    *pool_tot
                        .entry(self.s.upstreams[i.pool].name.clone())
                        .or_default()
                        .entry(k.to_string())
                        .or_default() += x;
                }
            }
        }
        for (pool, m) in pool_tot {
            for (k, x) in m {
                v.insert(format!("up.{pool}.{k}"), x);
            }
        }
        self.samples.rows.push(Sample {
            t: now.as_secs_f64(),
            values: v,
        });
    }

    /// Stops every process: SIGCONT + SIGTERM to all groups at once, up to 3 s, then SIGKILL.
    pub fn teardown(&mut self) {
        let mut procs: Vec<&mut Proc> = Vec::new();
        if let Some(p) = self.loadgen.as_mut() {
            procs.push(p);
        }
        if let Some(p) = self.proxy.as_mut() {
            procs.push(p);
        }
        for i in &mut self.instances {
            if let Some(p) = i.proc.as_mut() {
                procs.push(p);
            }
        }
        for p in procs.iter() {
            p.signal(libc::SIGCONT);
            p.signal(libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end
            && procs
                .iter_mut()
                .any(|p| p.exited().is_none() || os::group_alive(p.pid()))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in procs {
            p.kill();
        }
    }
}
