//! The live state of a run: component processes, the event queue of faults and restarts, the
//! sampling clock and the main loop that ties them together.

mod clock;
mod events;
mod links;
mod proxy;
mod sampling;
mod services;

pub use clock::hlog_origin;

use super::child::Proc;
use super::launch::{self, InstancePorts, StartError};
use super::procstat::ProcStat;
use super::{Marker, RunError, RunOptions, SampleLog, Samples, os};
use crate::results::loadgen_out::SeriesTail;
use crate::scenario::template::Bindings;
use crate::scenario::{LoadTarget, ProxyKind, Scenario, population};
use proxylab_loadgen::plan::{self, Dur, Plan};
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
    RestartProxy,
    RestartService(String),
}

pub(super) struct State<'a> {
    s: &'a Scenario,
    opts: &'a RunOptions,
    instances: Vec<Instance>,
    proxy: Option<Proc>,
    /// We stopped the proxy on purpose (kill fault): its exit is expected.
    proxy_down: bool,
    /// The proxy is SIGSTOPped (pause fault): its status page is not sampled.
    proxy_paused: bool,
    /// The last cache counters read (`proxylab_cache_status`) and when: rates per sample.
    cache_prev: Option<(f64, std::collections::BTreeMap<String, f64>)>,
    loadgen: Option<Proc>,
    /// The in-path relay, when a fault names a link.
    relay: Option<links::Relay>,
    /// Real services (`[[service]]`), by name.
    services: Vec<(String, crate::run::services::Service)>,
    /// Connections a `hold_connections` fault keeps open, by service.
    held: Vec<(String, crate::run::hold::Held)>,
    /// Connections a `lock_table` fault holds a table lock on: (service, table, connection).
    locks: Vec<(String, String, std::net::TcpStream)>,
    /// Connections a `slow_query` fault's command runs on, by service.
    busy: Vec<(String, std::net::TcpStream)>,
    bindings: Bindings,
    proxy_conf_path: PathBuf,
    pub proxy_config: String,
    /// Filled after the run from `samples.csv` (`load_samples`).
    pub samples: Samples,
    /// `samples.csv`, written as samples are taken (times from `created`).
    sample_log: Option<SampleLog>,
    pub markers: Vec<Marker>,
    events: Vec<(Duration, Event)>,
    t0: Option<Instant>,
    procstat: ProcStat,
    reloads: u32,
    created: Instant,
    /// Time from creation to the loadgen's start.
    pub startup: Duration,
    /// The machine's CPU times when the loadgen started (the load window's start).
    pub cpu_at_load: Option<crate::run::machine::CpuTimes>,
    /// Time 0 follows the loadgen's own clock origin (read from its hlog header).
    aligned: bool,
    /// Wall-clock time of time 0.
    t0_wall: Option<std::time::SystemTime>,
    /// Live metrics (`--metrics-listen`, `--metrics-push`).
    pub live: Option<super::live::RunnerLive>,
}

