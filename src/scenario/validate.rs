//! Raw scenario → checked [`Scenario`]: defaults, references, units; every error names the
//! key and its line.

use super::error::{ScenarioError, line_of};
use super::metric::{Metric, Op, parse_limit};
use super::model::*;
use super::raw::*;
use super::template::{self, Placeholder, valid_name};
use proxylab_loadgen::plan::{self, Dur, Load, Plan, Population};
use std::collections::{BTreeSet, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

pub(super) struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub dir: PathBuf,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, span.start),
            key: key.into(),
            message: msg.into(),
        }
    }
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

type R<T> = Result<T, ScenarioError>;

fn cpus(ctx: &Ctx, key: &str, c: Option<Spanned<Vec<usize>>>) -> R<Vec<usize>> {
    let Some(c) = c else { return Ok(Vec::new()) };
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(bad) = c.get_ref().iter().find(|&&x| x >= n) {
        return Err(ctx.err(
            c.span(),
            key,
            format!("CPU {bad} does not exist (this machine has {n})"),
        ));
    }
    Ok(c.into_inner())
}

pub(super) fn validate(ctx: &Ctx, raw: RawScenario, variant: Option<String>) -> R<Scenario> {
    let name = match &raw.name {
        Some(n) if !valid_name(n.get_ref()) => {
            return Err(ctx.err(n.span(), "name", "letters, digits, '-' and '_' only"));
        }
        Some(n) => n.get_ref().clone(),
        None => ctx
            .file
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned()),
    };
    let duration = raw.duration.get_ref().get();
    if duration.is_zero() {
        return Err(ctx.err(raw.duration.span(), "duration", "must be > 0"));
    }
    let sample_interval = raw
        .sample_interval
        .as_ref()
        .map_or(Duration::from_secs(1), |s| s.get_ref().get());
    if sample_interval < Duration::from_millis(100) {
        let span = raw.sample_interval.as_ref().map_or(0..0, |s| s.span());
        return Err(ctx.err(span, "sample_interval", "must be at least 100ms"));
    }
    let ready_timeout = raw
        .ready_timeout
        .as_ref()
        .map_or(Duration::from_secs(15), |s| s.get_ref().get());
    let seed = raw.seed.unwrap_or(0);

    let upstreams = upstreams(ctx, &raw.upstream, seed)?;
    let proxy = proxy(ctx, raw.proxy.as_ref(), &upstreams)?;
    let loadgen = loadgen(ctx, raw.loadgen.clone().unwrap_or_default())?;
    let loads = loads(ctx, &raw.load, &proxy, &upstreams, &loadgen, duration)?;
    let phases = phases(ctx, &raw.phase, duration)?;
    let faults = faults(ctx, &raw.fault, &upstreams, duration)?;
    let asserts = asserts(ctx, &raw.assert, &phases, &loads, &upstreams)?;
    let mut seen = HashSet::new();
    let mut variants = Vec::new();
    for v in &raw.variant {
        let n = v.get_ref().name.get_ref();
        if !valid_name(n) || n == "base" {
            return Err(ctx.err(
                v.get_ref().name.span(),
                "variant.name",
                "letters, digits, '-', '_'; not \"base\"",
            ));
        }
        if !seen.insert(n.clone()) {
            return Err(ctx.err(
                v.get_ref().name.span(),
                "variant.name",
                format!("variant {n:?} defined twice"),
            ));
        }
        variants.push(VariantInfo {
            name: n.clone(),
            description: v.get_ref().description.clone().unwrap_or_default(),
            compare: v.get_ref().compare.unwrap_or(true),
            set: v
                .get_ref()
                .set
                .iter()
                .map(|(k, val)| format!("{k} = {val}"))
                .collect(),
        });
    }
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        duration,
        seed,
        sample_interval,
        ready_timeout,
        path: ctx.file.to_path_buf(),
        text: ctx.text.to_string(),
        dir: ctx.dir.clone(),
        proxy,
        upstreams,
        loadgen,
        loads,
        faults,
        phases,
        asserts,
        variants,
        variant,
    })
}

