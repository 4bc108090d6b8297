//! The audit's report files: `findings.json`, `junit.xml` (one case per probe run and per
//! finding), `mapping.json`, `probes.json` and `audit.html` (the mapping, then findings by
//! severity with their evidence plot and the fix tried before/after, then every probe).

use super::battery::ProbeResult;
use super::finding::{Finding, Severity};
use super::mapping::Mapping;
use crate::report::junit::esc;
use std::fmt::Write;
use std::path::Path;

/// What the report shows.
pub struct Report<'a> {
    /// The deployed file.
    pub config: &'a Path,
    /// Findings, sorted.
    pub findings: &'a [Finding],
    /// The mapping.
    pub mapping: &'a Mapping,
    /// Probes (empty with --no-probes).
    pub probes: &'a [ProbeResult],
    /// Proxies that ran the probes.
    pub proxies: &'a [&'a str],
    /// The rewritten config template.
    pub rewritten: &'a str,
    /// `--fail-on`.
    pub fail_on: Option<Severity>,
}

/// Writes every file into `dir`; returns the path of audit.html.
pub fn write(r: &Report<'_>, dir: &Path) -> Result<std::path::PathBuf, String> {
    let w = |name: &str, text: String| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    w("findings.json", json(r.findings))?;
    w("mapping.json", json(r.mapping))?;
    w("probes.json", json(r.probes))?;
    w("rewritten.conf", r.rewritten.to_string())?;
    w("junit.xml", junit(r))?;
    let page = dir.join("audit.html");
    w("audit.html", html(r, dir))?;
    Ok(page)
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn fails(f: &Finding, on: Option<Severity>) -> bool {
    !f.fidelity && on.is_some_and(|s| f.severity >= s)
}

/// `junit.xml`.
pub fn junit(r: &Report<'_>) -> String {
    let mut cases = String::new();
    let (mut n, mut failed, mut skipped) = (0, 0, 0);
    for p in r.probes {
        if let Some(why) = &p.skipped {
            n += 1;
            skipped += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"audit.probe\" name=\"{}\"><skipped message=\"{}\"/></testcase>",
                esc(&p.name),
                esc(why)
            );
        }
        for run in &p.runs {
            n += 1;
            let name = format!(
                "{} {} [{}]{}",
                p.name,
                run.label,
                run.proxy,
                if run.fix_of.is_some() { " fix" } else { "" }
            );
            let body = match (&run.error, run.verdict.bad) {
                (Some(e), _) => {
                    failed += 1;
                    format!("<error message=\"{}\"/>", esc(e))
                }
                (None, true) => {
                    failed += 1;
                    format!(
                        "<failure message=\"{}\">{}</failure>",
                        esc(run.verdict.lines.last().map_or("", String::as_str)),
                        esc(&run.verdict.lines.join("\n"))
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(
                cases,
                "    <testcase classname=\"audit.probe\" name=\"{}\">{body}</testcase>",
                esc(&name)
            );
        }
    }
    for f in r.findings {
        n += 1;
        let body = if fails(f, r.fail_on) {
            failed += 1;
            format!(
                "<failure message=\"{} at {}\">{}</failure>",
                esc(&f.title),
                esc(&f.at()),
                esc(&f.detail)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"audit.finding.{}\" name=\"{} {}\">{body}</testcase>",
            f.severity.name(),
            esc(&f.id),
            esc(&f.title)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"proxylab audit\" tests=\"{n}\" failures=\"{failed}\">\n  <testsuite name=\"audit {}\" tests=\"{n}\" failures=\"{failed}\" skipped=\"{skipped}\" errors=\"0\">\n{cases}  </testsuite>\n</testsuites>\n",
        esc(&r.config.display().to_string())
    )
}

fn rel(dir: &Path, p: &str) -> String {
    Path::new(p)
        .strip_prefix(dir)
        .map(|x| x.display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

fn html(r: &Report<'_>, dir: &Path) -> String {
    let mut h = String::from(
        "<!doctype html><meta charset=\"utf-8\"><title>proxylab audit</title><style>body{font:14px/1.4 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:6px;overflow:auto}.high{color:#b00}.medium{color:#c60}.low{color:#660}.info{color:#555}.pair{display:flex;gap:1em}.pair>div{flex:1}img{max-width:100%}</style>\n",
    );
    let count = |s: Severity| {
        r.findings
            .iter()
            .filter(|f| f.severity == s && !f.fidelity)
            .count()
    };
    let _ = writeln!(
        h,
        "<h1>proxylab audit: {}</h1><p>{} high, {} medium, {} low, {} info; probes on: {}</p>",
        esc(&r.config.display().to_string()),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        count(Severity::Info),
        if r.proxies.is_empty() {
            "none (static only)".to_string()
        } else {
            r.proxies.join(", ")
        }
    );
    h.push_str("<h2>Findings (by severity)</h2>\n");
    for f in r.findings {
        findings_html(&mut h, f, r, dir);
    }
    h.push_str("<h2>Mapping: deployed file → what ran</h2><table><tr><th>deployed</th><th>as written</th><th>ran as</th></tr>\n");
    for m in &r.mapping.rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&m.origin),
            esc(&m.written),
            esc(&m.ran)
        );
    }
    h.push_str("</table>\n");
    h.push_str("<h2>Probes</h2>\n");
    for p in r.probes {
        let _ = writeln!(h, "<h3>{}</h3><p>{}</p>", esc(&p.name), esc(&p.what));
        if let Some(s) = &p.skipped {
            let _ = writeln!(h, "<p><i>{}</i></p>", esc(s));
        }
        for run in &p.runs {
            let _ = writeln!(
                h,
                "<p><b>{} [{}]{}</b> — <a href=\"{}/run/index.html\">run report</a>, <a href=\"{}/scenario.toml\">scenario.toml</a>, upstream: {}<br>{}{}</p>",
                esc(&run.label),
                esc(&run.proxy),
                if run.fix_of.is_some() {
                    " with the fix"
                } else {
                    ""
                },
                esc(&rel(dir, &run.dir.display().to_string())),
                esc(&rel(dir, &run.dir.display().to_string())),
                esc(&run.upstream),
                esc(&run.verdict.lines.join(" · ")),
                run.error
                    .as_ref()
                    .map(|e| format!("<br><b>could not run:</b> <pre>{}</pre>", esc(e)))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        h,
        "<h2>The config as it ran (template)</h2><pre>{}</pre>",
        esc(r.rewritten)
    );
    h
}

fn findings_html(h: &mut String, f: &Finding, r: &Report<'_>, dir: &Path) {
    let sev = f.severity.name();
    let tag = if f.fidelity {
        " (fidelity defect of proxylab, not of your config)"
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<div><h3 class=\"{sev}\">[{sev}] {}{tag}</h3><p><code>{}:{}</code> · check <code>{}</code>{}</p><p>{}</p>",
        esc(&f.title),
        esc(&f.file),
        f.line,
        esc(&f.check),
        if fails(f, r.fail_on) {
            " · <b>fails --fail-on</b>"
        } else {
            ""
        },
        esc(&f.detail)
    );
    if let Some(fix) = &f.fix {
        let _ = writeln!(h, "<p>Fix:</p><pre>{}</pre>", esc(fix));
    }
    let verdict = |d: &str| -> String {
        r.probes
            .iter()
            .flat_map(|p| &p.runs)
            .find(|x| x.dir.join("run").display().to_string() == d)
            .map(|x| x.verdict.lines.join("<br>"))
            .unwrap_or_default()
    };
    match (&f.evidence, &f.fix_evidence) {
        (Some(before), Some(after)) => {
            let _ = writeln!(
                h,
                "<div class=\"pair\"><div><b>before</b> ({})<br>{}<br><img src=\"{}/status.png\"></div><div><b>after the fix</b><br>{}<br><img src=\"{}/status.png\"></div></div>",
                esc(f.probe.as_deref().unwrap_or("")),
                verdict(before),
                esc(&rel(dir, before)),
                verdict(after),
                esc(&rel(dir, after))
            );
        }
        (Some(e), None) => {
            let _ = writeln!(
                h,
                "<p>Evidence: probe <a href=\"{0}/index.html\">{1}</a><br>{2}</p><img src=\"{0}/status.png\">",
                esc(&rel(dir, e)),
                esc(f.probe.as_deref().unwrap_or("")),
                verdict(e)
            );
        }
        _ if f.probe.is_some() => {
            let _ = writeln!(
                h,
                "<p>Probe {} did not run.</p>",
                esc(f.probe.as_deref().unwrap_or(""))
            );
        }
        _ => {}
    }
    h.push_str("</div>\n");
}

/// The terminal summary: one line per finding, with the probe that showed it and whether the
/// fix was tried.
pub fn terminal(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let mut tail = String::new();
        if f.fidelity {
            tail.push_str(" [proxylab fidelity defect]");
        }
        if let (Some(p), Some(_)) = (&f.probe, &f.evidence) {
            tail.push_str(&format!(" [probe {p}"));
            tail.push_str(if f.fix_evidence.is_some() {
                ", fix tried]"
            } else {
                "]"
            });
        }
        let _ = writeln!(
            s,
            "  {:<6} {}:{}  {}{tail}",
            f.severity.name(),
            f.file,
            f.line,
            f.title
        );
    }
    s
}
