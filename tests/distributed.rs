//! Distributed runs proved without a cluster: N local `proxylab run --shards N` processes, each
//! given `JOB_COMPLETION_INDEX` as a Kubernetes Indexed Job gives it, one `--start-at` and one
//! shared directory, then `proxylab merge-shards`: the merged totals, rate and HDR percentiles
//! match a single-process run of the same plan within sampling error, the merged percentiles
//! are exactly those of the added histograms, and an assertion only the whole load can meet
//! decides the one exit code. The manifests of `deploy k8s` pass `kubernetes-validate`.

mod common;

use common::{bin, proxylab, run_dirs, summary};
use proxylab::results::loadgen_out::HistLog;
use proxylab_testkit::FakeUpstream;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LIMIT: Duration = Duration::from_secs(120);

/// 240 req/s for 4 s over 3 shards: 80 req/s each. `requests > 700` holds only for the
/// whole load (each shard sends about 320).
fn scenario(url: &str) -> String {
    format!(
        r#"name = "dist"
duration = "4s"
[target]
url = "{url}"

[[load]]
name = "web"
model = "open"
stages = [{{ shape = "constant", rate = 240, duration = "4s" }}]

[[phase]]
name = "steady"
start = "1s"
end = "4s"

[[assert]]
metric = "requests"
op = ">"
value = 800

[[assert]]
metric = "status_rate.2xx"
op = ">="
value = 1.0

[[assert]]
metric = "latency.p99"
phase = "steady"
op = "<"
value = "2s"
"#
    )
}

/// `proxylab ARGS` in the background (own process group, stderr kept), with
/// `JOB_COMPLETION_INDEX` set to `index` or unset.
fn spawn(args: &[&str], index: Option<&str>) -> Child {
    spawn_to(args, index, Stdio::piped())
}

/// [`spawn`] with stderr going to `stderr` (a file a test reads while the process runs).
fn spawn_to(args: &[&str], index: Option<&str>, stderr: Stdio) -> Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0);
    if let Some(i) = index {
        cmd.env("JOB_COMPLETION_INDEX", i);
    }
    cmd.spawn().expect("spawn proxylab")
}

fn spawn_shard(file: &str, out: &Path, n: u32, index: Option<&str>, start_at: &str) -> Child {
    let (n, at) = (n.to_string(), format!("--start-at={start_at}"));
    let out = out.to_str().expect("utf8");
    spawn(
        &["run", file, "--ci", "--shards", &n, &at, "--out", out],
        index,
    )
}

