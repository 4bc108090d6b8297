//! `[loadgen]` and `[[load]]` populations, checked with the loadgen's own plan rules.

use super::*;

pub(super) fn loadgen(ctx: &Ctx, r: RawLoadgen) -> R<LoadgenSettings> {
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

pub(super) fn loads(
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
        let target = load_target(ctx, i, l, proxy, pools)?;
        let load = load_model(ctx, i, l)?;
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
            source_addresses: r.source_addresses,
            record_headers: r.record_headers.clone().unwrap_or_default(),
        };
        loadgen_rules(ctx, i, l, &spec, lg, duration)?;
        out.push(spec);
    }
    Ok(out)
}

/// Where population `i` sends its requests: the proxy (or one of its listeners) or a pool.
fn load_target(
    ctx: &Ctx,
    i: usize,
    l: &Spanned<RawLoad>,
    proxy: &ProxySpec,
    pools: &[UpstreamPool],
) -> R<LoadTarget> {
    let key = |k: &str| format!("load[{i}].{k}");
    let target = match &l.get_ref().target {
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
    if proxy.kind == ProxyKind::None && matches!(target, LoadTarget::Proxy(_)) && pools.is_empty() {
        return Err(ctx.err(l.span(), key("target"), "proxy kind \"none\" sends the proxy's traffic to the first [[upstream]], and there is none"));
    }
    Ok(target)
}

/// Population `i`'s arrival model: open (`stages`, `arrivals`, `max_connections`) or closed
/// (`connections`, `think_time`), named by `model` or by the keys present.
fn load_model(ctx: &Ctx, i: usize, l: &Spanned<RawLoad>) -> R<Load> {
    let key = |k: &str| format!("load[{i}].{k}");
    let r = l.get_ref();
    let model = match (&r.model, &r.stages, &r.connections) {
        (Some(m), _, _) => (m.get_ref().as_str(), m.span()),
        (None, Some(_), None) => ("open", l.span()),
        (None, None, Some(_)) => ("closed", l.span()),
        _ => return Err(ctx.err(
            l.span(),
            key("model"),
            "set `model = \"open\"` (with `stages`) or `model = \"closed\"` (with `connections`)",
        )),
    };
    match model.0 {
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
            Ok(Load::Open {
                stages,
                arrivals: r.arrivals.unwrap_or_default(),
                max_connections: r.max_connections,
            })
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
            Ok(Load::Closed {
                connections: *c.get_ref(),
                think_time: r.think_time.unwrap_or_default(),
            })
        }
        other => Err(ctx.err(
            model.1,
            key("model"),
            format!("unknown model {other:?} (open or closed)"),
        )),
    }
}

/// The loadgen's own rules for population `i`, on a one-population plan with a placeholder
/// target.
fn loadgen_rules(
    ctx: &Ctx,
    i: usize,
    l: &Spanned<RawLoad>,
    spec: &LoadSpec,
    lg: &LoadgenSettings,
    duration: Duration,
) -> R<()> {
    let target = if spec.tls {
        "https://127.0.0.1:1"
    } else {
        "http://127.0.0.1:1"
    };
    let probe = Plan {
        targets: vec![target.to_string()],
        protocol: lg.protocol,
        tls: plan::TlsOptions::default(),
        duration: Dur::from(duration),
        max_requests: None,
        connect_timeout: Dur::secs(5),
        request_timeout: Dur::secs(30),
        threads: 0,
        seed: 0,
        output: plan::Output::default(),
        populations: vec![population(spec, None)],
    };
    probe.validate().map_err(|e| {
        ctx.err(
            l.span(),
            format!("load[{i}]"),
            format!("population {:?}: {e}", spec.name),
        )
    })
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
        source_addresses: l.source_addresses,
        record_headers: l.record_headers.clone(),
    }
}
