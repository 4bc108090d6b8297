//! `proxylab audit PATH/nginx.conf`: the config a team deploys, unmodified, read as nginx reads
//! it ([`source`]), rewritten into a copy that runs on loopback ([`rewrite`], [`mapping`]),
//! checked statically ([`checks`]) and run under a battery of outage probes ([`probes`]) on
//! our proxy and real nginx; each finding is tied to its file:line, its evidence and a fix
//! tried ([`battery`]); the report is audit.html, findings.json and junit.xml ([`report`]).

pub mod args;
pub mod battery;
pub mod checks;
pub mod error;
pub mod finding;
pub mod mapping;
pub mod model;
pub mod parallel;
pub mod probes;
pub mod report;
pub mod rewrite;
pub mod source;
pub mod validate;

pub use args::AuditArgs;
use error::AuditError;
use finding::{Finding, Severity};
use std::path::{Path, PathBuf};

/// Runs the command; returns the exit code (0 clean, 1 a finding reached --fail-on, 2 the
/// config cannot be read, 3 a component did not start, 130 interrupted).
pub fn main(a: &AuditArgs) -> u8 {
    match audit(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("proxylab audit: {e}");
            e.exit_code()
        }
    }
}

fn stamp_dir(a: &AuditArgs) -> PathBuf {
    let stem = a
        .config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let parent = a.out.join(format!("audit-{stem}"));
    let base = crate::run_cmd::timestamp();
    let mut d = parent.join(&base);
    let mut i = 2;
    while d.exists() {
        d = parent.join(format!("{base}-{i}"));
        i += 1;
    }
    d
}

/// Which proxies run the probes.
fn proxies(a: &AuditArgs, nginx: bool) -> Result<Vec<&'static str>, AuditError> {
    Ok(match a.proxy.as_deref() {
        Some("proxylab") => vec!["proxylab"],
        Some("nginx") | Some("both") if !nginx => {
            return Err(AuditError::Usage(
                "--proxy nginx/both: nginx is not installed (apt-get install nginx)".into(),
            ));
        }
        Some("nginx") => vec!["nginx"],
        Some(_) => vec!["proxylab", "nginx"],
        None if nginx => vec!["proxylab", "nginx"],
        None => vec!["proxylab"],
    })
}

/// What the audit prepared before any probe: the rewritten copy, the mapping, the proxies
/// that can run it and the static findings.
struct Prepared {
    base: rewrite::Rewritten,
    mapping: mapping::Mapping,
    www: PathBuf,
    proxies: Vec<&'static str>,
    findings: Vec<Finding>,
}

fn audit(a: &AuditArgs) -> Result<u8, AuditError> {
    let fail_on = finding::Severity::parse(&a.fail_on).ok_or_else(|| {
        AuditError::Usage(format!(
            "--fail-on {}: expected high, medium, low, info or none",
            a.fail_on
        ))
    })?;
    let src = source::read(&a.config, a.prefix.as_deref())?;
    let m = model::Model::new(&src.nodes);
    let dir = stamp_dir(a);
    std::fs::create_dir_all(&dir)
        .map_err(|e| AuditError::Component(format!("{}: {e}", dir.display())))?;
    let Prepared {
        base,
        mapping,
        www,
        mut proxies,
        mut findings,
    } = prepare(a, &src, &m, &dir)?;
    eprintln!("proxylab audit: {} → {}", a.config.display(), dir.display());
    eprint!("{}", mapping.text());
    let stop = crate::run_cmd::install_stop_handler();
    let probes = if a.no_probes {
        proxies.clear();
        Vec::new()
    } else {
        let env = probes::run::Env {
            src: &src,
            m: &m,
            www,
            upstream: upstream_of(a),
            stop: stop.clone(),
        };
        let sel = Selection {
            m: &m,
            map: &mapping,
            proxies: &proxies,
        };
        run_probes(a, &env, &sel, &mut findings, &dir.join("probes"))
    };
    finding::sort(&mut findings);
    let page = report::write(
        &report::Report {
            config: &a.config,
            findings: &findings,
            mapping: &mapping,
            probes: &probes,
            proxies: &proxies,
            rewritten: &base.template,
            fail_on,
        },
        &dir,
    )
    .map_err(AuditError::Component)?;
    for r in probes.iter().flat_map(|p| &p.runs) {
        if let Some(e) = &r.error {
            eprintln!(
                "proxylab audit: probe {} ({}) [{}] did not run: {e}",
                r.probe, r.label, r.proxy
            );
        }
    }
    print!("{}", report::terminal(&findings));
    println!("audit report: {}", page.display());
    if stop.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(AuditError::Interrupted);
    }
    Ok(exit_code(&probes, &findings, fail_on))
}

