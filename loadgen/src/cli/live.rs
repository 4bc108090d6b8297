//! `--metrics-listen`, `--metrics-push`, `--metrics-labels`, `--metrics-linger`: the live
//! metrics of one loadgen run, set up before the load and finished after it.

use super::Args;
use crate::metrics::push::Pusher;
use crate::metrics::server::MetricsServer;
use crate::metrics::{Live, parse_labels};
use crate::plan::{Dur, Plan};
use std::time::Duration;

/// Flags of the live metrics (shared by `loadgen` and `run`).
#[derive(clap::Args, Debug, Clone)]
pub struct MetricsFlags {
    /// Serve Prometheus metrics at http://ADDR/metrics while the run goes (e.g. 0.0.0.0:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Push the metrics with Prometheus remote write to this http:// URL (e.g.
    /// http://prometheus:9090/api/v1/write), every --metrics-push-interval and at the end.
    #[arg(long, value_name = "URL")]
    pub metrics_push: Option<String>,
    /// Period of the pushes.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub metrics_push_interval: String,
    /// Labels on every series, `name=value,…` (default `run` = the start time; `shard` = the
    /// shard index when sharded).
    #[arg(long, value_name = "LABELS")]
    pub metrics_labels: Option<String>,
    /// Keep serving /metrics this long after the run, so the last scrape sees the final totals.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub metrics_linger: String,
}

/// The flags' command-line defaults (a derived `Default` would leave the durations empty,
/// which `durations()` refuses).
impl Default for MetricsFlags {
    fn default() -> Self {
        MetricsFlags {
            metrics_listen: None,
            metrics_push: None,
            metrics_push_interval: "5s".into(),
            metrics_labels: None,
            metrics_linger: "0s".into(),
        }
    }
}

/// The live metrics of a run in progress.
#[derive(Debug, Default)]
pub struct LiveSetup {
    live: Option<Live>,
    server: Option<MetricsServer>,
    pusher: Option<Pusher>,
    linger: Duration,
}

impl MetricsFlags {
    /// Labels: the given ones, plus `run` and `shard` defaults.
    pub fn labels(&self, shard: Option<u32>) -> Result<Vec<(String, String)>, String> {
        let mut l = parse_labels(self.metrics_labels.as_deref().unwrap_or(""))
            .map_err(|e| format!("--metrics-labels: {e}"))?;
        if !l.iter().any(|(k, _)| k == "run") {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(['-', ':'], "");
            l.push(("run".into(), stamp));
        }
        if let Some(i) = shard
            && !l.iter().any(|(k, _)| k == "shard")
        {
            l.push(("shard".into(), i.to_string()));
        }
        l.sort();
        Ok(l)
    }

    /// Push period and linger, checked.
    pub fn durations(&self) -> Result<(Duration, Duration), String> {
        let d = |flag: &str, v: &str| {
            v.parse::<Dur>()
                .map(|d| d.get())
                .map_err(|e| format!("--{flag} {v:?}: {e}"))
        };
        let every = d("metrics-push-interval", &self.metrics_push_interval)?;
        if every < Duration::from_millis(100) {
            return Err("--metrics-push-interval must be at least 100ms".into());
        }
        Ok((every, d("metrics-linger", &self.metrics_linger)?))
    }
}

/// Starts the server and the pusher the flags ask for (nothing when none is set).
pub fn start(a: &Args, plan: &Plan) -> Result<LiveSetup, String> {
    let m = &a.metrics;
    if m.metrics_listen.is_none() && m.metrics_push.is_none() {
        return Ok(LiveSetup::default());
    }
    let shard = super::flags::shard_of(a)?.map(|(i, _)| i);
    let (every, linger) = m.durations()?;
    let names = plan.populations.iter().map(|p| p.name.clone()).collect();
    let live = Live::new(names, m.labels(shard)?);
    let server = match &m.metrics_listen {
        Some(addr) => {
            let l = live.clone();
            let s = MetricsServer::start(addr, move || l.render())?;
            eprintln!("metrics: http://{}/metrics", s.addr());
            Some(s)
        }
        None => None,
    };
    let pusher = m.metrics_push.as_ref().map(|url| {
        let l = live.clone();
        Pusher::start(url.clone(), every, move || l.render())
    });
    Ok(LiveSetup {
        live: Some(live),
        server,
        pusher,
        linger,
    })
}

impl LiveSetup {
    /// The totals the engine folds seconds into.
    pub fn live(&self) -> Option<&Live> {
        self.live.as_ref()
    }

    /// After the run: final push, then serve the final totals for the linger time.
    pub fn finish(self) {
        if let Some(l) = &self.live {
            l.finish();
        }
        if let Some(p) = self.pusher {
            p.finish();
        }
        if self.server.is_some() && !self.linger.is_zero() {
            std::thread::sleep(self.linger);
        }
    }
}

#[cfg(test)]
mod default_tests {
    use super::MetricsFlags;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        metrics: MetricsFlags,
    }

    /// Code that builds `run`'s flags without a command line (`claims --run`, the audit) gets
    /// the same defaults as the command line, which `durations()` accepts.
    #[test]
    fn default_is_the_command_line_default() {
        let parsed = Wrapper::parse_from(["x"]).metrics;
        let made = MetricsFlags::default();
        assert_eq!(made.metrics_push_interval, parsed.metrics_push_interval);
        assert_eq!(made.metrics_linger, parsed.metrics_linger);
        assert!(made.durations().is_ok());
    }

    /// A shard's series carry `run` (the start time unless given) and `shard` (its 0-based
    /// index unless given), so one Prometheus tells shards and runs apart.
    #[test]
    fn shards_label_their_series_with_run_and_shard() {
        let f = MetricsFlags::default();
        let l = f.labels(Some(2)).expect("labels");
        let keys: Vec<&str> = l.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["run", "shard"]);
        assert_eq!(l[1].1, "2");
        assert!(l[0].1.ends_with('Z') && l[0].1.len() >= 16, "{l:?}");
        let given = MetricsFlags {
            metrics_labels: Some("run=nightly,team=web".into()),
            ..MetricsFlags::default()
        };
        let l = given.labels(Some(0)).expect("labels");
        assert_eq!(
            l,
            [("run", "nightly"), ("shard", "0"), ("team", "web")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(
            f.labels(None)
                .expect("labels")
                .iter()
                .all(|(k, _)| k != "shard")
        );
    }
}