fn upstreams(ctx: &Ctx, raw: &[Spanned<RawUpstream>], seed: u64) -> R<Vec<UpstreamPool>> {
    let mut out: Vec<UpstreamPool> = Vec::new();
    for (i, u) in raw.iter().enumerate() {
        let key = |k: &str| format!("upstream[{i}].{k}");
        let r = u.get_ref();
        let name = r.name.get_ref().clone();
        if !valid_name(&name) || name == "proxy" || name == "loadgen" {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                "letters, digits, '-', '_'; not \"proxy\" or \"loadgen\"",
            ));
        }
        if out.iter().any(|p| p.name == name) {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                format!("upstream {name:?} defined twice"),
            ));
        }
        let positive = |v: &Option<Spanned<u32>>, k: &str| -> R<u32> {
            match v {
                Some(s) if *s.get_ref() == 0 => Err(ctx.err(s.span(), key(k), "must be >= 1")),
                Some(s) => Ok(*s.get_ref()),
                None => Ok(1),
            }
        };
        let kind = r.kind.unwrap_or(UpstreamKind::Fake);
        let app = match (&r.app, &r.app_file) {
            (Some(a), Some(_)) => {
                return Err(ctx.err(a.span(), key("app"), "`app` and `app_file` are exclusive"));
            }
            (Some(a), None) => {
                a.get_ref()
                    .validate()
                    .map_err(|e| ctx.err(a.span(), key("app"), format!("bad route table: {e}")))?;
                AppSource::Inline(a.get_ref().clone())
            }
            (None, Some(f)) => {
                let p = ctx.resolve(f.get_ref());
                if !p.is_file() {
                    return Err(ctx.err(
                        f.span(),
                        key("app_file"),
                        format!("{} is not a readable file", p.display()),
                    ));
                }
                AppSource::File(p)
            }
            (None, None) => AppSource::Default,
        };
        let asgi = r.asgi.as_ref().map(|a| a.get_ref().clone());
        match kind {
            UpstreamKind::Uvicorn if asgi.is_none() => {
                return Err(ctx.err(
                    u.span(),
                    key("asgi"),
                    "kind \"uvicorn\" needs `asgi = \"module:app\"`",
                ));
            }
            UpstreamKind::Uvicorn if !matches!(app, AppSource::Default) => {
                return Err(ctx.err(
                    u.span(),
                    key("app"),
                    "kind \"uvicorn\" runs `asgi`; `app`/`app_file` are for the fake",
                ));
            }
            UpstreamKind::Fake if asgi.is_some() => {
                let span = r.asgi.as_ref().map_or(u.span(), |a| a.span());
                return Err(ctx.err(span, key("asgi"), "`asgi` needs kind = \"uvicorn\""));
            }
            _ => {}
        }
        out.push(UpstreamPool {
            name,
            kind,
            instances: positive(&r.instances, "instances")?,
            workers: positive(&r.workers, "workers")?,
            limit_concurrency: r.limit_concurrency,
            limit_max_requests: r.limit_max_requests,
            timeout_keep_alive: r.timeout_keep_alive.map(Dur::get),
            backlog: r.backlog,
            timeout_graceful_shutdown: r.timeout_graceful_shutdown.map(Dur::get),
            supervisor: r.supervisor,
            seed: r.seed.unwrap_or(seed.wrapping_add(i as u64 + 1)),
            app,
            asgi,
            app_dir: r
                .app_dir
                .as_deref()
                .map_or(ctx.dir.clone(), |d| ctx.resolve(d)),
            python: r.python.clone().unwrap_or_else(|| "python3".into()),
            args: r.args.clone(),
            cpus: cpus(ctx, &key("cpus"), r.cpus.clone())?,
            restart_sec: r.restart_sec.map(Dur::get),
            may_exit: r.may_exit,
            flags: flags(ctx, &key("flags"), r.flags.as_ref())?,
        });
        if let Some(pool) = out.last()
            && pool.kind == UpstreamKind::Fake
        {
            check_fake_flags(pool).map_err(|m| ctx.err(u.span(), key("flags"), m))?;
        }
    }
    Ok(out)
}

