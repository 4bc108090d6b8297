//! One sample: CPU%, RSS, context switches and process count per component from /proc, the
//! runner's own usage, the proxy's stub_status page, our proxy's cache counters
//! (`proxylab_cache_status`) and every fake instance's admin counters.

use super::State;
use crate::run::{Sample, probe};
use crate::scenario::UpstreamKind;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

impl State<'_> {
    /// Reads `samples.csv` back (after the run) into `samples`, on the time-0 clock.
    pub fn load_samples(&mut self) {
        let Some(log) = self.sample_log.take() else {
            return;
        };
        drop(log);
        let path = self.opts.dir.join("samples.csv");
        let mut s = crate::run::Samples::read_log(&path).unwrap_or_default();
        if let Some(t0) = self.t0 {
            let offset = if t0 >= self.created {
                (t0 - self.created).as_secs_f64()
            } else {
                -(self.created - t0).as_secs_f64()
            };
            s.shift(-offset);
        }
        self.samples = s;
    }

    /// Takes one sample at `now` (on the run's clock) and appends it to `samples.csv`.
    pub(super) fn sample(&mut self, now: Duration) {
        let groups = self.process_groups();
        let mut v = self.process_values(&groups);
        self.pool_process_totals(&mut v);
        self.proxy_status_values(&mut v);
        self.proxy_cache_values(&mut v, now);
        let mut pool_tot = PoolTotals::new();
        self.instance_counters(&mut v, &mut pool_tot);
        self.oom_kills(&mut v, &mut pool_tot);
        for (pool, m) in pool_tot {
            for (k, x) in m {
                v.insert(format!("up.{pool}.{k}"), x);
            }
        }
        let t_log = self.created.elapsed().as_secs_f64();
        if let Some(log) = self.sample_log.as_mut() {
            log.append(
                t_log,
                Sample {
                    t: now.as_secs_f64(),
                    values: v,
                },
            );
        }
    }

    /// Every running component with the pid of its process group.
    fn process_groups(&self) -> Vec<(String, u32)> {
        let mut groups: Vec<(String, u32)> = Vec::new();
        if let Some(p) = &self.proxy {
            groups.push(("proxy".into(), p.pid()));
        }
        if let Some(p) = &self.loadgen {
            groups.push(("loadgen".into(), p.pid()));
        }
        if let Some(r) = &self.relay {
            groups.push(("relay".into(), r.proc.pid()));
        }
        for (name, s) in &self.services {
            groups.push((name.clone(), s.proc.pid()));
        }
        for i in &self.instances {
            if let Some(p) = &i.proc {
                groups.push((i.name.clone(), p.pid()));
            }
        }
        groups
    }

    /// `cpu.`, `rss.`, `procs.` and `csw.` of each group from /proc, and the runner's own.
    fn process_values(&mut self, groups: &[(String, u32)]) -> Values {
        let pg: Vec<u32> = groups.iter().map(|(_, p)| *p).collect();
        let stats = self.procstat.sample(&pg);
        let mut v = Values::new();
        if let Some((cpu, rss)) = self.procstat.own_usage() {
            v.insert("cpu.runner".to_string(), cpu.unwrap_or(0.0));
            v.insert("rss.runner".to_string(), rss);
        }
        for (name, pid) in groups {
            if let Some(g) = stats.get(pid) {
                v.insert(format!("cpu.{name}"), g.cpu_pct);
                v.insert(format!("rss.{name}"), g.rss_mib);
                v.insert(format!("procs.{name}"), f64::from(g.procs));
                v.insert(format!("csw.{name}"), g.switches_per_s);
            }
        }
        v
    }

    /// `cpu.POOL`, `rss.POOL`, `csw.POOL`: the sums over the pool's instances.
    fn pool_process_totals(&self, v: &mut Values) {
        for pool in &self.s.upstreams {
            let pre = format!("{}.", pool.name);
            for col in ["cpu", "rss", "csw"] {
                let instances = format!("{col}.{pre}");
                let x: f64 = v
                    .iter()
                    .filter(|(k, _)| {
                        k.strip_prefix(&instances)
                            .is_some_and(|i| i.parse::<u32>().is_ok())
                    })
                    .map(|(_, x)| x)
                    .sum();
                v.insert(format!("{col}.{}", pool.name), x);
            }
        }
    }

    /// The body of the proxy's page at `path` on the status listener, when the proxy runs
    /// and answers 200 within 300 ms.
    fn status_page(&self, path: Option<&str>) -> Option<String> {
        let port = self.bindings.listeners.get(&self.s.proxy.status_listener)?;
        if self.proxy.is_none() || self.proxy_down || self.proxy_paused {
            return None;
        }
        match probe::request(
            SocketAddr::from(([127, 0, 0, 1], *port)),
            "GET",
            path?,
            Duration::from_millis(300),
        ) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// `proxy.*` from the proxy's stub_status page.
    fn proxy_status_values(&self, v: &mut Values) {
        if let Some(body) = self.status_page(self.s.proxy.status_path.as_deref()) {
            for (k, x) in probe::parse_stub_status(&body) {
                v.insert(format!("proxy.{k}"), x);
            }
        }
    }

    /// `proxy.cache.*` from our proxy's `proxylab_cache_status` page, summed over its zones:
    /// responses per second by `$upstream_cache_status` (`proxy.cache.HIT`, ...) and files
    /// stored, evicted and refused per second since the previous sample (none on the first;
    /// a restarted proxy's counters start again from 0), keys and bytes in the zones.
    fn proxy_cache_values(&mut self, v: &mut Values, now: Duration) {
        let Some(body) = self.status_page(self.s.proxy.cache_status_path.as_deref()) else {
            return;
        };
        let counts = probe::parse_cache_status(&body);
        if counts.is_empty() {
            return;
        }
        let t = now.as_secs_f64();
        let gauge = |k: &str| k == "keys" || k == "size";
        if let Some((t0, prev)) = &self.cache_prev
            && t > *t0
        {
            for (k, x) in counts.iter().filter(|(k, _)| !gauge(k.as_str())) {
                let d = (x - prev.get(k).copied().unwrap_or(0.0)).max(0.0);
                v.insert(format!("proxy.cache.{k}"), d / (t - t0));
            }
        }
        for (k, x) in counts.iter().filter(|(k, _)| gauge(k.as_str())) {
            v.insert(format!("proxy.cache.{k}"), *x);
        }
        self.cache_prev = Some((t, counts));
    }

    /// `up.INSTANCE.*` from each running fake instance's admin counters, summed per pool.
    fn instance_counters(&self, v: &mut Values, pool_tot: &mut PoolTotals) {
        for i in &self.instances {
            let (Some(port), Some(_), false) = (i.ports.admin, &i.proc, i.paused) else {
                continue;
            };
            let pool = &self.s.upstreams[i.pool];
            if pool.kind != UpstreamKind::Fake {
                continue;
            }
            let Some(json) = admin_counters(port) else {
                continue;
            };
            let fivexx = ["responses_503", "responses_500"]
                .iter()
                .filter_map(|k| json.get(*k).and_then(|x| x.as_f64()))
                .sum::<f64>();
            v.insert(format!("up.{}.responses_5xx", i.name), fivexx);
            add(pool_tot, &pool.name, "responses_5xx", fivexx);
            for k in [
                "in_flight",
                "queued",
                "connections",
                "requests",
                "workers",
                "restarts",
                "crashes",
            ] {
                if let Some(x) = json.get(k).and_then(|x| x.as_f64()) {
                    v.insert(format!("up.{}.{k}", i.name), x);
                    add(pool_tot, &pool.name, k, x);
                }
            }
        }
    }

    /// `up.INSTANCE.oom_kills` of instances under a memory limit, summed per pool.
    fn oom_kills(&self, v: &mut Values, pool_tot: &mut PoolTotals) {
        for i in &self.instances {
            let pool = &self.s.upstreams[i.pool];
            if pool.memory_limit.is_none() {
                continue;
            }
            if let Some(n) = crate::run::memlimit::oom_kills(&i.name) {
                v.insert(format!("up.{}.oom_kills", i.name), n as f64);
                add(pool_tot, &pool.name, "oom_kills", n as f64);
            }
        }
    }
}

/// One sample's values by column name.
type Values = BTreeMap<String, f64>;

/// Per-pool sums of instance counters (pool → counter → sum).
type PoolTotals = BTreeMap<String, BTreeMap<String, f64>>;

fn add(tot: &mut PoolTotals, pool: &str, key: &str, x: f64) {
    *tot.entry(pool.to_string())
        .or_default()
        .entry(key.to_string())
        .or_default() += x;
}

/// A fake instance's `/counters` (None when it does not answer in 300 ms with JSON).
fn admin_counters(port: u16) -> Option<serde_json::Value> {
    let Ok((200, body)) = probe::request(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "GET",
        "/counters",
        Duration::from_millis(300),
    ) else {
        return None;
    };
    serde_json::from_str(&body).ok()
}
