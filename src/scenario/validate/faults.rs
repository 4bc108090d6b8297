//! The `[[fault]]` timeline: each fault's time, target and action checked (the keys an action
//! does not take refused), labelled, and sorted by time.

use super::timeline::{fault_target, signal_number};
use super::*;

/// What a fault may name: the pools, the services and the proxy's kind.
struct Scope<'a> {
    pools: &'a [UpstreamPool],
    services: &'a [ServiceSpec],
    proxy: ProxyKind,
}

/// One `[[fault]]` being checked: its index (for keys) and its table.
struct One<'a> {
    ctx: &'a Ctx<'a>,
    i: usize,
    f: &'a Spanned<RawFault>,
}

impl One<'_> {
    /// `fault[I].KEY`.
    fn key(&self, k: &str) -> String {
        format!("fault[{}].{k}", self.i)
    }

    /// An error at the fault's table naming `fault[I].KEY`.
    fn err(&self, k: &str, msg: impl Into<String>) -> ScenarioError {
        self.ctx.err(self.f.span(), self.key(k), msg)
    }
}

pub(super) fn faults(
    ctx: &Ctx,
    raw: &[Spanned<RawFault>],
    pools: &[UpstreamPool],
    services: &[ServiceSpec],
    proxy: ProxyKind,
    duration: Duration,
) -> R<Vec<Fault>> {
    let scope = Scope {
        pools,
        services,
        proxy,
    };
    let mut out = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        out.push(fault(&One { ctx, i, f }, &scope, duration)?);
    }
    out.sort_by_key(|f| f.at);
    Ok(out)
}

/// One checked fault.
fn fault(one: &One<'_>, scope: &Scope<'_>, duration: Duration) -> R<Fault> {
    let r = one.f.get_ref();
    let at = r.at.get_ref().get();
    if at >= duration {
        return Err(one.ctx.err(
            r.at.span(),
            one.key("at"),
            format!("not before the end of the run ({})", Dur::from(duration)),
        ));
    }
    let link = r
        .target
        .as_ref()
        .is_some_and(|t| t.get_ref().starts_with("link:"));
    if !link {
        links::no_toxic_keys(one.ctx, one.i, r)?;
    }
    let target = target(one, scope, link)?;
    let action = if link {
        FaultAction::Toxic(links::toxic(one.ctx, one.i, one.f)?)
    } else {
        action(one, scope, &target)?
    };
    keys_fit(one, &action)?;
    let label = r
        .label
        .clone()
        .unwrap_or_else(|| label(r.action.get_ref(), &target));
    Ok(Fault {
        at,
        action,
        target,
        undo_after: r.for_.map(Dur::get),
        label,
    })
}

/// What the fault acts on: a link (`link:HOP`), a `[[service]]`, the proxy, a pool or one
/// instance; `reload` without a target is the proxy's.
fn target(one: &One<'_>, scope: &Scope<'_>, link: bool) -> R<FaultTarget> {
    let r = one.f.get_ref();
    Ok(match &r.target {
        Some(t) if link => FaultTarget::Link(links::hop(
            one.ctx,
            t,
            &one.key("target"),
            scope.pools,
            scope.services,
            scope.proxy,
        )?),
        Some(t) if scope.services.iter().any(|s| &s.name == t.get_ref()) => {
            FaultTarget::Service(t.get_ref().clone())
        }
        Some(t) => fault_target(one.ctx, t, &one.key("target"), scope.pools)?,
        None if r.action.get_ref() == "reload" => FaultTarget::Proxy,
        None => {
            return Err(one.err(
                "target",
                "missing `target` (\"proxy\", a pool, or POOL.INDEX)",
            ));
        }
    })
}

/// The action of a fault that is not a link's.
fn action(one: &One<'_>, scope: &Scope<'_>, target: &FaultTarget) -> R<FaultAction> {
    let r = one.f.get_ref();
    let name = r.action.get_ref().as_str();
    let admin = |action: FaultAction| -> R<FaultAction> {
        admin_target(one, scope, target, name)?;
        Ok(action)
    };
    match name {
        "kill" => kill(one),
        "restart" => Ok(FaultAction::Restart),
        "pause" => Ok(FaultAction::Pause),
        "resume" => Ok(FaultAction::Resume),
        "unhealthy" => admin(FaultAction::Unhealthy),
        "healthy" => admin(FaultAction::Healthy),
        "latency" => {
            admin_target(one, scope, target, name)?;
            latency(one)
        }
        "stop_accepting" => admin(FaultAction::StopAccepting),
        "resume_accepting" => admin(FaultAction::ResumeAccepting),
        "crash_worker" => admin(FaultAction::CrashWorker),
        "hold_connections" => hold_connections(one.ctx, one.i, one.f, target),
        "lock_table" => lock_table(
            one.ctx,
            one.i,
            one.f,
            target,
            scope.services,
            pool_kind(scope, target),
        ),
        "slow_query" => slow_query(one.ctx, one.i, one.f, target, scope.services),
        "crash_workers" => admin(FaultAction::CrashWorkers),
        "reload" => reload(one, scope, target),
        other => Err(one.ctx.err(r.action.span(), one.key("action"), format!(
            "unknown action {other:?} (kill, restart, pause, resume, unhealthy, healthy, latency, \
             stop_accepting, resume_accepting, crash_worker, crash_workers, hold_connections, lock_table, slow_query, reload)"))),
    }
}