fn flags(
    ctx: &Ctx,
    key: &str,
    t: Option<&Spanned<std::collections::BTreeMap<String, toml::Value>>>,
) -> R<Vec<String>> {
    let mut out = Vec::new();
    let Some(t) = t else { return Ok(out) };
    for (k, v) in t.get_ref() {
        let flag = format!("--{}", k.replace('_', "-"));
        match v {
            toml::Value::Boolean(true) => out.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::String(x) => out.extend([flag, x.clone()]),
            toml::Value::Integer(x) => out.extend([flag, x.to_string()]),
            toml::Value::Float(x) => out.extend([flag, x.to_string()]),
            _ => {
                return Err(ctx.err(
                    t.span(),
                    format!("{key}.{k}"),
                    "a flag value is a string, number or boolean",
                ));
            }
        }
    }
    Ok(out)
}

#[derive(clap::Parser, Debug)]
#[command(name = "proxylab upstream", no_binary_name = true)]
struct UpstreamCli {
    #[command(flatten)]
    args: proxylab_upstream::cli::Args,
}

/// Checks a fake pool's settings with the fake upstream's own flag parser and validation.
fn check_fake_flags(pool: &UpstreamPool) -> Result<(), String> {
    use clap::Parser;
    let mut argv: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--workers".into(),
        pool.workers.to_string(),
    ];
    argv.extend(crate::run::launch::fake_common_flags(pool));
    if let AppSource::File(p) = &pool.app {
        argv.push("--app".into());
        argv.push(p.display().to_string());
    }
    let cli = UpstreamCli::try_parse_from(&argv).map_err(|e| {
        let first = e
            .to_string()
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        format!(
            "`proxylab upstream {}` rejects this: {first}",
            argv.join(" ")
        )
    })?;
    proxylab_upstream::cli::settings(&cli.args)
        .map(|_| ())
        .map_err(|e| format!("proxylab upstream rejects the settings: {e}"))
}

/// Reads a config template and checks its placeholders against the pools.
pub(super) fn config_template(
    ctx: &Ctx,
    span: Range<usize>,
    key: &str,
    path: &Path,
    pools: &[UpstreamPool],
) -> R<(PathBuf, String, Vec<String>)> {
    let p = ctx.resolve(path);
    let text = std::fs::read_to_string(&p).map_err(|e| {
        ctx.err(
            span.clone(),
            key,
            format!("cannot read {}: {e}", p.display()),
        )
    })?;
    let conf_err = |line: usize, message: String| ScenarioError {
        file: p.clone(),
        line,
        key: String::new(),
        message,
    };
    let found = template::scan(&text).map_err(|(l, m)| conf_err(l, m))?;
    let mut listeners = BTreeSet::new();
    for f in &found {
        match &f.what {
            Placeholder::Listen(n) => {
                listeners.insert(n.clone());
            }
            Placeholder::Pool { name, .. } if !pools.iter().any(|p| &p.name == name) => {
                return Err(conf_err(f.line, format!("no [[upstream]] named {name:?}")));
            }
            Placeholder::Instance(name, i) => match pools.iter().find(|p| &p.name == name) {
                None => return Err(conf_err(f.line, format!("no [[upstream]] named {name:?}"))),
                Some(p) if *i >= p.instances => {
                    return Err(conf_err(
                        f.line,
                        format!(
                            "pool {name:?} has {} instance(s); index {i} is out of range",
                            p.instances
                        ),
                    ));
                }
                _ => {}
            },
            _ => {}
        }
    }
    if !listeners.contains("") {
        return Err(conf_err(0, "the config has no {{listen}} placeholder: write `listen {{listen}};` (the runner picks the port)".into()));
    }
    Ok((p, text, listeners.into_iter().collect()))
}

