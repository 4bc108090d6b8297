//! `[[phase]]` windows and the `[[fault]]` timeline.

use super::*;

pub(super) fn phases(ctx: &Ctx, raw: &[Spanned<RawPhase>], duration: Duration) -> R<Vec<Phase>> {
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

pub(super) fn fault_target(
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

pub(super) fn signal_number(s: &str) -> Option<i32> {
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

/// `hold_connections` on a `[[service]]` with `connections` >= 1.
fn hold_connections(
    ctx: &Ctx,
    i: usize,
    f: &Spanned<RawFault>,
    target: &FaultTarget,
) -> R<FaultAction> {
    let key = |k: &str| format!("fault[{i}].{k}");
    if !matches!(target, FaultTarget::Service(_)) {
        return Err(ctx.err(
            f.span(),
            key("target"),
            "hold_connections applies to a [[service]]",
        ));
    }
    match &f.get_ref().connections {
        Some(n) if *n.get_ref() >= 1 => Ok(FaultAction::HoldConnections(*n.get_ref())),
        Some(n) => Err(ctx.err(n.span(), key("connections"), "must be >= 1")),
        None => Err(ctx.err(
            f.span(),
            key("connections"),
            "hold_connections needs `connections = N`",
        )),
    }
}

/// `lock_table` on a PostgreSQL `[[service]]`, or on a fake pool (its `db` routes reading
/// the table wait: the fast model of the same fault), with `table = "NAME"` (or
/// `SCHEMA.NAME`).
fn lock_table(
    ctx: &Ctx,
    i: usize,
    f: &Spanned<RawFault>,
    target: &FaultTarget,
    services: &[ServiceSpec],
    pool_kind: Option<UpstreamKind>,
) -> R<FaultAction> {
    let key = |k: &str| format!("fault[{i}].{k}");
    let pg = matches!(target, FaultTarget::Service(n)
        if services.iter().any(|s| &s.name == n && s.kind == ServiceKind::Postgres));
    if !pg && pool_kind != Some(UpstreamKind::Fake) {
        return Err(ctx.err(
            f.span(),
            key("target"),
            "lock_table applies to a [[service]] of kind \"postgres\" or a pool of kind \"fake\" (its db routes)",
        ));
    }
    match &f.get_ref().table {
        Some(t) if !t.get_ref().is_empty() && t.get_ref().split('.').all(valid_ident) => {
            Ok(FaultAction::LockTable(t.get_ref().clone()))
        }
        Some(t) => Err(ctx.err(
            t.span(),
            key("table"),
            "a table name (letters, digits, '_', not starting with a digit), or SCHEMA.NAME",
        )),
        None => Err(ctx.err(
            f.span(),
            key("table"),
            "lock_table needs `table = \"NAME\"`",
        )),
    }
}

/// `slow_query` on a Redis `[[service]]`, as long as its `for`.
fn slow_query(
    ctx: &Ctx,
    i: usize,
    f: &Spanned<RawFault>,
    target: &FaultTarget,
    services: &[ServiceSpec],
) -> R<FaultAction> {
    let key = |k: &str| format!("fault[{i}].{k}");
    let redis = matches!(target, FaultTarget::Service(n)
        if services.iter().any(|s| &s.name == n && s.kind == ServiceKind::Redis));
    if !redis {
        return Err(ctx.err(
            f.span(),
            key("target"),
            "slow_query applies to a [[service]] of kind \"redis\" (on PostgreSQL, lock_table makes queries slow)",
        ));
    }
    match f.get_ref().for_.map(Dur::get) {
        Some(d) if !d.is_zero() => Ok(FaultAction::SlowQuery(d)),
        _ => Err(ctx.err(
            f.span(),
            key("for"),
            "slow_query needs `for` (how long the command runs), more than 0",
        )),
    }
}

/// An unquoted SQL identifier: `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

pub(super) fn faults(
    ctx: &Ctx,
    raw: &[Spanned<RawFault>],
    pools: &[UpstreamPool],
    services: &[ServiceSpec],
    proxy: ProxyKind,
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
        let link = r
            .target
            .as_ref()
            .filter(|t| t.get_ref().starts_with("link:"));
        if link.is_none() {
            links::no_toxic_keys(ctx, i, r)?;
        }
        let target = match &r.target {
            Some(t) if link.is_some() => {
                FaultTarget::Link(links::hop(ctx, t, &key("target"), pools, services, proxy)?)
            }
            Some(t) if services.iter().any(|s| &s.name == t.get_ref()) => {
                FaultTarget::Service(t.get_ref().clone())
            }
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
            FaultTarget::Proxy | FaultTarget::Link(_) | FaultTarget::Service(_) => None,
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
            _ if link.is_some() => FaultAction::Toxic(links::toxic(ctx, i, f)?),
            "kill" => {
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
            "restart" => FaultAction::Restart,
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
            "hold_connections" => hold_connections(ctx, i, f, &target)?,
            "lock_table" => lock_table(ctx, i, f, &target, services, pool_kind)?,
            "slow_query" => slow_query(ctx, i, f, &target, services)?,
            "crash_workers" => {
                admin("crash_workers")?;
                FaultAction::CrashWorkers
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
                     stop_accepting, resume_accepting, crash_worker, crash_workers, hold_connections, lock_table, slow_query, reload)")));
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
        if r.connections.is_some() && !matches!(action, FaultAction::HoldConnections(_)) {
            return Err(ctx.err(
                f.span(),
                key("connections"),
                "only `hold_connections` takes `connections`",
            ));
        }
        if r.table.is_some() && !matches!(action, FaultAction::LockTable(_)) {
            return Err(ctx.err(f.span(), key("table"), "only `lock_table` takes `table`"));
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
                | FaultAction::HoldConnections(_)
                | FaultAction::LockTable(_)
                | FaultAction::SlowQuery(_)
                | FaultAction::Toxic(_)
        );
        if r.for_.is_some() && !undoable {
            return Err(ctx.err(
                f.span(),
                key("for"),
                "only pause, unhealthy, latency, stop_accepting, hold_connections, lock_table, slow_query and link faults take `for`",
            ));
        }
        let label = r.label.clone().unwrap_or_else(|| {
            let t = match &target {
                FaultTarget::Proxy => "proxy".to_string(),
                FaultTarget::Pool(p) => p.clone(),
                FaultTarget::Instance(p, i) => format!("{p}.{i}"),
                FaultTarget::Link(h) => format!("link:{h}"),
                FaultTarget::Service(s) => s.clone(),
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