/// An action through the fake upstream's admin API (`what`) needs a pool or instance of kind
/// "fake", not the proxy.
fn admin_target(one: &One<'_>, scope: &Scope<'_>, target: &FaultTarget, what: &str) -> R<()> {
    if *target == FaultTarget::Proxy {
        return Err(one.err(
            "target",
            format!("{what} applies to upstreams, not the proxy"),
        ));
    }
    if pool_kind(scope, target) != Some(UpstreamKind::Fake) {
        return Err(one.err(
            "action",
            format!("{what} uses the fake upstream's admin API; the target is not kind \"fake\""),
        ));
    }
    Ok(())
}

/// The kind of the pool a fault targets (None for the proxy, a link or a service).
fn pool_kind(scope: &Scope<'_>, target: &FaultTarget) -> Option<UpstreamKind> {
    match target {
        FaultTarget::Pool(p) | FaultTarget::Instance(p, _) => {
            scope.pools.iter().find(|x| &x.name == p).map(|x| x.kind)
        }
        FaultTarget::Proxy | FaultTarget::Link(_) | FaultTarget::Service(_) => None,
    }
}

/// `kill` with its `signal` (default KILL) and `restart_after`.
fn kill(one: &One<'_>) -> R<FaultAction> {
    let r = one.f.get_ref();
    let signal = match &r.signal {
        None => libc::SIGKILL,
        Some(s) => signal_number(s.get_ref()).ok_or_else(|| {
            one.ctx.err(
                s.span(),
                one.key("signal"),
                "a signal: KILL, TERM, INT, QUIT, HUP or a number",
            )
        })?,
    };
    Ok(FaultAction::Kill {
        signal,
        restart_after: r.restart_after.map(Dur::get),
    })
}

/// `latency` with its `factor` (> 0).
fn latency(one: &One<'_>) -> R<FaultAction> {
    let Some(fac) = &one.f.get_ref().factor else {
        return Err(one.err(
            "factor",
            "latency needs `factor` (e.g. 5.0 = five times slower)",
        ));
    };
    if !(fac.get_ref().is_finite() && *fac.get_ref() > 0.0) {
        return Err(one
            .ctx
            .err(fac.span(), one.key("factor"), "must be a number > 0"));
    }
    Ok(FaultAction::Latency(*fac.get_ref()))
}

/// `reload` of the proxy with another config template (`config`).
fn reload(one: &One<'_>, scope: &Scope<'_>, target: &FaultTarget) -> R<FaultAction> {
    if *target != FaultTarget::Proxy {
        return Err(one.err("target", "reload applies to the proxy"));
    }
    let Some(c) = &one.f.get_ref().config else {
        return Err(one.err("config", "reload needs `config = \"OTHER.conf\"`"));
    };
    let (p, _, _) = config_template(
        one.ctx,
        c.span(),
        &one.key("config"),
        c.get_ref(),
        scope.pools,
    )?;
    Ok(FaultAction::Reload(p))
}

/// The keys only some actions take (`restart_after`, `signal`, `factor`, `connections`,
/// `table`, `config`, `for`) are refused on the others.
fn keys_fit(one: &One<'_>, action: &FaultAction) -> R<()> {
    use FaultAction as A;
    let r = one.f.get_ref();
    let only = [
        (
            r.restart_after.is_some(),
            matches!(action, A::Kill { .. }),
            "restart_after",
            "kill",
        ),
        (
            r.signal.is_some(),
            matches!(action, A::Kill { .. }),
            "signal",
            "kill",
        ),
        (
            r.factor.is_some(),
            matches!(action, A::Latency(_)),
            "factor",
            "latency",
        ),
        (
            r.connections.is_some(),
            matches!(action, A::HoldConnections(_)),
            "connections",
            "hold_connections",
        ),
        (
            r.table.is_some(),
            matches!(action, A::LockTable(_)),
            "table",
            "lock_table",
        ),
        (
            r.config.is_some(),
            matches!(action, A::Reload(_)),
            "config",
            "reload",
        ),
    ];
    if let Some((_, _, key, who)) = only.iter().find(|(set, fits, _, _)| *set && !fits) {
        return Err(one.err(key, format!("only `{who}` takes `{key}`")));
    }
    let undoable = matches!(
        action,
        A::Pause
            | A::Unhealthy
            | A::Latency(_)
            | A::StopAccepting
            | A::HoldConnections(_)
            | A::LockTable(_)
            | A::SlowQuery(_)
            | A::Toxic(_)
    );
    if r.for_.is_some() && !undoable {
        return Err(one.err(
            "for",
            "only pause, unhealthy, latency, stop_accepting, hold_connections, lock_table, slow_query and link faults take `for`",
        ));
    }
    Ok(())
}

/// The default label: the action and the target (`kill api.0`, `latency link:proxy->api`).
fn label(action: &str, target: &FaultTarget) -> String {
    let t = match target {
        FaultTarget::Proxy => "proxy".to_string(),
        FaultTarget::Pool(p) => p.clone(),
        FaultTarget::Instance(p, i) => format!("{p}.{i}"),
        FaultTarget::Link(h) => format!("link:{h}"),
        FaultTarget::Service(s) => s.clone(),
    };
    format!("{action} {t}")
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