fn proxy(ctx: &Ctx, raw: Option<&Spanned<RawProxy>>, pools: &[UpstreamPool]) -> R<ProxySpec> {
    let r = raw.map(|r| r.get_ref());
    let kind = r
        .and_then(|r| r.kind.as_ref())
        .map_or(ProxyKind::Proxylab, |k| *k.get_ref());
    let cfg = r.and_then(|r| r.config.as_ref());
    let (config, config_text, listeners) = match (kind, cfg) {
        (ProxyKind::None, _) => (None, String::new(), vec![String::new()]),
        (_, None) => {
            let span = raw.map_or(0..0, |r| r.span());
            return Err(ctx.err(
                span,
                "proxy.config",
                format!(
                    "proxy kind {} needs `config = \"FILE.conf\"` (nginx syntax)",
                    super::kind_name(kind)
                ),
            ));
        }
        (_, Some(c)) => {
            let (p, t, l) = config_template(ctx, c.span(), "proxy.config", c.get_ref(), pools)?;
            (Some(p), t, l)
        }
    };
    let status_listener = match r.and_then(|r| r.status_listener.as_ref()) {
        Some(l) if kind != ProxyKind::None && !listeners.contains(l.get_ref()) => {
            return Err(ctx.err(
                l.span(),
                "proxy.status_listener",
                format!("the config has no {{{{listen.{}}}}}", l.get_ref()),
            ));
        }
        Some(l) => l.get_ref().clone(),
        None => String::new(),
    };
    Ok(ProxySpec {
        kind,
        config,
        config_text,
        listeners,
        cpus: cpus(ctx, "proxy.cpus", r.and_then(|r| r.cpus.clone()))?,
        status_path: r.and_then(|r| r.status_path.clone()),
        status_listener,
        binary: r
            .and_then(|r| r.binary.clone())
            .unwrap_or_else(|| "nginx".into()),
    })
}

fn loadgen(ctx: &Ctx, r: RawLoadgen) -> R<LoadgenSettings> {
    let mut tls = r.tls.unwrap_or_default();
    if let Some(ca) = &tls.ca_file {
        tls.ca_file = Some(ctx.resolve(ca));
    }
    Ok(LoadgenSettings {
        protocol: r.protocol.unwrap_or_default(),
        tls,
        connect_timeout: r.connect_timeout.map(Dur::get),
        request_timeout: r.request_timeout.map(Dur::get),
        threads: r.threads.unwrap_or(0),
        cpus: cpus(ctx, "loadgen.cpus", r.cpus)?,
    })
}

