//! Helpers shared by the loadgen tests: build small plans, run them through the library, talk
//! to the fake upstream's admin API.
#![allow(dead_code)]

use proxylab_loadgen::engine::{self, RunResult};
use proxylab_loadgen::plan::{
    Behaviour, ConnectionPolicy, Dur, Load, Plan, Population, RequestSpec, Stage,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A one-population plan against `url` with `load`.
pub fn plan(url: &str, load: Load, duration: Duration) -> Plan {
    let text = format!(
        "targets = [\"{url}\"]\nduration = \"{}\"\nthreads = 2\n[[population]]\nname = \"p\"\nload = {{ model = \"closed\", connections = 1 }}\n",
        humantime::format_duration(duration)
    );
    let mut p = Plan::from_toml_str(&text).expect("plan");
    p.populations[0].load = load;
    p
}

/// Open loop at a constant `rate` for `secs` seconds.
pub fn open(rate: f64, secs: u64) -> Load {
    Load::Open {
        stages: vec![Stage::Constant {
            rate,
            duration: Dur::secs(secs),
        }],
        arrivals: Default::default(),
        max_connections: None,
    }
}

/// Closed loop with `n` connections.
pub fn closed(n: u32) -> Load {
    Load::Closed {
        connections: n,
        think_time: Dur::default(),
    }
}

/// Sets the population's behaviour, request path and connection policy.
pub fn with(mut p: Plan, behaviour: Behaviour, path: &str, per_request: bool) -> Plan {
    let pop: &mut Population = &mut p.populations[0];
    pop.behaviour = behaviour;
    pop.requests = vec![RequestSpec {
        path: path.to_string(),
        ..RequestSpec::default()
    }];
    if per_request {
        pop.connection = ConnectionPolicy::PerRequest {};
    }
    p
}

/// Runs a plan to its end.
pub fn run(plan: &Plan) -> RunResult {
    run_with_rows(plan).0
}

/// Runs a plan to its end, also returning every per-second row it reported.
pub fn run_with_rows(plan: &Plan) -> (RunResult, Vec<proxylab_loadgen::engine::Row>) {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut rows = Vec::new();
    let res = engine::run(plan, rx, &mut |r| rows.extend_from_slice(r)).expect("run");
    (res, rows)
}

/// One request to the fake's admin API; returns the body.
pub fn admin(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("admin connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("admin write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The fake's counters as JSON.
pub fn counters(addr: SocketAddr) -> serde_json::Value {
    serde_json::from_str(&admin(addr, "GET", "/counters")).expect("counters JSON")
}

/// Lines of a log file that contain `needle`.
pub fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}