/// `[target] url` with the population's scheme (`ws`/`wss` for WebSocket behaviours).
fn remote_url(url: &str, scheme: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    format!("{scheme}://{rest}")
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
            proxy_down: false,
            proxy_paused: false,
            cache_prev: None,
            loadgen: None,
            relay: None,
            services: Vec::new(),
            held: Vec::new(),
            locks: Vec::new(),
            busy: Vec::new(),
            bindings: Bindings::default(),
            proxy_conf_path: opts.dir.join("proxy").join("proxy.conf"),
            proxy_config: String::new(),
            samples: Samples::default(),
            sample_log: None,
            markers: Vec::new(),
            events: Vec::new(),
            t0: None,
            procstat: ProcStat::default(),
            reloads: 0,
            created: Instant::now(),
            startup: Duration::ZERO,
            cpu_at_load: None,
            aligned: false,
            t0_wall: None,
            live: None,
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
        let mut v: Vec<String> = self.services.iter().map(|(n, _)| n.clone()).collect();
        v.extend(self.instances.iter().map(|i| i.name.clone()));
        if self.s.proxy.kind != ProxyKind::None {
            v.push("proxy".into());
        }
        if self.relay.is_some() {
            v.push("relay".into());
        }
        v.push("loadgen".into());
        v
    }

    pub fn run_all(&mut self) -> Result<(), RunError> {
        let path = self.opts.dir.join("samples.csv");
        self.sample_log = Some(
            SampleLog::create(&path)
                .map_err(|e| RunError::Io(format!("{}: {e}", path.display())))?,
        );
        self.start_services()?;
        self.start_service_links()?;
        self.start_upstreams()?;
        self.start_pool_links()?;
        self.start_proxy()?;
        self.start_client_links()?;
        self.start_loadgen()?;
        self.main_loop()
    }

    fn start_upstreams(&mut self) -> Result<(), RunError> {
        for pi in 0..self.s.upstreams.len() {
            let pool = &self.pool_for_start(pi);
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

    fn targets(&self, t: &LoadTarget, scheme: &str) -> Vec<String> {
        if let Some(r) = &self.s.target {
            return vec![remote_url(&r.url, scheme)];
        }
        let relayed = matches!(t, LoadTarget::Proxy(_));
        self.direct_ports(t)
            .into_iter()
            .map(|p| if relayed { self.client_port(p) } else { p })
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect()
    }

    /// The ports a population's target resolves to, before any relay.
    fn direct_ports(&self, t: &LoadTarget) -> Vec<u16> {
        match t {
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
        }
    }

    fn start_loadgen(&mut self) -> Result<(), RunError> {
        self.stopped()?;
        let s = self.s;
        let (summary, series, hlog) = crate::run::loadgen_paths(&self.opts.dir);
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
            tls: crate::run::tls::loadgen_options(&s.loadgen.tls, &self.opts.dir),
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
        let plan = match self.opts.shard {
            Some((i, n)) => plan
                .shard(i, n)
                .map_err(|e| RunError::Io(format!("shard {i} of {n}: {e}")))?,
            None => plan,
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
        if let Some(l) = &self.live {
            cmd.args(l.child_args());
        }
        let p = Proc::spawn("loadgen", cmd, &log, &s.loadgen.cpus)
            .map_err(|e| StartError::spawn("loadgen", &log, e))?;
        self.t0 = Some(Instant::now());
        self.t0_wall = Some(std::time::SystemTime::now());
        self.startup = self.created.elapsed();
        self.cpu_at_load = Some(crate::run::machine::cpu_times());
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
        let series_path = crate::run::loadgen_paths(&self.opts.dir).1;
        loop {
            self.stopped()?;
            self.align_clock();
            let now = self.now();
            // Due events, in time order; none before time 0 is on the loadgen's clock (its
            // interval log header appears as soon as it starts; align_clock gives up after 2 s).
            self.events.sort_by_key(|(t, _)| *t);
            while self.aligned && self.events.first().is_some_and(|(t, _)| *t <= now) {
                let (_, ev) = self.events.remove(0);
                self.handle(ev);
            }
            if let Some(l) = self.live.as_mut() {
                l.poll_child();
            }
            if now >= next_sample {
                self.sample(now);
                if let Some(l) = &self.live {
                    l.update(s, now, self.sample_log.as_ref().and_then(|g| g.last()));
                }
                next_sample += s.sample_interval;
                bar.update(
                    now,
                    &tail.poll(&series_path),
                    self.sample_log.as_ref().and_then(|l| l.last()),
                );
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

    fn check_deaths(&mut self, now: Duration) -> Result<(), RunError> {
        self.check_services()?;
        if let Some(r) = self.relay.as_mut()
            && let Some(st) = r.proc.exited()
        {
            return Err(RunError::Died(format!(
                "the relay exited unexpectedly ({st})\n--- last lines of logs/relay.log ---\n{}",
                r.proc.log_tail(20)
            )));
        }
        if let Some(p) = self.proxy.as_mut()
            && !self.proxy_down
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

    /// Stops every process: SIGCONT + SIGTERM to all groups at once, up to 3 s, then SIGKILL.
    pub fn teardown(&mut self) {
        self.held.clear();
        let mut procs: Vec<&mut Proc> = Vec::new();
        if let Some(p) = self.loadgen.as_mut() {
            procs.push(p);
        }
        if let Some(p) = self.proxy.as_mut() {
            procs.push(p);
        }
        if let Some(r) = self.relay.as_mut() {
            procs.push(&mut r.proc);
        }
        for i in &mut self.instances {
            if let Some(p) = i.proc.as_mut() {
                procs.push(p);
            }
        }
        for (_, s) in self.services.iter_mut() {
            procs.push(&mut s.proc);
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
        for i in &self.instances {
            if self.s.upstreams[i.pool].memory_limit.is_some() {
                crate::run::memlimit::remove(&i.name);
            }
        }
    }
}