fn loads(
    ctx: &Ctx,
    raw: &[Spanned<RawLoad>],
    proxy: &ProxySpec,
    pools: &[UpstreamPool],
    lg: &LoadgenSettings,
    duration: Duration,
) -> R<Vec<LoadSpec>> {
    if raw.is_empty() {
        return Err(ctx.err(
            0..0,
            "load",
            "a scenario needs at least one [[load]] population",
        ));
    }
    let mut out: Vec<LoadSpec> = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let key = |k: &str| format!("load[{i}].{k}");
        let r = l.get_ref();
        let name = r.name.get_ref().clone();
        if !valid_name(&name) || name == "all" {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                "letters, digits, '-', '_'; not \"all\"",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                format!("population {name:?} defined twice"),
            ));
        }
        let target = match &r.target {
            None => LoadTarget::Proxy(String::new()),
            Some(t) => {
                let s = t.get_ref().as_str();
                if s == "proxy" {
                    LoadTarget::Proxy(String::new())
                } else if let Some(n) = s.strip_prefix("proxy.") {
                    if proxy.kind != ProxyKind::None && !proxy.listeners.iter().any(|l| l == n) {
                        return Err(ctx.err(
                            t.span(),
                            key("target"),
                            format!("the proxy config has no {{{{listen.{n}}}}}"),
                        ));
                    }
                    LoadTarget::Proxy(n.to_string())
                } else if pools.iter().any(|p| p.name == s) {
                    LoadTarget::Pool(s.to_string())
                } else {
                    return Err(ctx.err(t.span(), key("target"), format!("unknown target {s:?}: \"proxy\", \"proxy.LISTENER\" or an [[upstream]] name")));
                }
            }
        };
        if proxy.kind == ProxyKind::None
            && matches!(target, LoadTarget::Proxy(_))
            && pools.is_empty()
        {
            return Err(ctx.err(l.span(), key("target"), "proxy kind \"none\" sends the proxy's traffic to the first [[upstream]], and there is none"));
        }
        let model = match (&r.model, &r.stages, &r.connections) {
            (Some(m), _, _) => (m.get_ref().as_str(), m.span()),
            (None, Some(_), None) => ("open", l.span()),
            (None, None, Some(_)) => ("closed", l.span()),
            _ => return Err(ctx.err(l.span(), key("model"), "set `model = \"open\"` (with `stages`) or `model = \"closed\"` (with `connections`)")),
        };
        let load = match model.0 {
            "open" => {
                if let Some(c) = &r.connections {
                    return Err(ctx.err(
                        c.span(),
                        key("connections"),
                        "open loop takes `stages` (and `max_connections`), not `connections`",
                    ));
                }
                let Some(stages) = r.stages.clone() else {
                    return Err(ctx.err(model.1, key("stages"), "open loop needs `stages = [{ shape = \"constant\", rate = 100, duration = \"10s\" }]`"));
                };
                Load::Open {
                    stages,
                    arrivals: r.arrivals.unwrap_or_default(),
                    max_connections: r.max_connections,
                }
            }
            "closed" => {
                let Some(c) = &r.connections else {
                    return Err(ctx.err(
                        model.1,
                        key("connections"),
                        "closed loop needs `connections = N`",
                    ));
                };
                if r.stages.is_some() || r.arrivals.is_some() || r.max_connections.is_some() {
                    return Err(ctx.err(l.span(), key("stages"), "closed loop takes `connections` and `think_time`, not `stages`/`arrivals`/`max_connections`"));
                }
                Load::Closed {
                    connections: *c.get_ref(),
                    think_time: r.think_time.unwrap_or_default(),
                }
            }
            other => {
                return Err(ctx.err(
                    model.1,
                    key("model"),
                    format!("unknown model {other:?} (open or closed)"),
                ));
            }
        };
        let mut requests = r
            .requests
            .clone()
            .unwrap_or_else(|| vec![plan::RequestSpec::default()]);
        for q in &mut requests {
            if let Some(f) = &q.body_file {
                q.body_file = Some(ctx.resolve(f));
            }
        }
        let spec = LoadSpec {
            name,
            target,
            tls: r.tls,
            start: r.start.map_or(Duration::ZERO, Dur::get),
            duration: r.duration.map(Dur::get),
            max_requests: r.max_requests,
            load,
            connection: r.connection.clone().unwrap_or_default(),
            requests,
            behaviour: r.behaviour.clone().unwrap_or_default(),
        };
        // The loadgen's own rules, on a one-population plan with a placeholder target.
        let probe = Plan {
            targets: vec![
                if spec.tls {
                    "https://127.0.0.1:1"
                } else {
                    "http://127.0.0.1:1"
                }
                .to_string(),
            ],
            protocol: lg.protocol,
            tls: plan::TlsOptions::default(),
            duration: Dur::from(duration),
            max_requests: None,
            connect_timeout: Dur::secs(5),
            request_timeout: Dur::secs(30),
            threads: 0,
            seed: 0,
            output: plan::Output::default(),
            populations: vec![population(&spec, None)],
        };
        probe.validate().map_err(|e| {
            ctx.err(
                l.span(),
                format!("load[{i}]"),
                format!("population {:?}: {e}", spec.name),
            )
        })?;
        out.push(spec);
    }
    Ok(out)
}