/// Waits for every child (bounded); returns (exit code, stderr) of each.
fn wait_all(children: Vec<Child>, limit: Duration) -> Vec<(i32, String)> {
    let end = Instant::now() + limit;
    children
        .into_iter()
        .map(|mut c| {
            loop {
                if let Some(st) = c.try_wait().expect("try_wait") {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    break (st.code().unwrap_or(-1), err);
                }
                if Instant::now() > end {
                    let _ = Command::new("kill")
                        .args(["-KILL", &format!("-{}", c.id())])
                        .status();
                    let _ = c.wait();
                    panic!("a shard did not finish within {limit:?}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .collect()
}

fn read_json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).expect("json")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn shards_with_job_completion_index_merge_into_the_single_run_verdict() {
    let up = FakeUpstream::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("dist.toml");
    std::fs::write(&file, scenario(&up.url())).expect("write");
    let file = file.to_str().expect("utf8").to_string();

    // Three shards as an Indexed Job runs them (same flags, JOB_COMPLETION_INDEX 0..2) and,
    // beside them over the same seconds, the same plan in one process.
    let shared = tmp.path().join("shared");
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3;
    let start_at = format!("@{at}");
    let mut kids: Vec<Child> = (0..3)
        .map(|i| spawn_shard(&file, &shared, 3, Some(&i.to_string()), &start_at))
        .collect();
    let single_out = tmp.path().join("single");
    let (at_flag, out_flag) = (
        format!("--start-at={start_at}"),
        format!("--out={}", single_out.display()),
    );
    kids.push(spawn(&["run", &file, "--ci", &at_flag, &out_flag], None));
    // The merge starts with the shards, as the merge Job does, and waits for them.
    let dir = shared.to_str().expect("utf8");
    let merge = spawn(&["merge-shards", dir, "--shards=3", "--wait=150s"], None);
    for (code, err) in wait_all(kids, LIMIT) {
        assert_eq!(code, 0, "{err}");
    }
    let single = summary(&run_dirs(&single_out, "dist")[0]);
    let (code, err) = wait_all(vec![merge], LIMIT).remove(0);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("waiting"), "the merge did not wait: {err}");
    let merged = summary(&shared.join("merged"));
    assert!(
        shared.join("merged/junit.xml").is_file() && shared.join("merged/index.html").is_file()
    );
    // --start-at: no shard's load began before the common instant (each waited for it on its
    // own clock), and all began within a loaded machine's process start of it.
    let at_time = UNIX_EPOCH + Duration::from_secs(at);
    for i in 0..3 {
        let log = shared.join(format!("shard-{i}/loadgen.hlog"));
        let origin = proxylab::run::hlog_origin(&log).expect("StartTime");
        assert!(
            origin >= at_time - Duration::from_millis(50)
                && origin <= at_time + Duration::from_secs(3),
            "shard {i} started at {origin:?}, --start-at {at_time:?}"
        );
    }

    // Totals: the sum of the shards, and the single run's within sampling error.
    let (mut shard_total, mut windowed) = (0.0, 0.0);
    for i in 0..3 {
        windowed += num(&summary(&shared.join(format!("shard-{i}")))["total"]["completed"]);
        let s = read_json(&shared.join(format!("shard-{i}/loadgen-summary.json")));
        let done = num(&s["overall"]["completed"]);
        // Each shard alone sent about a third: it could not pass `requests > 800` by itself.
        assert!((250.0..=350.0).contains(&done), "shard {i}: {done}");
        shard_total += done;
    }
    let (m, s1) = (
        num(&merged["total"]["completed"]),
        num(&single["total"]["completed"]),
    );
    // The loadgen summaries add up exactly; the report's total counts the run's window
    // [0, duration) of the series, which leaves out a response completing after the end: it
    // holds at least every shard's own window (exactly those when they started together).
    let lm = read_json(&shared.join("merged/loadgen-summary.json"));
    assert_eq!(num(&lm["overall"]["completed"]), shard_total);
    assert!(
        m <= shard_total && m >= windowed,
        "{m} vs {windowed} in the shards' windows, {shard_total} in all"
    );
    assert!((m - s1).abs() <= 0.03 * s1, "merged {m} vs single {s1}");
    let (mr, sr) = (
        num(&merged["total"]["achieved_rate"]),
        num(&single["total"]["achieved_rate"]),
    );
    assert!(
        (mr - sr).abs() <= 0.05 * sr,
        "rate merged {mr} vs single {sr}"
    );
    assert_eq!(
        merged["total"]["status"]["200"],
        merged["total"]["completed"]
    );
    // Percentiles: of the added histograms, exactly; near the single run's (loaded machine:
    // a generous band).
    let hand = tmp.path().join("hand.json");
    let parts: Vec<String> = (0..3)
        .map(|i| {
            shared
                .join(format!("shard-{i}/loadgen-summary.json"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["loadgen", "merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--summary-json", hand.to_str().expect("utf8")]);
    let r = proxylab(&args, LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let hand = read_json(&hand);
    // The merged interval log over the whole run is the sum of the shards' logs, and its
    // percentiles are those of the added run histograms of the summaries.
    let whole = |p: &Path| HistLog::read(p).merged(None, 0.0, 1e9).expect("intervals");
    let mut added = whole(&shared.join("shard-0/loadgen.hlog"));
    for i in 1..3 {
        added
            .add(whole(&shared.join(format!("shard-{i}/loadgen.hlog"))))
            .expect("add");
    }
    let m_h = whole(&shared.join("merged/loadgen.hlog"));
    assert_eq!(m_h.len(), added.len());
    assert_eq!(m_h.len() as f64, num(&lm["overall"]["completed"]));
    for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
        let v = m_h.value_at_quantile(q);
        assert_eq!(v, added.value_at_quantile(q), "{k}");
        assert_eq!(v as f64, num(&lm["overall"]["latency_us"][k]), "{k}");
        assert_eq!(v as f64, num(&hand["overall"]["latency_us"][k]), "{k}");
    }
    let (p50m, p50s) = (
        num(&merged["total"]["latency_ms"]["p50"]),
        num(&single["total"]["latency_ms"]["p50"]),
    );
    assert!(
        p50m <= 3.0 * p50s + 5.0 && p50s <= 3.0 * p50m + 5.0,
        "p50 merged {p50m} ms vs single {p50s} ms"
    );
    // One verdict: every assertion evaluated on the merged data.
    assert_eq!(merged["passed"], Value::Bool(true), "{merged}");
    // The same shards judged by a threshold the whole load misses: exit 1, one failed case.
    let strict = tmp.path().join("strict.toml");
    std::fs::write(
        &strict,
        scenario(&up.url()).replace("value = 800", "value = 5000"),
    )
    .expect("write");
    let strict_out = tmp.path().join("strict-out");
    let r = proxylab(
        &[
            "merge-shards",
            shared.to_str().expect("utf8"),
            "--scenario",
            strict.to_str().expect("utf8"),
            "--out",
            strict_out.to_str().expect("utf8"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let junit = std::fs::read_to_string(strict_out.join("junit.xml")).expect("junit");
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
}

/// Four shards, one of them slow: the whole run's p50 is fast (three requests in four are)
/// and its p90 slow (one in four is), so the assertions hold only on the merged histogram;
/// the mean of the shards' p50s or p90s (about 250 ms each) would fail them.
fn uneven(path: &str) -> String {
    format!(
        r#"name = "uneven"
duration = "3s"
[target]
url = "{{URL}}"

[[load]]
name = "web"
model = "open"
stages = [{{ shape = "constant", rate = 400, duration = "3s" }}]
requests = [{{ path = "{path}" }}]

[[phase]]
name = "steady"
start = "1s"
end = "3s"

[[assert]]
metric = "latency.p50"
op = "<"
value = "200ms"

[[assert]]
metric = "latency.p50"
phase = "steady"
op = "<"
value = "200ms"

[[assert]]
metric = "latency.p90"
op = ">="
value = "800ms"
"#
    )
}

/// Waits (bounded) until the file `log` contains `want`.
fn wait_for_text(log: &Path, want: &str) {
    let end = Instant::now() + LIMIT;
    while !std::fs::read_to_string(log).is_ok_and(|t| t.contains(want)) {
        assert!(
            Instant::now() < end,
            "{} never said {want:?}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn one_slow_shard_is_judged_by_the_merged_histogram_not_by_averaged_percentiles() {
    let up = FakeUpstream::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("uneven.toml");
    let write = |path: &str| {
        std::fs::write(&file, uneven(path).replace("{URL}", &up.url())).expect("write");
    };
    let f = file.to_str().expect("utf8");
    let shared = tmp.path().join("shared");
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 5;
    let start_at = format!("@{at}");
    // Shards 0 to 2 read the file asking for `/`; once they wait for the start, the file asks
    // for `/sleep?ms=1000` and shard 3 reads it: a slow pod of the same run (its node congested,
    // say) which also comes up 1.5 s after the start (its image pulled slowly).
    write("/");
    let mut kids = Vec::new();
    let mut logs: Vec<std::path::PathBuf> = Vec::new();
    for i in 0..4u32 {
        if i == 3 {
            for l in &logs {
                wait_for_text(l, "waiting");
            }
            write("/sleep?ms=1000");
            let late = UNIX_EPOCH + Duration::from_millis(at * 1000 + 1500);
            while SystemTime::now() < late {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let log = tmp.path().join(format!("shard-{i}.log"));
        let err = std::fs::File::create(&log).expect("log");
        let (n, a) = ("--shards=4", format!("--start-at={start_at}"));
        let out = format!("--out={}", shared.display());
        let args = ["run", f, "--ci", n, &a, &out];
        kids.push(spawn_to(&args, Some(&i.to_string()), err.into()));
        logs.push(log);
    }
    for ((code, _), log) in wait_all(kids, LIMIT).into_iter().zip(&logs) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert_eq!(code, 0, "{text}");
    }
    let p = |i: u32, k: &str| {
        let s = read_json(&shared.join(format!("shard-{i}/loadgen-summary.json")));
        num(&s["overall"]["latency_us"][k]) / 1000.0
    };
    // The test means something: the shards differ, and the mean of their p50s fails.
    assert!((0..3).all(|i| p(i, "p50") < 200.0), "fast shards");
    assert!(p(3, "p50") >= 1000.0, "slow shard p50 {} ms", p(3, "p50"));
    let mean_p50 = (0..4).map(|i| p(i, "p50")).sum::<f64>() / 4.0;
    assert!(mean_p50 >= 200.0, "mean of the p50s {mean_p50} ms");
    let late_log = std::fs::read_to_string(&logs[3]).unwrap_or_default();
    assert!(late_log.contains("after --start-at"), "{late_log}");
    let r = proxylab(&["merge-shards", shared.to_str().expect("utf8")], LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("s after the first"), "{}", r.all());
    let merged = summary(&shared.join("merged"));
    assert_eq!(merged["passed"], Value::Bool(true), "{merged}");
    let lat = &merged["total"]["latency_ms"];
    assert!(
        num(&lat["p50"]) < 200.0 && num(&lat["p90"]) >= 800.0,
        "{lat}"
    );
    // The late shard's seconds are placed later, and the merged window grows with them: it
    // holds every shard's own window, the late one's last seconds included.
    assert!(num(&merged["duration_s"]) > 3.0, "{merged}");
    let windowed: f64 = (0..4)
        .map(|i| num(&summary(&shared.join(format!("shard-{i}")))["total"]["completed"]))
        .sum();
    let got = num(&merged["total"]["completed"]);
    assert!(got >= windowed, "merged window holds {got} of {windowed}");
}

#[test]
fn missing_or_out_of_range_index_is_a_clear_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("dist.toml");
    std::fs::write(&file, scenario("http://127.0.0.1:9")).expect("write");
    let file = file.to_str().expect("utf8");
    for (index, want) in [
        (None, "is not set"),
        (Some("3"), "from 0 to 2"),
        (Some("x"), "from 0 to 2"),
    ] {
        let kid = spawn_shard(file, tmp.path(), 3, index, "+0s");
        let (code, err) = wait_all(vec![kid], LIMIT).remove(0);
        assert_eq!(code, 2, "{index:?}: {err}");
        assert!(
            err.contains("JOB_COMPLETION_INDEX") && err.contains(want),
            "{index:?}: {err}"
        );
    }
    let r = proxylab(
        &[
            "loadgen",
            "http://127.0.0.1:9/",
            "--shards",
            "2",
            "--no-preflight",
        ],
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("JOB_COMPLETION_INDEX"), "{}", r.all());
    // merge-shards with nothing finished: exit 3, naming what is missing.
    let r = proxylab(&["merge-shards", tmp.path().to_str().expect("utf8")], LIMIT);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(r.stderr.contains("0 of ? shards finished"), "{}", r.all());
    // Shards of two different runs in one directory: exit 2; a shard that failed: exit 3.
    let info = |dir: &Path, index: u32, count: u32, code: u8| {
        let d = dir.join(format!("shard-{index}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        let j = serde_json::json!({ "index": index, "count": count, "scenario": file,
            "variant": "base", "start_at": null, "code": code });
        std::fs::write(d.join("shard.json"), j.to_string()).expect("shard.json");
    };
    for (counts, codes, exit, says) in [
        ([2, 3], [0, 0], 2, "results of different runs"),
        ([2, 2], [0, 3], 3, "shard 1 failed (exit 3)"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..2 {
            info(dir.path(), i, counts[i as usize], codes[i as usize]);
        }
        let r = proxylab(&["merge-shards", dir.path().to_str().expect("utf8")], LIMIT);
        assert_eq!(r.code, exit, "{}", r.all());
        assert!(r.stderr.contains(says), "{}", r.all());
    }
}

#[test]
fn deploy_k8s_writes_manifests_the_kubernetes_schemas_accept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("dist.toml");
    // Characters a YAML writer could get wrong travel in the ConfigMap unchanged (checked below).
    let text = format!(
        "{}# key: value — \"quoted\" 'single' {{braces}} &anchor *alias !tag %pct   \n  # indented\n",
        scenario("https://staging.example.test")
    );
    std::fs::write(&file, &text).expect("write");
    let out = tmp.path().join("k8s");
    let r = proxylab(
        &[
            "deploy",
            "k8s",
            file.to_str().expect("utf8"),
            "--shards",
            "4",
            "--out",
            out.to_str().expect("utf8"),
            "--image",
            "registry.example.test/proxylab:0.1.0",
            "--start-at",
            "2030-01-01T00:00:00Z",
            "--metrics-port",
            "9464",
            "--metrics-push",
            "http://prometheus.monitoring:9090/api/v1/write",
        ],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let job = std::fs::read_to_string(out.join("02-shards-job.yaml")).expect("job");
    for want in [
        "completionMode: Indexed",
        "completions: 4",
        "parallelism: 4",
        "- \"--shards=4\"",
        "- \"--start-at=2030-01-01T00:00:00Z\"",
        "claimName: dist-results",
        "containerPort: 9464",
        "prometheus.io/scrape: \"true\"",
        "- \"--metrics-push=http://prometheus.monitoring:9090/api/v1/write\"",
    ] {
        assert!(job.contains(want), "{want}:\n{job}");
    }
    let cm = std::fs::read_to_string(out.join("00-configmap.yaml")).expect("configmap");
    assert!(
        cm.contains("  scenario.toml: |\n    name = \"dist\"\n"),
        "{cm}"
    );
    let merge = std::fs::read_to_string(out.join("03-merge-job.yaml")).expect("merge");
    assert!(
        merge.contains("- merge-shards") && merge.contains("- \"--shards=4\""),
        "{merge}"
    );
    let Some(kv) =
        proxylab_testkit::require("kubernetes-validate", "pip install kubernetes-validate")
    else {
        return;
    };
    let files: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 4);
    let o = Command::new(kv)
        .arg("--strict")
        .args(&files)
        .output()
        .expect("kubernetes-validate");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{report}");
    assert_eq!(report.matches("INFO").count(), 4, "{report}");
    // A YAML parser (PyYAML, which kubernetes-validate runs on) reads the scenario back exactly.
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml; sys.stdout.buffer.write(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))['data']['scenario.toml'].encode())",
        ])
        .arg(out.join("00-configmap.yaml"))
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), text);
}
