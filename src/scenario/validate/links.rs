//! Link faults of the `[[fault]]` timeline: `target = "link:HOP"` with a toxic as `action`
//! (`latency`, `bandwidth`, `slow_close`, `timeout`, `reset_peer`, `slicer`, `limit_data`,
//! `down`), its own keys, `direction`, `toxicity` and `mode`.

use super::*;
use proxylab_relay::{Direction, Toxic, ToxicSpec, toxic::parse_size};

/// Keys only link faults take, with their spans (for "only link faults take …").
fn toxic_keys(r: &RawFault) -> Vec<(&'static str, Range<usize>)> {
    let mut v = Vec::new();
    let mut k = |name, span: Option<Range<usize>>| {
        if let Some(s) = span {
            v.push((name, s));
        }
    };
    k("latency", r.latency.as_ref().map(|x| x.span()));
    k("jitter", r.jitter.as_ref().map(|x| x.span()));
    k("delay", r.delay.as_ref().map(|x| x.span()));
    k("close_after", r.close_after.as_ref().map(|x| x.span()));
    k("rate", r.rate.as_ref().map(|x| x.span()));
    k("bytes", r.bytes.as_ref().map(|x| x.span()));
    k("average_size", r.average_size.as_ref().map(|x| x.span()));
    k(
        "size_variation",
        r.size_variation.as_ref().map(|x| x.span()),
    );
    k("direction", r.direction.as_ref().map(|x| x.span()));
    k("toxicity", r.toxicity.as_ref().map(|x| x.span()));
    k("mode", r.mode.as_ref().map(|x| x.span()));
    v
}

/// Errors when a fault that is not on a link sets a link-only key.
pub(super) fn no_toxic_keys(ctx: &Ctx, i: usize, r: &RawFault) -> R<()> {
    match toxic_keys(r).into_iter().next() {
        Some((k, span)) => Err(ctx.err(
            span,
            format!("fault[{i}].{k}"),
            format!("only link faults (`target = \"link:…\"`) take `{k}`"),
        )),
        None => Ok(()),
    }
}