/// The loadgen population for a load spec (`targets` None = the plan's).
pub fn population(l: &LoadSpec, targets: Option<Vec<String>>) -> Population {
    Population {
        name: l.name.clone(),
        start: Dur::from(l.start),
        duration: l.duration.map(Dur::from),
        max_requests: l.max_requests,
        targets,
        load: l.load.clone(),
        connection: l.connection.clone(),
        requests: l.requests.clone(),
        behaviour: l.behaviour.clone(),
    }
}

fn phases(ctx: &Ctx, raw: &[Spanned<RawPhase>], duration: Duration) -> R<Vec<Phase>> {
    let mut out: Vec<Phase> = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let r = p.get_ref();
        let key = |k: &str| format!("phase[{i}].{k}");
        let name = r.name.get_ref().clone();
        if !valid_name(&name) || name == "all" {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                "letters, digits, '-', '_'; not \"all\" (the whole run)",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                format!("phase {name:?} defined twice"),
            ));
        }
        let start = r.start.get_ref().get();
        let end = r.end.as_ref().map_or(duration, |e| e.get_ref().get());
        if end > duration {
            let span = r.end.as_ref().map_or(p.span(), |e| e.span());
            return Err(ctx.err(
                span,
                key("end"),
                format!(
                    "ends after the scenario's duration ({})",
                    Dur::from(duration)
                ),
            ));
        }
        if start >= end {
            return Err(ctx.err(r.start.span(), key("start"), "must be before `end`"));
        }
        out.push(Phase { name, start, end });
    }
    Ok(out)
}

fn fault_target(
    ctx: &Ctx,
    t: &Spanned<String>,
    key: &str,
    pools: &[UpstreamPool],
) -> R<FaultTarget> {
    let s = t.get_ref().as_str();
    if s == "proxy" {
        return Ok(FaultTarget::Proxy);
    }
    let (pool, idx) = match s.rsplit_once('.') {
        Some((p, i)) => match i.parse::<u32>() {
            Ok(i) => (p, Some(i)),
            Err(_) => (s, None),
        },
        None => (s, None),
    };
    let Some(p) = pools.iter().find(|p| p.name == pool) else {
        return Err(ctx.err(
            t.span(),
            key,
            format!("unknown target {s:?}: \"proxy\", an [[upstream]] name, or NAME.INDEX"),
        ));
    };
    match idx {
        Some(i) if i >= p.instances => Err(ctx.err(
            t.span(),
            key,
            format!(
                "pool {pool:?} has {} instance(s); index {i} is out of range",
                p.instances
            ),
        )),
        Some(i) => Ok(FaultTarget::Instance(pool.to_string(), i)),
        None => Ok(FaultTarget::Pool(pool.to_string())),
    }
}

fn signal_number(s: &str) -> Option<i32> {
    let s = s.trim().trim_start_matches("SIG");
    Some(match s {
        "KILL" => libc::SIGKILL,
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "HUP" => libc::SIGHUP,
        _ => s.parse().ok().filter(|n| (1..=64).contains(n))?,
    })
}

