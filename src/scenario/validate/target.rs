//! `[target]`: a deployment outside this machine. The runner starts no proxy and no upstream;
//! what needs local processes (faults, services, their CPU and RSS) is refused with the key
//! that asks for it.

use super::*;

/// Debian's (and the container image's) bundle of public CAs: the default trust for `https`.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Checks `[target]` and everything it excludes; `None` without a `[target]` table.
pub(super) fn remote(ctx: &Ctx, raw: &RawScenario) -> R<Option<RemoteTarget>> {
    let Some(t) = &raw.target else {
        return Ok(None);
    };
    let r = t.get_ref();
    let url = r.url.get_ref();
    let parsed =
        plan::Target::parse(url).map_err(|e| ctx.err(r.url.span(), "target.url", e.to_string()))?;
    let refuse = |span: Range<usize>, key: &str, what: &str| {
        ctx.err(
            span,
            key,
            format!("{what} need local processes; a scenario with [target] starts none (remove it, or drop [target])"),
        )
    };
    if let Some(p) = &raw.proxy {
        return Err(refuse(p.span(), "proxy", "[proxy] settings"));
    }
    if let Some(u) = raw.upstream.first() {
        return Err(refuse(u.span(), "upstream", "[[upstream]] pools"));
    }
    if let Some(s) = raw.service.first() {
        return Err(refuse(
            s.span(),
            "service",
            "[[service]] databases and caches",
        ));
    }
    if let Some(f) = raw.fault.first() {
        let a = &f.get_ref().action;
        return Err(refuse(a.span(), "fault[0].action", "faults"));
    }
    for (i, l) in raw.load.iter().enumerate() {
        if let Some(tg) = &l.get_ref().target
            && tg.get_ref() != "proxy"
        {
            return Err(ctx.err(
                tg.span(),
                format!("load[{i}].target"),
                "with [target], every population goes to target.url (omit `target` or write \"proxy\")",
            ));
        }
    }
    if parsed.base_path.contains('{') {
        return Err(ctx.err(r.url.span(), "target.url", "no placeholders in the URL"));
    }
    Ok(Some(RemoteTarget {
        url: format!(
            "{}://{}{}",
            if parsed.tls { "https" } else { "http" },
            parsed.authority,
            parsed.base_path
        ),
        tls: parsed.tls,
        host: r.host.clone(),
    }))
}

/// What the loads' checks see while validating a `[target]` scenario: the proxy's one main
/// listener (the target); the caller sets kind `none` afterwards, so nothing starts.
pub(super) fn no_proxy() -> ProxySpec {
    ProxySpec {
        kind: ProxyKind::Proxylab,
        config: None,
        config_text: String::new(),
        listeners: vec![String::new()],
        cpus: Vec::new(),
        status_path: None,
        status_listener: String::new(),
        cache_status_path: None,
        binary: PathBuf::from("nginx"),
        rlimit_nofile: None,
        disk_limit: None,
    }
}

/// The loadgen's TLS settings for a remote target: `[target]`'s `sni`, `ca_file` and
/// `insecure` win over `[loadgen.tls]`; without a CA and not insecure, the system bundle.
pub(super) fn tls(ctx: &Ctx, raw: &RawTarget, lg: &mut LoadgenSettings) {
    if let Some(s) = &raw.sni {
        lg.tls.sni = Some(s.clone());
    }
    if let Some(c) = &raw.ca_file {
        lg.tls.ca_file = Some(ctx.resolve(c));
    }
    if let Some(i) = raw.insecure {
        lg.tls.insecure = i;
    }
    if lg.tls.ca_file.is_none() && !lg.tls.insecure {
        lg.tls.ca_file = Some(PathBuf::from(SYSTEM_CA_BUNDLE));
    }
}

/// Every population aims at the target: its scheme, and `Host` when `[target] host` is set
/// (a request's own `Host` header wins).
pub(super) fn aim(t: &RemoteTarget, loads: &mut [LoadSpec]) {
    for l in loads {
        l.tls = t.tls;
        if let Some(h) = &t.host {
            for q in &mut l.requests {
                if !q.headers.keys().any(|k| k.eq_ignore_ascii_case("host")) {
                    q.headers.insert("Host".into(), h.clone());
                }
            }
        }
    }
}

/// Assertions on a component other than the loadgen (`cpu.proxy`, `rss.POOL`) have nothing
/// to sample.
pub(super) fn check_asserts(ctx: &Ctx, asserts: &[Assertion]) -> R<()> {
    for (i, a) in asserts.iter().enumerate() {
        if let Some(c) = a.metric.component()
            && c != "loadgen"
        {
            return Err(ScenarioError {
                file: ctx.file.to_path_buf(),
                line: a.line,
                key: format!("assert[{i}].metric"),
                message: format!(
                    "{} is sampled from a local process; with [target] only the loadgen runs here (use cpu.loadgen / rss.loadgen)",
                    a.metric
                ),
            });
        }
        if matches!(a.metric, crate::scenario::metric::Metric::LogLines(_)) {
            return Err(ScenarioError {
                file: ctx.file.to_path_buf(),
                line: a.line,
                key: format!("assert[{i}].metric"),
                message: format!(
                    "{} reads the access log of a proxy the runner starts; with [target] none runs here",
                    a.metric
                ),
            });
        }
    }
    Ok(())
}
