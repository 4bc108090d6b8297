//! What the probes aim at: sample request paths per location, the listener and server that
//! reach a location, and the limits read from the config.

use crate::audit::mapping::{Listener, Mapping};
use crate::audit::model::{Loc, Match, Model, level};
use proxylab_proxy::conf::values::parse_size;

/// A request path that lands in `l` (None for regex and named locations).
pub fn sample(l: &Loc<'_>) -> Option<String> {
    match l.kind {
        Match::Regex | Match::RegexCi | Match::Named => None,
        Match::Exact => Some(l.path.clone()),
        _ if l.path == "/" => Some("/".into()),
        _ if l.path.ends_with('/') => Some(format!("{}audit-probe", l.path)),
        _ => Some(l.path.clone()),
    }
}

/// The listener that reaches `l` (TLS preferred) and the server to make default on it.
pub fn reach(m: &Model<'_>, map: &Mapping, l: &Loc<'_>) -> Option<(Listener, String)> {
    let s = &m.servers[l.server];
    let mut ls: Vec<_> = s.listens.iter().filter(|x| x.unix.is_none()).collect();
    ls.sort_by_key(|x| !x.ssl);
    let li = map.listener(ls.first()?.port)?.clone();
    Some((li, s.node.at()))
}

/// Locations that proxy and answer normally (no own `return` / `deny all`), with a sample path.
pub fn proxied<'m, 'a>(m: &'m Model<'a>) -> Vec<&'m Loc<'a>> {
    m.locs
        .iter()
        .filter(|l| l.proxy_pass().is_some() && sample(l).is_some())
        .filter(|l| l.own("return").is_empty() && !l.own("deny").iter().any(|d| d.arg0() == "all"))
        .filter(|l| {
            !l.chain
                .iter()
                .any(|c| c.name == "server" && !level(c, "return").is_empty())
        })
        .collect()
}

/// `client_max_body_size` in effect, bytes (nginx's default 1m; 0 = unlimited).
pub fn body_limit(l: &Loc<'_>) -> u64 {
    l.value("client_max_body_size")
        .and_then(|n| parse_size(n.arg0()))
        .unwrap_or(1024 * 1024)
}

/// The rate (requests/s) of the zone a location's first `limit_req` uses.
pub fn zone_rate(m: &Model<'_>, l: &Loc<'_>) -> Option<f64> {
    let (_, lr) = l.inherited("limit_req")?;
    let zone = lr[0].args.iter().find_map(|a| a.strip_prefix("zone="))?;
    let z = m
        .http
        .map(|h| level(h, "limit_req_zone"))
        .unwrap_or_default()
        .into_iter()
        .find(|z| {
            z.args
                .iter()
                .any(|a| a.starts_with(&format!("zone={zone}:")))
        })?;
    let r = z.args.iter().find_map(|a| a.strip_prefix("rate="))?;
    let (n, per_min) = match (r.strip_suffix("r/s"), r.strip_suffix("r/m")) {
        (Some(n), _) => (n, false),
        (_, Some(n)) => (n, true),
        _ => return None,
    };
    let n: f64 = n.parse().ok()?;
    Some(if per_min { n / 60.0 } else { n })
}

/// The pool standing for the upstream of `l`, if any.
pub fn pool_of<'m>(
    m: &Model<'_>,
    map: &'m Mapping,
    l: &Loc<'_>,
) -> Option<&'m crate::audit::mapping::Pool> {
    match m.upstream_of(l) {
        Some(u) => map.pool_of(u.arg0()),
        None => {
            let t = crate::audit::model::target(l.proxy_pass()?.arg0())?;
            let addr = format!("{}:{}", t.host, t.port.unwrap_or(80));
            map.instance(&addr).map(|(p, _)| p)
        }
    }
}
