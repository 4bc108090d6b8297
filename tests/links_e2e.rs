//! Link faults end to end: the runner puts the relay (`proxylab relay`) on the links a
//! scenario's faults name, and each toxic has its measured effect on real processes (our
//! proxy, a fake upstream, the loadgen). Bad link faults exit 2 naming the key.

mod common;

use common::{Out, proxylab, run_ci, run_dirs, scenario, summary};
use std::path::Path;
use std::time::Duration;

fn run(file: &str, out: &Path) -> Out {
    run_ci(&scenario(file), &[], out)
}

/// The measured value of the assertion named `name`.
fn actual(s: &serde_json::Value, name: &str) -> f64 {
    s["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["actual"].as_f64())
        .unwrap_or_else(|| panic!("no measured assertion {name:?}: {s}"))
}

/// Every toxic of `links.toml` in its own slot: the scenario's own assertions check the error
/// class of each (502 / 504 at the proxy, reset / truncated / connect_refused at the loadgen);
/// here the latency shift is checked against its tolerance.
#[test]
fn each_link_fault_has_its_effect() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("links.toml", out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &run_dirs(out.path(), "links")[0];
    let s = summary(d);
    for m in s["faults"].as_array().expect("faults") {
        assert!(m["error"].is_null(), "fault applied without error: {m}");
    }
    // One request crosses the proxy->api link once each way (upstream keepalive: no extra
    // handshake through the relay, and the relay's own connect is not delayed). A `down`
    // latency of 50 ms therefore adds 50 ms to every response, `both` adds 2 × 50 ms (± the
    // 5 ms jitter, uniform, so the median is unmoved). Timers never fire early, so the lower
    // bound is exact minus the clean median (which the delayed run also pays); the upper
    // bound allows 30 ms (40 ms for two hops) of timer rounding and scheduling on a shared
    // two-core machine.
    let clean = actual(&s, "p50 clean");
    let down = actual(&s, "p50 latency down");
    let both = actual(&s, "p50 latency both");
    assert!(
        down >= 50.0 && down - clean <= 80.0,
        "one-way 50 ms: clean {clean} ms, delayed {down} ms"
    );
    assert!(
        both >= 95.0 && both - clean <= 140.0,
        "two-way 50 ms: clean {clean} ms, delayed {both} ms"
    );
    // The relay is sampled like every component.
    let samples = std::fs::read_to_string(d.join("samples.csv")).expect("samples");
    assert!(samples.contains("cpu.relay"), "relay sampled");
    let log = std::fs::read_to_string(d.join("logs/relay.log")).expect("relay log");
    assert!(log.contains("proxylab-relay control"), "{log}");
}

/// A 1 MiB/s cap makes a 1 MiB body take about a second; a reset with toxicity 0.5 hits about
/// half of the connections (one per request).
#[test]
fn bandwidth_caps_a_body_and_toxicity_is_a_share_of_connections() {
    let out = tempfile::tempdir().expect("tempdir");
    let r = run("links-shape.toml", out.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let s = summary(&run_dirs(out.path(), "links-shape")[0]);
    // The pacer never lets bytes out faster than the rate: 1 MiB minus the first 20 ms piece
    // takes ≥ 0.98 s. 1.5 s leaves room for a shared machine.
    let p50 = actual(&s, "bulk p50");
    assert!((950.0..1500.0).contains(&p50), "1 MiB at 1 MiB/s: {p50} ms");
    // 250 connections, each touched with p = 0.5: 3 standard deviations is ±9.5 %.
    let share = actual(&s, "small resets");
    assert!((0.38..0.62).contains(&share), "reset share {share}");
}

const BASE: &str = "duration = \"3s\"\n[proxy]\nconfig = \"p.conf\"\n[[upstream]]\nname = \"api\"\n[[load]]\nname = \"web\"\nmodel = \"closed\"\nconnections = 1\n";
const CONF: &str = "events {}\nhttp { upstream api { {{upstream.api}} } server { listen {{listen}}; location / { proxy_pass http://api; } } }\n";

fn check(fault: &str) -> Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, format!("{BASE}[[fault]]\nat = \"1s\"\n{fault}")).expect("write");
    std::fs::write(dir.path().join("p.conf"), CONF).expect("conf");
    let out = proxylab(
        &["run", "--check", p.to_str().expect("utf8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out
}

#[test]
fn bad_link_faults_exit_2_naming_the_key() {
    let cases = [
        (
            "target = \"link:proxy->nope\"\naction = \"latency\"\nlatency = \"5ms\"\n",
            "fault[0].target",
            "unknown pool \"nope\"",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"latency\"\nlatency = \"-50ms\"\n",
            "fault[0].latency",
            "must not be negative",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"bandwidth\"\n",
            "fault[0].rate",
            "needs `rate`",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"latency\"\nlatency = \"5ms\"\ntoxicity = 2.0\n",
            "fault[0].toxicity",
            "between 0 and 1",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"latency\"\nlatency = \"5ms\"\ndirection = \"sideways\"\n",
            "fault[0].direction",
            "\"up\", \"down\" or \"both\"",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"latency\"\nlatency = \"5ms\"\nbytes = 10\n",
            "fault[0].bytes",
            "does not take `bytes`",
        ),
        (
            "target = \"api\"\naction = \"kill\"\nlatency = \"5ms\"\n",
            "fault[0].latency",
            "only link faults",
        ),
        (
            "target = \"link:proxy->api\"\naction = \"flood\"\n",
            "fault[0].action",
            "unknown link fault",
        ),
    ];
    for (fault, key, msg) in cases {
        let out = check(fault);
        assert!(
            out.stderr.contains(&format!("key `{key}`")) && out.stderr.contains(msg),
            "{fault}: {}",
            out.all()
        );
    }
}

/// `mode = "kernel"` is probed and refused with what the probe found (this kernel has no
/// netem), never replaced by the relay silently.
#[test]
fn kernel_mode_is_refused_with_the_probe_findings() {
    let out = check(
        "target = \"link:proxy->api\"\naction = \"latency\"\nlatency = \"5ms\"\nmode = \"kernel\"\n",
    );
    assert!(
        out.stderr.contains("key `fault[0].mode`") && out.stderr.contains("netem"),
        "{}",
        out.all()
    );
}
