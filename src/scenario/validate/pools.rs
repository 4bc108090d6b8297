//! `[[upstream]]` pools (with the fake's own flag check) and `[proxy]` with its config template.

use super::*;

pub(super) fn upstreams(
    ctx: &Ctx,
    raw: &[Spanned<RawUpstream>],
    seed: u64,
) -> R<Vec<UpstreamPool>> {
    let mut out: Vec<UpstreamPool> = Vec::new();
    for (i, u) in raw.iter().enumerate() {
        let key = |k: &str| format!("upstream[{i}].{k}");
        let r = u.get_ref();
        let name = r.name.get_ref().clone();
        if !valid_name(&name) || name == "proxy" || name == "loadgen" || name == "relay" {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                "letters, digits, '-', '_'; not \"proxy\", \"loadgen\" or \"relay\"",
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
        let app = app_source(ctx, i, u)?;
        let asgi = r.asgi.as_ref().map(|a| a.get_ref().clone());
        kind_fits(ctx, i, u, kind, &app)?;
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
            leak_per_request: size(ctx, r.leak_per_request.as_ref(), &key("leak_per_request"))?,
            memory_limit: size(ctx, r.memory_limit.as_ref(), &key("memory_limit"))?,
            flags: flags(ctx, &key("flags"), r.flags.as_ref())?,
            env: Vec::new(),
        });
        if let (Some(v), UpstreamKind::Uvicorn) = (&r.leak_per_request, kind) {
            return Err(ctx.err(
                v.span(),
                key("leak_per_request"),
                "the fake's leak; a real uvicorn app leaks (or not) by its own code",
            ));
        }
        if let Some(pool) = out.last()
            && pool.kind == UpstreamKind::Fake
        {
            check_fake_flags(pool).map_err(|m| ctx.err(u.span(), key("flags"), m))?;
        }
    }
    Ok(out)
}

/// Pool `i`'s route table for the fake: `app` inline, `app_file`, or the default.
fn app_source(ctx: &Ctx, i: usize, u: &Spanned<RawUpstream>) -> R<AppSource> {
    let key = |k: &str| format!("upstream[{i}].{k}");
    Ok(match (&u.get_ref().app, &u.get_ref().app_file) {
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
    })
}

/// Pool `i`'s keys fit its kind: a uvicorn pool runs `asgi` (and no route table), a fake
/// pool has no `asgi`.
fn kind_fits(
    ctx: &Ctx,
    i: usize,
    u: &Spanned<RawUpstream>,
    kind: UpstreamKind,
    app: &AppSource,
) -> R<()> {
    let key = |k: &str| format!("upstream[{i}].{k}");
    let asgi = u.get_ref().asgi.as_ref();
    match kind {
        UpstreamKind::Uvicorn if asgi.is_none() => Err(ctx.err(
            u.span(),
            key("asgi"),
            "kind \"uvicorn\" needs `asgi = \"module:app\"`",
        )),
        UpstreamKind::Uvicorn if !matches!(app, AppSource::Default) => Err(ctx.err(
            u.span(),
            key("app"),
            "kind \"uvicorn\" runs `asgi`; `app`/`app_file` are for the fake",
        )),
        UpstreamKind::Fake if asgi.is_some() => {
            let span = asgi.map_or(u.span(), |a| a.span());
            Err(ctx.err(span, key("asgi"), "`asgi` needs kind = \"uvicorn\""))
        }
        _ => Ok(()),
    }
}

pub(super) fn flags(
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
pub(super) fn check_fake_flags(pool: &UpstreamPool) -> Result<(), String> {
    use clap::Parser;
    // --quiet: checking prints nothing (the fake's warnings go to its log when it runs).
    let mut argv: Vec<String> = vec![
        "--quiet".into(),
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

pub(super) fn proxy(
    ctx: &Ctx,
    raw: Option<&Spanned<RawProxy>>,
    pools: &[UpstreamPool],
) -> R<ProxySpec> {
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
                    crate::scenario::kind_name(kind)
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
    let rlimit_nofile = match r.and_then(|r| r.rlimit_nofile.as_ref()) {
        Some(n) if *n.get_ref() < 16 => {
            return Err(ctx.err(
                n.span(),
                "proxy.rlimit_nofile",
                "at least 16 (the proxy needs a few descriptors to start)",
            ));
        }
        Some(n) if hard_nofile().is_some_and(|h| *n.get_ref() > h) => {
            return Err(ctx.err(
                n.span(),
                "proxy.rlimit_nofile",
                format!(
                    "above this machine's hard limit ({}): raising it needs CAP_SYS_RESOURCE",
                    hard_nofile().unwrap_or_default()
                ),
            ));
        }
        n => n.map(|n| *n.get_ref()),
    };
    let disk_limit = size(
        ctx,
        r.and_then(|r| r.disk_limit.as_ref()),
        "proxy.disk_limit",
    )?;
    Ok(ProxySpec {
        kind,
        rlimit_nofile,
        disk_limit,
        config,
        config_text,
        listeners,
        cpus: cpus(ctx, "proxy.cpus", r.and_then(|r| r.cpus.clone()))?,
        status_path: r.and_then(|r| r.status_path.clone()),
        status_listener,
        cache_status_path: r.and_then(|r| r.cache_status_path.clone()),
        binary: r
            .and_then(|r| r.binary.clone())
            .unwrap_or_else(|| "nginx".into()),
    })
}

/// A size key: bytes or `"1MiB"`, `"64KiB"` (> 0); the error names `key`.
fn size(ctx: &Ctx, v: Option<&Spanned<toml::Value>>, key: &str) -> R<Option<u64>> {
    let Some(v) = v else { return Ok(None) };
    let n = match v.get_ref() {
        toml::Value::Integer(n) if *n > 0 => Some(*n as u64),
        toml::Value::String(s) => proxylab_relay::toxic::parse_size(s).filter(|n| *n > 0),
        _ => None,
    };
    n.map(Some)
        .ok_or_else(|| ctx.err(v.span(), key, "a size > 0: bytes or \"1MiB\", \"512KiB\""))
}

/// The hard RLIMIT_NOFILE of this process (`Max open files` in /proc/self/limits).
fn hard_nofile() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(4)?.parse().ok()
}
