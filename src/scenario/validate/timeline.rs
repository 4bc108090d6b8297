//! `[[phase]]` windows, and the targets and signals `[[fault]]`s name ([`super::faults`]
//! checks the faults themselves).

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