fn faults(
    ctx: &Ctx,
    raw: &[Spanned<RawFault>],
    pools: &[UpstreamPool],
    duration: Duration,
) -> R<Vec<Fault>> {
    let mut out = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let r = f.get_ref();
        let key = |k: &str| format!("fault[{i}].{k}");
        let at = r.at.get_ref().get();
        if at >= duration {
            return Err(ctx.err(
                r.at.span(),
                key("at"),
                format!("not before the end of the run ({})", Dur::from(duration)),
            ));
        }
        let action_name = r.action.get_ref().as_str();
        let target = match &r.target {
            Some(t) => fault_target(ctx, t, &key("target"), pools)?,
            None if action_name == "reload" => FaultTarget::Proxy,
            None => {
                return Err(ctx.err(
                    f.span(),
                    key("target"),
                    "missing `target` (\"proxy\", a pool, or POOL.INDEX)",
                ));
            }
        };
        let is_proxy = target == FaultTarget::Proxy;
        let pool_kind = match &target {
            FaultTarget::Pool(p) | FaultTarget::Instance(p, _) => {
                pools.iter().find(|x| &x.name == p).map(|x| x.kind)
            }
            FaultTarget::Proxy => None,
        };
        let not_proxy = |what: &str| -> R<()> {
            if is_proxy {
                return Err(ctx.err(
                    f.span(),
                    key("target"),
                    format!("{what} applies to upstreams, not the proxy"),
                ));
            }
            Ok(())
        };
        let admin = |what: &str| -> R<()> {
            not_proxy(what)?;
            if pool_kind != Some(UpstreamKind::Fake) {
                return Err(ctx.err(
                    f.span(),
                    key("action"),
                    format!(
                        "{what} uses the fake upstream's admin API; the target is not kind \"fake\""
                    ),
                ));
            }
            Ok(())
        };
        let action = match action_name {
            "kill" => {
                not_proxy("kill")?;
                let signal = match &r.signal {
                    None => libc::SIGKILL,
                    Some(s) => signal_number(s.get_ref()).ok_or_else(|| {
                        ctx.err(
                            s.span(),
                            key("signal"),
                            "a signal: KILL, TERM, INT, QUIT, HUP or a number",
                        )
                    })?,
                };
                FaultAction::Kill {
                    signal,
                    restart_after: r.restart_after.map(Dur::get),
                }
            }
            "restart" => {
                not_proxy("restart")?;
                FaultAction::Restart
            }
            "pause" => FaultAction::Pause,
            "resume" => FaultAction::Resume,
            "unhealthy" => {
                admin("unhealthy")?;
                FaultAction::Unhealthy
            }
            "healthy" => {
                admin("healthy")?;
                FaultAction::Healthy
            }
            "latency" => {
                admin("latency")?;
                let Some(fac) = &r.factor else {
                    return Err(ctx.err(
                        f.span(),
                        key("factor"),
                        "latency needs `factor` (e.g. 5.0 = five times slower)",
                    ));
                };
                if !(fac.get_ref().is_finite() && *fac.get_ref() > 0.0) {
                    return Err(ctx.err(fac.span(), key("factor"), "must be a number > 0"));
                }
                FaultAction::Latency(*fac.get_ref())
            }
            "stop_accepting" => {
                admin("stop_accepting")?;
                FaultAction::StopAccepting
            }
            "resume_accepting" => {
                admin("resume_accepting")?;
                FaultAction::ResumeAccepting
            }
            "crash_worker" => {
                admin("crash_worker")?;
                FaultAction::CrashWorker
            }
            "reload" => {
                if !is_proxy {
                    return Err(ctx.err(f.span(), key("target"), "reload applies to the proxy"));
                }
                let Some(c) = &r.config else {
                    return Err(ctx.err(
                        f.span(),
                        key("config"),
                        "reload needs `config = \"OTHER.conf\"`",
                    ));
                };
                let (p, _, _) = config_template(ctx, c.span(), &key("config"), c.get_ref(), pools)?;
                FaultAction::Reload(p)
            }
            other => {
                return Err(ctx.err(r.action.span(), key("action"), format!(
                    "unknown action {other:?} (kill, restart, pause, resume, unhealthy, healthy, latency, \
                     stop_accepting, resume_accepting, crash_worker, reload)")));
            }
        };
        if r.restart_after.is_some() && !matches!(action, FaultAction::Kill { .. }) {
            return Err(ctx.err(
                f.span(),
                key("restart_after"),
                "only `kill` takes `restart_after`",
            ));
        }
        if r.signal.is_some() && !matches!(action, FaultAction::Kill { .. }) {
            return Err(ctx.err(f.span(), key("signal"), "only `kill` takes `signal`"));
        }
        if r.factor.is_some() && !matches!(action, FaultAction::Latency(_)) {
            return Err(ctx.err(f.span(), key("factor"), "only `latency` takes `factor`"));
        }
        if r.config.is_some() && !matches!(action, FaultAction::Reload(_)) {
            return Err(ctx.err(f.span(), key("config"), "only `reload` takes `config`"));
        }
        let undoable = matches!(
            action,
            FaultAction::Pause
                | FaultAction::Unhealthy
                | FaultAction::Latency(_)
                | FaultAction::StopAccepting
        );
        if r.for_.is_some() && !undoable {
            return Err(ctx.err(
                f.span(),
                key("for"),
                "only pause, unhealthy, latency and stop_accepting take `for`",
            ));
        }
        let label = r.label.clone().unwrap_or_else(|| {
            let t = match &target {
                FaultTarget::Proxy => "proxy".to_string(),
                FaultTarget::Pool(p) => p.clone(),
                FaultTarget::Instance(p, i) => format!("{p}.{i}"),
            };
            format!("{action_name} {t}")
        });
        out.push(Fault {
            at,
            action,
            target,
            undo_after: r.for_.map(Dur::get),
            label,
        });
    }
    out.sort_by_key(|f| f.at);
    Ok(out)
}