/// Rewrites the copy, generates the run's certificates, loads the copy in both proxies and
/// runs the static checks.
fn prepare(
    a: &AuditArgs,
    src: &source::Source,
    m: &model::Model<'_>,
    dir: &Path,
) -> Result<Prepared, AuditError> {
    let www = std::path::absolute(dir.join("www")).unwrap_or_else(|_| dir.join("www"));
    let base = rewrite::rewrite(
        src,
        m,
        &rewrite::Options {
            www: www.clone(),
            app: upstream_of(a).describe(),
            ..Default::default()
        },
    );
    let mut mapping = with_includes(&base.mapping, src);
    app_row(a, &mut mapping);
    let sni: Vec<&str> = mapping
        .listeners
        .iter()
        .filter_map(|l| l.host.as_deref())
        .collect();
    crate::run::tls::generate(dir, &sni).map_err(AuditError::Component)?;
    let nginx = validate::nginx_binary();
    let conf = validate::expand_for_check(&base, &dir.join("check"), dir)?;
    let v = validate::check(&base, &conf, nginx.as_deref());
    let mut proxies = proxies(a, nginx.is_some())?;
    let mut findings = checks::run(
        m,
        &checks::Assumptions {
            upstream_keepalive: a.upstream_keepalive,
            nofile: nofile(),
        },
    );
    refusals(&v, &mut proxies, &mut findings)?;
    Ok(Prepared {
        base,
        mapping,
        www,
        proxies,
        findings,
    })
}

/// What the battery aims at and on which proxies.
struct Selection<'s, 'a> {
    m: &'s model::Model<'a>,
    map: &'s mapping::Mapping,
    proxies: &'s [&'static str],
}

/// 3 when a probe could not run, 1 when a finding reaches `--fail-on`, else 0.
fn exit_code(
    probes: &[battery::ProbeResult],
    findings: &[Finding],
    fail_on: Option<Severity>,
) -> u8 {
    if probes
        .iter()
        .flat_map(|p| &p.runs)
        .any(|r| r.error.is_some())
    {
        return 3;
    }
    u8::from(
        findings
            .iter()
            .any(|f| !f.fidelity && fail_on.is_some_and(|s| f.severity >= s)),
    )
}

/// The mapping with one row per include first.
fn with_includes(m: &mapping::Mapping, src: &source::Source) -> mapping::Mapping {
    let mut out = m.clone();
    let rows = src.includes.iter().map(|inc| mapping::Row {
        origin: inc.at.clone(),
        written: format!("include {}", inc.pattern),
        ran: inc.result.clone(),
    });
    out.rows.splice(0..0, rows);
    out
}

/// What to do when a proxy refuses the rewritten config.
fn refusals(
    v: &validate::Verdict,
    proxies: &mut Vec<&'static str>,
    findings: &mut Vec<Finding>,
) -> Result<(), AuditError> {
    let at = |e: &AuditError| match e {
        AuditError::Config {
            at: Some((f, l)), ..
        } => format!("{f}:{l}"),
        _ => String::new(),
    };
    let msg = |e: &AuditError| match e {
        AuditError::Config { msg, .. } => msg.clone(),
        other => other.to_string(),
    };
    match (v.ours.first(), &v.nginx) {
        (None, None) => {}
        (Some(_), _) if !v.nginx_present => return Err(all_refused(&v.ours)),
        (Some(_), Some(n)) => return Err(clone(n)),
        (Some(_), None) => {
            for e in &v.ours {
                findings.push(Finding::new("not-supported", Severity::Info, &at(e), format!("not supported by proxylab's proxy: {}", msg(e)))
                    .detail("nginx accepts this file; proxylab's proxy does not, so every probe ran on real nginx only. This is a limitation of proxylab, not a problem of the config."));
            }
            proxies.retain(|p| *p == "nginx");
            if proxies.is_empty() {
                proxies.push("nginx");
            }
        }
        (None, Some(n)) => {
            findings.push(Finding::new("nginx-refuses", Severity::High, &at(n), format!("nginx 1.22 refuses the config: {}", msg(n)))
                .detail("`nginx -t` fails on this file (nginx Plus directives such as health_check are refused by nginx OSS). Probes ran on proxylab's proxy only."));
            proxies.retain(|p| *p == "proxylab");
            if proxies.is_empty() {
                proxies.push("proxylab");
            }
        }
    }
    Ok(())
}

