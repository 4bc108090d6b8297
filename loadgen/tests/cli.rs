//! The command line: bad input gives one line on stderr and exit code 2; outputs are written;
//! shards merge into the same totals.

mod common;
use proxylab_testkit::Nginx;
use std::process::Command;

fn loadgen(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_proxylab-loadgen"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let closed = proxylab_testkit::free_port();
    let unreachable = format!("http://127.0.0.1:{closed}/");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ftp://example/"], "scheme"),
        (vec!["not a url"], "URL"),
        (vec![], "URL"),
        (vec![&unreachable, "-d", "1s"], "cannot connect"),
        (vec!["http://127.0.0.1:9/", "--rate", "fast"], "--rate"),
        (vec!["http://127.0.0.1:9/", "--rate", "-5"], "--rate"),
        (vec!["http://127.0.0.1:9/", "--stage", "ramp:1:2"], "stage"),
        (vec!["http://127.0.0.1:9/", "--stage", "wave:1:1s"], "stage"),
        (
            vec!["http://127.0.0.1:9/", "--duration", "soon"],
            "duration",
        ),
        (
            vec!["http://127.0.0.1:9/", "--behaviour", "teleport"],
            "behaviour",
        ),
        (vec!["http://127.0.0.1:9/", "--shard", "3/2"], "shard"),
        (vec!["--plan", "/nonexistent/plan.toml"], "plan"),
    ];
    for (args, word) in cases {
        let (code, _, err) = loadgen(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(word), "{args:?}: {err}");
    }
}

#[test]
fn outputs_are_written_and_shards_merge() {
    let Some(n) =
        Nginx::start("server { listen 127.0.0.1:{PORT}; location / { return 200 'ok'; } }")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/x", n.port());
    let mut parts = Vec::new();
    for shard in ["1/2", "2/2"] {
        let s = dir.path().join(format!("s{}.json", &shard[..1]));
        let csv = dir.path().join(format!("s{}.csv", &shard[..1]));
        let hlog = dir.path().join(format!("s{}.hlog", &shard[..1]));
        let (code, out, err) = loadgen(&[
            &url,
            "--rate",
            "400",
            "-d",
            "2s",
            "--shard",
            shard,
            "-q",
            "--summary-json",
            s.to_str().unwrap(),
            "--series-csv",
            csv.to_str().unwrap(),
            "--hlog",
            hlog.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("Status: 200=400"), "{out}");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&s).unwrap()).unwrap();
        let pop = &json["populations"]["main"];
        for key in [
            "sent",
            "completed",
            "status",
            "errors",
            "latency_us",
            "duration_s",
            "achieved_rate",
            "schedule_lag_us",
        ] {
            assert!(pop.get(key).is_some(), "missing {key}");
        }
        assert_eq!(
            pop.as_object().unwrap().len(),
            8,
            "exactly the contract's keys"
        );
        for key in ["p50", "p90", "p99", "p999", "max"] {
            assert!(pop["latency_us"][key].as_u64().is_some());
        }
        let csv_text = std::fs::read_to_string(&csv).unwrap();
        let header = csv_text.lines().next().unwrap();
        for col in [
            "status_200",
            "status_429",
            "status_502",
            "status_503",
            "status_504",
            "err_reset",
            "in_flight",
            "p99_us",
        ] {
            assert!(header.split(',').any(|c| c == col), "{header}");
        }
        let hlog_text = std::fs::read_to_string(&hlog).unwrap();
        assert!(
            hlog_text.contains("#[StartTime: ") && hlog_text.contains("Tag=main,"),
            "{hlog_text}"
        );
        // The interval log reads back with HdrHistogram's own parser; counts add up.
        let mut total = 0u64;
        for entry in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(
            hlog_text.as_bytes(),
        ) {
            if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(h)) = entry {
                assert_eq!(
                    h.tag().map(|t| t.as_str().to_string()).as_deref(),
                    Some("main")
                );
                let bytes = base64_decode(h.encoded_histogram());
                let hist: hdrhistogram::Histogram<u64> =
                    hdrhistogram::serialization::Deserializer::new()
                        .deserialize(&mut std::io::Cursor::new(bytes))
                        .expect("histogram decodes");
                total += hist.len();
            }
        }
        assert_eq!(total, 400, "every response is in the interval log");
        parts.push(s);
    }
    let merged = dir.path().join("all.json");
    let (code, out, err) = loadgen(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        "--summary-json",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Status: 200=800"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(json["overall"]["sent"], 800);
    assert_eq!(json["overall"]["status"]["200"], 800);
    assert!(json["overall"]["latency_us"]["max"].as_u64().unwrap() > 0);
}

/// Ctrl-C as soon as nginx has served the first request (the earliest moment the generator
/// is visibly running): the SIGINT handler must already be in place then. Before the handler
/// was installed ahead of the run, a SIGINT at this point occasionally killed the process
/// (signal 2, no result).
#[test]
fn ctrl_c_prints_the_partial_result() {
    let Some(n) = Nginx::start(
        "server { listen 127.0.0.1:{PORT}; access_log {DIR}/c.log; location / { return 200 'ok'; } }",
    ) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", n.port());
    let child = Command::new(env!("CARGO_BIN_EXE_proxylab-loadgen"))
        .args([url.as_str(), "--rate", "200", "-d", "60s", "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = n.dir().join("c.log");
    let served = || std::fs::read_to_string(&log).map_or(0, |t| t.lines().count());
    // Wait (bounded) until nginx has served our first request, then interrupt.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while served() == 0 && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(served() > 0, "no request reached nginx within 20 s");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "it stops promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("INTERRUPTED") && stdout.contains("Status: 200="),
        "{stdout}"
    );
    let completed: usize = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Status: 200="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    // nginx writes its log line after sending the response: wait (bounded) for it to catch up.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while served() < completed && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        completed,
        served(),
        "the partial result counts what nginx served"
    );
}

/// Minimal standard base64 decoder (the interval log's histogram encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= (val(c) as u32) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    out
}
