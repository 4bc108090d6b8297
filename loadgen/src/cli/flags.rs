//! Flags → `Plan` (one population), and `--plan` with its allowed overrides.

use super::Args;
use crate::plan::{
    Arrivals, Behaviour, ConnectionPolicy, Dur, Load, Output, Plan, Population, Protocol,
    RequestSpec, Stage, TlsOptions, parse_shard, parse_stage,
};
use std::collections::BTreeMap;

fn dur(flag: &str, v: &Option<String>) -> Result<Option<Dur>, String> {
    v.as_deref()
        .map(|s| s.parse::<Dur>().map_err(|e| format!("--{flag}: {e}")))
        .transpose()
}

/// Builds the plan the flags describe (validated).
pub fn plan_from_args(a: &Args) -> Result<Plan, String> {
    let mut plan = match &a.plan {
        Some(path) => {
            let conflicting = a.url.is_some()
                || a.rate.is_some()
                || !a.stages.is_empty()
                || a.connections.is_some()
                || a.behaviour.is_some()
                || a.body_size.is_some()
                || a.body_file.is_some()
                || !a.headers.is_empty()
                || a.per_request;
            if conflicting {
                return Err("--plan cannot be combined with a URL or load flags (only outputs, --shard, --threads, --duration, --requests)".into());
            }
            let mut p = Plan::load(path).map_err(|e| e.to_string())?;
            if let Some(d) = dur("duration", &a.duration)? {
                p.duration = d;
            }
            if a.requests.is_some() {
                p.max_requests = a.requests;
            }
            p
        }
        None => from_flags(a)?,
    };
    if let Some(t) = a.threads {
        plan.threads = t;
    }
    let o = &mut plan.output;
    o.summary_json = a.summary_json.clone().or(o.summary_json.take());
    o.series_csv = a.series_csv.clone().or(o.series_csv.take());
    o.hlog = a.hlog.clone().or(o.hlog.take());
    if let Some((i, n)) = shard_of(a)? {
        plan = plan.shard(i, n).map_err(|e| e.to_string())?;
    }
    plan.validate().map_err(|e| e.to_string())?;
    Ok(plan)
}

/// `--shard i/n`, or `--shards n` with the index from `JOB_COMPLETION_INDEX`: (0-based i, n).
pub fn shard_of(a: &Args) -> Result<Option<(u32, u32)>, String> {
    match (&a.shard, a.shards) {
        (Some(s), Some(n)) => {
            let (i, m) = parse_shard(s).map_err(|e| e.to_string())?;
            if m != n {
                return Err(format!("--shard {s} disagrees with --shards {n}"));
            }
            Ok(Some((i, n)))
        }
        (Some(s), None) => parse_shard(s).map(Some).map_err(|e| e.to_string()),
        (None, Some(n)) => crate::plan::index_from_env(n)
            .map(|i| Some((i, n)))
            .map_err(|e| e.to_string()),
        (None, None) => Ok(None),
    }
}

fn from_flags(a: &Args) -> Result<Plan, String> {
    let url = a
        .url
        .clone()
        .ok_or("give a target URL or --plan FILE.toml (see --help)")?;
    crate::plan::Target::parse(&url).map_err(|e| e.to_string())?;
    let duration = dur("duration", &a.duration)?.unwrap_or(Dur::secs(10));
    let mut stages: Vec<Stage> = a
        .stages
        .iter()
        .map(|s| parse_stage(s))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if let Some(r) = &a.rate {
        let rate: f64 = r
            .trim()
            .trim_end_matches("/s")
            .parse()
            .map_err(|_| format!("bad --rate {r:?}: want requests per second, e.g. 2000"))?;
        if !rate.is_finite() || rate <= 0.0 {
            return Err(format!("bad --rate {r:?}: must be > 0"));
        }
        if !stages.is_empty() {
            return Err("give either --rate or --stage, not both".into());
        }
        stages.push(Stage::Constant { rate, duration });
    }
    let arrivals = match a.arrivals.as_str() {
        "uniform" => Arrivals::Uniform,
        "poisson" => Arrivals::Poisson,
        other => return Err(format!("bad --arrivals {other:?}: uniform or poisson")),
    };
    let think_time = dur("think-time", &a.think_time)?.unwrap_or_default();
    let load = if stages.is_empty() {
        Load::Closed {
            connections: a.connections.unwrap_or(10),
            think_time,
        }
    } else {
        Load::Open {
            stages,
            arrivals,
            max_connections: a.connections,
        }
    };
    let protocol = match a.protocol.as_str() {
        "h1" | "http1" | "http/1.1" => Protocol::H1,
        "h2" => Protocol::H2,
        "h2c" => Protocol::H2c,
        other => return Err(format!("bad --protocol {other:?}: h1, h2 or h2c")),
    };
    let mut headers = BTreeMap::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("bad --header {h:?}: want \"Name: value\""))?;
        headers.insert(k.trim().to_string(), v.trim().to_string());
    }
    let request = RequestSpec {
        method: a.method.clone(),
        path: String::new(),
        headers,
        body_size: a.body_size,
        body_file: a.body_file.clone(),
        ..RequestSpec::default()
    };
    let connection = if a.per_request {
        ConnectionPolicy::PerRequest {}
    } else {
        ConnectionPolicy::KeepAlive {
            max_requests: a.max_requests_per_conn,
        }
    };
    let behaviour = match &a.behaviour {
        None => Behaviour::Normal {},
        Some(b) => parse_behaviour(b)?,
    };
    // The URL's path (and query) is the request path; the target is scheme://authority.
    let (base, req_path) = split_url(&url);
    let mut request = request;
    request.path = req_path;
    Ok(Plan {
        targets: vec![base],
        protocol,
        tls: TlsOptions {
            ca_file: a.cacert.clone(),
            insecure: a.insecure,
            sni: a.sni.clone(),
        },
        duration,
        max_requests: a.requests,
        connect_timeout: dur("connect-timeout", &a.connect_timeout)?.unwrap_or(Dur::secs(5)),
        request_timeout: dur("timeout", &a.timeout)?.unwrap_or(Dur::secs(30)),
        threads: 0,
        seed: a.seed.unwrap_or(0),
        output: Output::default(),
        populations: vec![Population {
            name: "main".into(),
            start: Dur::default(),
            duration: None,
            max_requests: None,
            targets: None,
            load,
            connection,
            requests: vec![request],
            behaviour,
            source_addresses: None,
            record_headers: Vec::new(),
        }],
    })
}

/// `http://h:p/a/b?q` → (`http://h:p`, `/a/b?q`).
fn split_url(url: &str) -> (String, String) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => (
            url[..after_scheme + i].to_string(),
            url[after_scheme + i..].to_string(),
        ),
        None => match url[after_scheme..].find('?') {
            Some(i) => (
                url[..after_scheme + i].to_string(),
                format!("/{}", &url[after_scheme + i..]),
            ),
            None => (url.to_string(), "/".to_string()),
        },
    }
}

fn parse_behaviour(s: &str) -> Result<Behaviour, String> {
    let table = if s.trim_start().starts_with('{') {
        s.to_string()
    } else {
        format!("{{ kind = \"{}\" }}", s.trim().replace('-', "_"))
    };
    #[derive(serde::Deserialize)]
    struct W {
        b: Behaviour,
    }
    toml::from_str::<W>(&format!("b = {table}"))
        .map(|w| w.b)
        .map_err(|e| {
            format!(
                "bad --behaviour {s:?}: {}",
                e.message().lines().next().unwrap_or("invalid")
            )
        })
}