/// Our proxy's refusals as one error (nginx is not there to run the file instead): the first
/// at its file:line, then every other one.
fn all_refused(ours: &[AuditError]) -> AuditError {
    let mut e = ours.first().map(clone).unwrap_or(AuditError::Component(
        "proxylab's proxy refuses the config".into(),
    ));
    if ours.len() > 1
        && let AuditError::Config { msg, at } = &mut e
    {
        let rest: Vec<String> = ours[1..].iter().map(ToString::to_string).collect();
        if let Some((f, l)) = at.take() {
            msg.push_str(&format!(" in {f}:{l}"));
        }
        msg.push_str(&format!("; also refused: {}", rest.join("; ")));
    }
    e
}

fn clone(e: &AuditError) -> AuditError {
    match e {
        AuditError::Config { msg, at } => AuditError::Config {
            msg: msg.clone(),
            at: at.clone(),
        },
        other => AuditError::Component(other.to_string()),
    }
}

/// With `--app` or `--upstream-app`, a mapping row saying what ran as the upstream and which
/// probes run the fake Uvicorn anyway (their verdict needs its known answers).
fn app_row(a: &AuditArgs, m: &mut mapping::Mapping) {
    let up = upstream_of(a);
    let written = match (&a.app, &a.upstream_app) {
        (Some(asgi), _) => format!(
            "--app {asgi}{}",
            a.app_dir
                .as_ref()
                .map(|d| format!(" --app-dir {}", d.display()))
                .unwrap_or_default()
        ),
        (None, Some(f)) => format!("--upstream-app {}", f.display()),
        _ => return,
    };
    m.rows.insert(
        0,
        mapping::Row {
            origin: "(command line)".into(),
            written,
            ran: format!(
                "{} as every upstream instance; the fake Uvicorn's catch-all app for the probes whose verdict needs a known answer or behaviour ({})",
                up.describe(),
                probes::FAKE_ONLY
            ),
        },
    );
}

fn upstream_of(a: &AuditArgs) -> probes::scenario::Upstream {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (&a.app, &a.upstream_app) {
        (Some(asgi), _) => probes::scenario::Upstream::Uvicorn {
            asgi: asgi.clone(),
            dir: abs(a.app_dir.as_deref().unwrap_or(Path::new("."))),
        },
        (None, Some(f)) => probes::scenario::Upstream::FakeApp(abs(f)),
        _ => probes::scenario::Upstream::Fake,
    }
}

fn run_probes(
    a: &AuditArgs,
    env: &probes::run::Env<'_>,
    sel: &Selection<'_, '_>,
    findings: &mut Vec<Finding>,
    dir: &Path,
) -> Vec<battery::ProbeResult> {
    let snapshot = findings.clone();
    let ctx = probes::Ctx {
        m: sel.m,
        map: sel.map,
        quick: a.quick,
        findings: &snapshot,
        upstream_keepalive: a.upstream_keepalive,
    };
    let bar = progress_bar(a.ci);
    let (mut results, cases) = battery::run(&ctx, env, sel.proxies, &a.probe, a.jobs(), dir, &bar);
    battery::fidelity(&results, &cases, findings);
    battery::link(&results, &cases, findings);
    if !a.no_fix {
        battery::fixes(env, &mut results, &cases, findings, a.jobs(), dir, &bar);
    }
    bar.finish_and_clear();
    results
}

/// A progress bar on a terminal, hidden with `--ci` or when stderr is not a terminal.
fn progress_bar(ci: bool) -> indicatif::ProgressBar {
    if ci || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// The open-file limit the deployed nginx is assumed to get: 1024, the soft limit of a
/// systemd service (Debian's nginx.service sets no LimitNOFILE), unless the file sets
/// `worker_rlimit_nofile`.
fn nofile() -> u64 {
    1024
}
