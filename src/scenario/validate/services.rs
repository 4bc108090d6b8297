//! `[[service]]`: real PostgreSQL and Redis. The programs are looked up when the file is
//! loaded; a missing one leaves `bin_dir` empty, and `run` stops before starting anything
//! (exit 2 with the install command) or skips the variant with `--skip-missing`, like every
//! optional program (`crate::doctor::missing_for`). Every `{{service.NAME.url}}` in an
//! upstream's `args` or `flags` must name a service.

use super::*;

/// Where Debian puts a PostgreSQL server (`/usr/lib/postgresql/VERSION/bin`, newest first),
/// or the directory of `postgres` on PATH.
fn postgres_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").is_file() && p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .or_else(|| on_path("postgres").filter(|d| d.join("initdb").is_file()))
}

/// The directory of `program` on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join(program).is_file()))
}

/// `statement_timeout` (> 0) and `init_sql`: PostgreSQL's keys, refused on Redis.
fn postgres_keys(
    ctx: &Ctx,
    i: usize,
    r: &RawService,
) -> R<(Option<std::time::Duration>, Option<String>)> {
    let key = |k: &str| format!("service[{i}].{k}");
    if *r.kind.get_ref() != ServiceKind::Postgres {
        if let Some(t) = &r.statement_timeout {
            return Err(ctx.err(t.span(), key("statement_timeout"), "PostgreSQL only"));
        }
        if let Some(t) = &r.init_sql {
            return Err(ctx.err(t.span(), key("init_sql"), "PostgreSQL only"));
        }
    }
    let timeout = match &r.statement_timeout {
        Some(t) if t.get_ref().get().as_millis() == 0 => {
            return Err(ctx.err(
                t.span(),
                key("statement_timeout"),
                "must be at least 1ms (PostgreSQL counts milliseconds; leave it out for none)",
            ));
        }
        t => t.as_ref().map(|t| t.get_ref().get()),
    };
    let init = match &r.init_sql {
        Some(t) if t.get_ref().trim().is_empty() || t.get_ref().contains('\0') => {
            return Err(ctx.err(t.span(), key("init_sql"), "empty, or a NUL byte"));
        }
        t => t.as_ref().map(|t| t.get_ref().clone()),
    };
    Ok((timeout, init))
}

pub(super) fn services(
    ctx: &Ctx,
    raw: &[Spanned<RawService>],
    pools: &[UpstreamPool],
) -> R<Vec<ServiceSpec>> {
    let mut out: Vec<ServiceSpec> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let r = s.get_ref();
        let key = |k: &str| format!("service[{i}].{k}");
        let name = r.name.get_ref().clone();
        let taken = ["proxy", "loadgen", "relay", "runner"].contains(&name.as_str())
            || pools.iter().any(|p| p.name == name)
            || out.iter().any(|o| o.name == name);
        if !valid_name(&name) || taken {
            return Err(ctx.err(
                r.name.span(),
                key("name"),
                "letters, digits, '-', '_'; not a pool's name, \"proxy\", \"loadgen\", \"relay\" or another service's",
            ));
        }
        let kind = *r.kind.get_ref();
        let bin_dir = match kind {
            ServiceKind::Postgres => postgres_dir(),
            ServiceKind::Redis => on_path("redis-server"),
        };
        let max_connections = match &r.max_connections {
            Some(m) if *m.get_ref() == 0 => {
                return Err(ctx.err(m.span(), key("max_connections"), "must be > 0"));
            }
            m => m.as_ref().map(|m| *m.get_ref()),
        };
        let (statement_timeout, init_sql) = postgres_keys(ctx, i, r)?;
        out.push(ServiceSpec {
            name,
            kind,
            bin_dir,
            max_connections,
            statement_timeout,
            init_sql,
        });
    }
    for (pi, p) in pools.iter().enumerate() {
        for a in p.args.iter().chain(&p.flags) {
            let mut rest = a.as_str();
            while let Some(at) = rest.find("{{service.") {
                let tail = &rest[at + "{{service.".len()..];
                let name = tail.split(['.', '}']).next().unwrap_or_default();
                if !out.iter().any(|s| s.name == name) || !tail[name.len()..].starts_with(".url}}")
                {
                    return Err(ctx.err(
                        0..0,
                        format!("upstream[{pi}].args"),
                        format!(
                            "{a:?}: `{{{{service.NAME.url}}}}` with NAME a [[service]] (known: {})",
                            out.iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                rest = &tail[name.len()..];
            }
        }
    }
    Ok(out)
}
