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
        if let Some(c) = metric.component() {
            let ok = c == "proxy"
                || c == "loadgen"
                || c == "relay"
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
                    format!("unknown component {c:?}: proxy, loadgen, relay, a pool or POOL.INDEX"),
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
