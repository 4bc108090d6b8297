//! Live metrics against a real Prometheus (Debian's `prometheus`, our own instance on a free
//! loopback port with a temporary directory and a generated config; never the package's
//! daemon): it scrapes `loadgen --metrics-listen` and `run --metrics-listen`, and receives
//! their `--metrics-push` (remote write, `--web.enable-remote-write-receiver`). The counts
//! read back through Prometheus' HTTP API equal the runs' summaries; the runner's phase, fault
//! and per-component CPU/RSS gauges arrive, and so does every metric the Grafana dashboard plots.

mod common;

use common::{proxylab, proxylab_env, run_dirs};
use proxylab_testkit::{FakeUpstream, Proc, free_port, require};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

struct Prometheus {
    _proc: Proc,
    _dir: tempfile::TempDir,
    port: u16,
}

/// `GET path` on 127.0.0.1:port: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let status = r.split_whitespace().nth(1)?.parse().ok()?;
    let body = r.split_once("\r\n\r\n")?.1.to_string();
    // Prometheus answers small bodies with Content-Length, large ones chunked.
    let body = if r
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    Some((status, body))
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = b.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        b = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Prometheus {
    /// Our own Prometheus scraping `targets` every second; `None` (SKIPPED) when missing.
    fn start(targets: &[String]) -> Option<Prometheus> {
        let bin = require("prometheus", "apt-get install prometheus")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let conf = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: proxylab-scrape\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        let conf_path = dir.path().join("prometheus.yml");
        std::fs::write(&conf_path, conf).expect("config");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", conf_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .current_dir(dir.path());
        let mut proc = Proc::spawn("prometheus", cmd).expect("spawn prometheus");
        let end = Instant::now() + Duration::from_secs(60);
        while get(port, "/-/ready").is_none_or(|(s, _)| s != 200) {
            assert!(
                Instant::now() < end && proc.wait_exit(Duration::ZERO).is_none(),
                "prometheus did not become ready: {}",
                proc.describe()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Prometheus {
            _proc: proc,
            _dir: dir,
            port,
        })
    }

    /// The value of an instant query returning one sample (`None`: no result).
    fn query(&self, q: &str) -> Option<f64> {
        let (status, body) = get(self.port, &format!("/api/v1/query?query={}", encode(q)))?;
        assert_eq!(status, 200, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits (bounded) until `q` returns `want`; returns the last value seen.
    fn wait_for(&self, q: &str, want: f64) -> Option<f64> {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.query(q);
            if v == Some(want) || Instant::now() > end {
                return v;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("summary")).expect("json")
}

/// Checks that the scraped and the pushed series with `labels` (`run="x"`, …) hold the
/// summary's totals.
fn check_counts(prom: &Prometheus, labels: &str, summary: &Value) {
    let sent = summary["overall"]["sent"].as_f64().expect("sent");
    let done = summary["overall"]["completed"].as_f64().expect("completed");
    let ok = summary["overall"]["status"]["200"].as_f64().expect("200");
    assert!(done > 100.0, "{summary}");
    for job in ["proxylab-scrape", ""] {
        let sel = format!("job=\"{job}\",{labels}");
        let q = |m: &str, extra: &str| format!("sum(max_over_time({m}{{{sel}{extra}}}[10m]))");
        let how = if job.is_empty() { "pushed" } else { "scraped" };
        let got = prom.wait_for(&q("proxylab_responses_total", ",status=\"200\""), ok);
        assert_eq!(got, Some(ok), "{how} responses");
        let got = prom.wait_for(&q("proxylab_requests_sent_total", ""), sent);
        assert_eq!(got, Some(sent), "{how} sent");
        let got = prom.wait_for(&q("proxylab_latency_seconds_count", ""), done);
        assert_eq!(got, Some(done), "{how} latency count");
    }
}

#[test]
fn prometheus_scrapes_and_receives_the_push_of_loadgen_and_run() {
    let up = FakeUpstream::start(&[]);
    let (lg_port, run_port) = (free_port(), free_port());
    let targets = [
        format!("127.0.0.1:{lg_port}"),
        format!("127.0.0.1:{run_port}"),
    ];
    let Some(prom) = Prometheus::start(&targets) else {
        return;
    };
    let push = format!("http://127.0.0.1:{}/api/v1/write", prom.port);
    let tmp = tempfile::tempdir().expect("tempdir");

    // The loadgen on its own, as the one shard of an Indexed Job (its series get `shard`).
    let sum = tmp.path().join("lg.json");
    let r = proxylab_env(
        &[
            "loadgen",
            &up.url(),
            "--shards",
            "1",
            "--rate",
            "150",
            "--duration",
            "3s",
            "-q",
            "--metrics-listen",
            &targets[0],
            "--metrics-push",
            &push,
            "--metrics-push-interval",
            "1s",
            "--metrics-labels",
            "run=lg1",
            "--metrics-linger",
            "3s",
            "--summary-json",
            sum.to_str().expect("utf8"),
        ],
        &[("JOB_COMPLETION_INDEX", "0")],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    check_counts(&prom, "run=\"lg1\",shard=\"0\"", &read_json(&sum));

    // A scenario run (our proxy, a fake pool, a fault): the runner serves its own gauges plus
    // its loadgen's counters.
    let file = tmp.path().join("live.toml");
    std::fs::write(&file, LIVE.replace("{CONF}", &conf())).expect("scenario");
    let out = tmp.path().join("out");
    let r = proxylab(
        &[
            "run",
            file.to_str().expect("utf8"),
            "--ci",
            "--out",
            out.to_str().expect("utf8"),
            "--metrics-listen",
            &targets[1],
            "--metrics-push",
            &push,
            "--metrics-push-interval",
            "1s",
            "--metrics-labels",
            "run=rn1",
            "--metrics-linger",
            "3s",
        ],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let dir = &run_dirs(&out, "live")[0];
    check_counts(
        &prom,
        "run=\"rn1\"",
        &read_json(&dir.join("loadgen-summary.json")),
    );
    for job in ["proxylab-scrape", ""] {
        let sel = format!("job=\"{job}\",run=\"rn1\"");
        let q = format!("max(max_over_time(proxylab_phase_active{{{sel},phase=\"steady\"}}[10m]))");
        assert_eq!(prom.wait_for(&q, 1.0), Some(1.0), "{job:?}: {q}");
        let q =
            format!("max(max_over_time(proxylab_fault_active{{{sel},fault=\"slow api\"}}[10m]))");
        assert_eq!(prom.wait_for(&q, 1.0), Some(1.0), "{job:?}: {q}");
        // CPU and RSS of every component: the proxy, the pool, the loadgen.
        for c in ["proxy", "api", "loadgen"] {
            let q = format!(
                "count(max_over_time(proxylab_component_rss_bytes{{{sel},component=\"{c}\"}}[10m]) > 0)"
            );
            assert_eq!(prom.wait_for(&q, 1.0), Some(1.0), "{job:?}: {q}");
            let q = format!(
                "count(last_over_time(proxylab_component_cpu_percent{{{sel},component=\"{c}\"}}[10m]))"
            );
            assert_eq!(prom.wait_for(&q, 1.0), Some(1.0), "{job:?}: {q}");
        }
    }
    dashboard_metrics_exist(&prom);
}

/// The scenario of the `run` half: our proxy in front of one fake instance, a latency fault on
/// the pool from 1 s to the end, stub_status sampled.
const LIVE: &str = r#"name = "live"
duration = "3s"
[proxy]
kind = "proxylab"
config = "{CONF}"
status_path = "/nginx_status"
status_listener = "status"

[[upstream]]
name = "api"

[[load]]
name = "web"
model = "open"
stages = [{ shape = "constant", rate = 150, duration = "3s" }]

[[fault]]
at = "1s"
action = "latency"
target = "api"
factor = 2
for = "2s"
label = "slow api"

[[phase]]
name = "steady"
start = "1s"
end = "3s"
"#;

/// The proxy config of [`LIVE`] (the end-to-end tests' pass-through config).
fn conf() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/pass.conf");
    p.to_str().expect("utf8").to_string()
}

/// Every metric the Grafana dashboard plots is one the runs produced.
fn dashboard_metrics_exist(prom: &Prometheus) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grafana/proxylab.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard"))
        .expect("dashboard JSON");
    let mut names = std::collections::BTreeSet::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let e = t["expr"].as_str().expect("expr");
            for (i, _) in e.match_indices("proxylab_") {
                let n: String = e[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(n);
            }
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for n in &names {
        let q = format!("count(last_over_time({{__name__=\"{n}\"}}[10m]))");
        assert!(
            prom.query(&q).is_some_and(|c| c > 0.0),
            "dashboard metric {n} never arrived"
        );
    }
}
