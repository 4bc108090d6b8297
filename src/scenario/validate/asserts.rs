//! `[[assert]]` thresholds: metric, comparison, limit in the metric's unit, references.

use super::*;

pub(super) fn asserts(
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
        if let Some(c) = metric.component()
            && !component_known(c, pools)
        {
            return Err(ctx.err(
                r.metric.span(),
                key("metric"),
                format!("unknown component {c:?}: proxy, loadgen, relay, a pool or POOL.INDEX"),
            ));
        }
        let op = Op::parse(r.op.get_ref()).map_err(|m| ctx.err(r.op.span(), key("op"), m))?;
        let limit = parse_limit(metric.unit(), r.value.get_ref())
            .map_err(|m| ctx.err(r.value.span(), key("value"), m))?;
        let phase = reference(ctx, &key("phase"), &r.phase, "phase", |n| {
            phases.iter().any(|x| x.name == n)
        })?;
        let population = reference(ctx, &key("population"), &r.population, "population", |n| {
            loads.iter().any(|x| x.name == n)
        })?;
        if population.is_some() && metric.component().is_some() {
            return Err(ctx.err(
                a.span(),
                key("population"),
                "CPU/RSS/context-switch metrics are per component, not per population",
            ));
        }
        if population.is_some() && matches!(metric, Metric::LogLines(_)) {
            return Err(ctx.err(
                a.span(),
                key("population"),
                "log_lines counts the proxy's access log by path, not per population (log_lines./PATH)",
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

/// Whether the metric's component is the proxy, the loadgen, the relay, a pool or one of its
/// instances (`POOL.INDEX`).
fn component_known(c: &str, pools: &[UpstreamPool]) -> bool {
    c == "proxy"
        || c == "loadgen"
        || c == "relay"
        || pools.iter().any(|p| {
            p.name == c
                || c.strip_prefix(&format!("{}.", p.name))
                    .and_then(|i| i.parse::<u32>().ok())
                    .is_some_and(|i| i < p.instances)
        })
}

/// A `phase` or `population` reference: None for `all` or when unset; an unknown name
/// (`known` says no) is refused.
fn reference(
    ctx: &Ctx,
    key: &str,
    v: &Option<Spanned<String>>,
    what: &str,
    known: impl Fn(&str) -> bool,
) -> R<Option<String>> {
    match v {
        Some(p) if p.get_ref() == "all" => Ok(None),
        Some(p) if !known(p.get_ref()) => {
            Err(ctx.err(p.span(), key, format!("unknown {what} {:?}", p.get_ref())))
        }
        p => Ok(p.as_ref().map(|p| p.get_ref().clone())),
    }
}