/// Parses `link:loadgen->proxy`, `link:proxy->POOL`, `link:proxy->POOL.I`, `link:apps->SERVICE`.
pub(super) fn hop(
    ctx: &Ctx,
    t: &Spanned<String>,
    key: &str,
    pools: &[UpstreamPool],
    services: &[ServiceSpec],
    proxy: ProxyKind,
) -> R<Hop> {
    let s = t.get_ref().strip_prefix("link:").unwrap_or_default();
    let bad = |m: String| Err(ctx.err(t.span(), key, m));
    let Some((from, to)) = s.split_once("->") else {
        return bad(format!(
            "unknown link {s:?}: \"link:loadgen->proxy\", \"link:proxy->POOL\", \"link:proxy->POOL.INDEX\" or \"link:apps->SERVICE\""
        ));
    };
    match (from.trim(), to.trim()) {
        ("loadgen", "proxy") => Ok(Hop::ClientProxy),
        ("apps", to) if services.iter().any(|x| x.name == to) => {
            Ok(Hop::AppsService(to.to_string()))
        }
        ("apps", to) => bad(format!(
            "link {s:?}: unknown service {to:?} (services: {})",
            services
                .iter()
                .map(|x| x.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ("proxy", _) if proxy == ProxyKind::None => bad(format!(
            "link {s:?}: this scenario runs without a proxy (kind \"none\"); use \"link:loadgen->proxy\""
        )),
        ("proxy", to) => {
            let fake = Spanned::new(t.span(), to.to_string());
            match timeline::fault_target(ctx, &fake, key, pools) {
                Ok(FaultTarget::Pool(p)) => Ok(Hop::ProxyPool(p)),
                Ok(FaultTarget::Instance(p, n)) => Ok(Hop::ProxyInstance(p, n)),
                Ok(_) | Err(_) => bad(format!(
                    "link {s:?}: unknown pool {to:?} (pools: {})",
                    pools
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        _ => bad(format!(
            "unknown link {s:?}: \"link:loadgen->proxy\", \"link:proxy->POOL\", \"link:proxy->POOL.INDEX\" or \"link:apps->SERVICE\""
        )),
    }
}

fn duration(ctx: &Ctx, key: String, v: &Spanned<String>) -> R<Duration> {
    let s = v.get_ref().trim();
    if s.starts_with('-') {
        return Err(ctx.err(v.span(), key, format!("{s:?}: must not be negative")));
    }
    s.parse::<Dur>()
        .map(Dur::get)
        .map_err(|e| ctx.err(v.span(), key, e))
}

fn size(ctx: &Ctx, key: String, v: &Spanned<toml::Value>) -> R<u64> {
    let bad = |m: &str| ctx.err(v.span(), key.clone(), m.to_string());
    match v.get_ref() {
        toml::Value::Integer(n) if *n < 0 => Err(bad("must not be negative")),
        toml::Value::Integer(n) => Ok(*n as u64),
        toml::Value::String(s) => parse_size(s).ok_or_else(|| {
            bad("a size: bytes, or \"64KiB\", \"1MiB\", \"10MB\" (rates: per second)")
        }),
        _ => Err(bad("a size: bytes, or \"64KiB\", \"1MiB\"")),
    }
}

/// Builds the toxic of fault `i` (its target is a link).
pub(super) fn toxic(ctx: &Ctx, i: usize, f: &Spanned<RawFault>) -> R<ToxicSpec> {
    let r = f.get_ref();
    let key = |k: &str| format!("fault[{i}].{k}");
    let action = r.action.get_ref().as_str();
    let (toxic, allowed) = toxic_kind(ctx, i, f)?;
    let common = ["direction", "toxicity", "mode"];
    if let Some((k, span)) = toxic_keys(r)
        .into_iter()
        .find(|(k, _)| !allowed.contains(k) && !common.contains(k))
    {
        return Err(ctx.err(span, key(k), format!("`{action}` does not take `{k}`")));
    }
    let direction = match &r.direction {
        None => Direction::Both,
        Some(d) => Direction::parse(d.get_ref())
            .ok_or_else(|| ctx.err(d.span(), key("direction"), "\"up\", \"down\" or \"both\""))?,
    };
    if toxic == Toxic::Down && (r.direction.is_some() || r.toxicity.is_some()) {
        return Err(ctx.err(
            f.span(),
            key(if r.direction.is_some() {
                "direction"
            } else {
                "toxicity"
            }),
            "`down` takes the whole link down: no `direction` or `toxicity`",
        ));
    }
    let spec = ToxicSpec {
        toxic,
        direction,
        toxicity: r.toxicity.as_ref().map_or(1.0, |t| *t.get_ref()),
    };
    spec.validate().map_err(|e| {
        let span = toxic_keys(r)
            .into_iter()
            .find(|(k, _)| *k == e.field)
            .map_or(f.span(), |(_, s)| s);
        ctx.err(span, key(e.field), e.reason)
    })?;
    mode(ctx, i, r)?;
    Ok(spec)
}

/// The link fault of fault `i` with its own keys, and the names of the keys it takes.
fn toxic_kind(ctx: &Ctx, i: usize, f: &Spanned<RawFault>) -> R<(Toxic, &'static [&'static str])> {
    let r = f.get_ref();
    let key = |k: &str| format!("fault[{i}].{k}");
    let action = r.action.get_ref().as_str();
    let need = |k: &str, what: &str| ctx.err(f.span(), key(k), format!("{what} needs `{k}`"));
    let dur = |k: &str, v: &Option<Spanned<String>>| -> R<Option<Duration>> {
        v.as_ref().map(|v| duration(ctx, key(k), v)).transpose()
    };
    let sz = |k: &str, v: &Option<Spanned<toml::Value>>| -> R<Option<u64>> {
        v.as_ref().map(|v| size(ctx, key(k), v)).transpose()
    };
    let zero = Duration::ZERO;
    Ok(match action {
        "latency" => (
            Toxic::Latency {
                latency: dur("latency", &r.latency)?.ok_or_else(|| need("latency", action))?,
                jitter: dur("jitter", &r.jitter)?.unwrap_or(zero),
            },
            &["latency", "jitter"],
        ),
        "bandwidth" => (
            Toxic::Bandwidth {
                rate: sz("rate", &r.rate)?.ok_or_else(|| need("rate", action))?,
            },
            &["rate"],
        ),
        "slow_close" => (
            Toxic::SlowClose {
                delay: dur("delay", &r.delay)?.ok_or_else(|| need("delay", action))?,
            },
            &["delay"],
        ),
        "timeout" => (
            Toxic::Timeout {
                close_after: dur("close_after", &r.close_after)?,
            },
            &["close_after"],
        ),
        "reset_peer" => (
            Toxic::ResetPeer {
                delay: dur("delay", &r.delay)?.unwrap_or(zero),
            },
            &["delay"],
        ),
        "slicer" => (
            Toxic::Slicer {
                average_size: sz("average_size", &r.average_size)?.unwrap_or(64) as usize,
                size_variation: sz("size_variation", &r.size_variation)?.unwrap_or(32) as usize,
                delay: dur("delay", &r.delay)?.unwrap_or(Duration::from_micros(200)),
            },
            &["average_size", "size_variation", "delay"],
        ),
        "limit_data" => (
            Toxic::LimitData {
                bytes: sz("bytes", &r.bytes)?.ok_or_else(|| need("bytes", action))?,
            },
            &["bytes"],
        ),
        "down" => (Toxic::Down, &[]),
        other => {
            return Err(ctx.err(
                r.action.span(),
                key("action"),
                format!("unknown link fault {other:?} ({})", Toxic::NAMES.join(", ")),
            ));
        }
    })
}

/// `mode = "relay"` (default) or `"kernel"`; kernel mode is probed now and refused with the
/// reason (this version relays every link in user space).
fn mode(ctx: &Ctx, i: usize, r: &RawFault) -> R<()> {
    let Some(m) = &r.mode else { return Ok(()) };
    let key = format!("fault[{i}].mode");
    match m.get_ref().as_str() {
        "relay" => Ok(()),
        "kernel" => Err(ctx.err(m.span(), key, proxylab_relay::kernel::refusal())),
        other => Err(ctx.err(
            m.span(),
            key,
            format!("{other:?}: \"relay\" (default) or \"kernel\""),
        )),
    }
}