fn asserts(
    ctx: &Ctx,
    raw: &[Spanned<RawAssert>],
    phases: &[Phase],
    loads: &[LoadSpec],
    pools: &[UpstreamPool],
) -> R<Vec<Assertion>> {
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let r = a.get_ref();
        let key = |k: &str| format!("assert[{i}].{k}");
        let metric = Metric::parse(r.metric.get_ref())
            .map_err(|m| ctx.err(r.metric.span(), key("metric"), m))?;
        if let Some(c) = metric.component() {
            let ok = c == "proxy"
                || c == "loadgen"
                || pools.iter().any(|p| {
                    p.name == c
                        || c.strip_prefix(&format!("{}.", p.name))
                            .and_then(|i| i.parse::<u32>().ok())
                            .is_some_and(|i| i < p.instances)
                });
            if !ok {
                return Err(ctx.err(
                    r.metric.span(),
                    key("metric"),
                    format!("unknown component {c:?}: proxy, loadgen, a pool or POOL.INDEX"),
                ));
            }
        }
        let op = Op::parse(r.op.get_ref()).map_err(|m| ctx.err(r.op.span(), key("op"), m))?;
        let limit = parse_limit(metric.unit(), r.value.get_ref())
            .map_err(|m| ctx.err(r.value.span(), key("value"), m))?;
        let phase = match &r.phase {
            Some(p) if p.get_ref() != "all" && !phases.iter().any(|x| &x.name == p.get_ref()) => {
                return Err(ctx.err(
                    p.span(),
                    key("phase"),
                    format!("unknown phase {:?}", p.get_ref()),
                ));
            }
            Some(p) if p.get_ref() == "all" => None,
            p => p.as_ref().map(|p| p.get_ref().clone()),
        };
        let population = match &r.population {
            Some(p) if p.get_ref() != "all" && !loads.iter().any(|x| &x.name == p.get_ref()) => {
                return Err(ctx.err(
                    p.span(),
                    key("population"),
                    format!("unknown population {:?}", p.get_ref()),
                ));
            }
            Some(p) if p.get_ref() == "all" => None,
            p => p.as_ref().map(|p| p.get_ref().clone()),
        };
        if population.is_some() && metric.component().is_some() {
            return Err(ctx.err(
                a.span(),
                key("population"),
                "CPU/RSS metrics are per component, not per population",
            ));
        }
        let name = r.name.clone().unwrap_or_else(|| {
            let mut n = format!("{metric} {op} {}", r.value.get_ref());
            if let Some(p) = &phase {
                n.push_str(&format!(" [phase {p}]"));
            }
            if let Some(p) = &population {
                n.push_str(&format!(" [population {p}]"));
            }
            n.replace('"', "")
        });
        out.push(Assertion {
            name,
            metric,
            phase,
            population,
            op,
            limit,
            line: line_of(ctx.text, a.span().start),
        });
    }
    Ok(out)
}
