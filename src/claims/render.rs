//! The ledger page (`docs/claims.md`): one table row per claim (the verdict, the run that judged
//! it with its commit, date and machine load, our proxy's verdict beside nginx's), then one
//! section per claim with every figure, check, condition and caveat, the sweep's curve and
//! links to the evidence committed under `docs/claims/`.

use super::judge::{self, Judged, Judgement};
use super::runs::{Run, rel};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the page and its evidence live.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The page's directory (links are relative to it).
    pub out_dir: PathBuf,
    /// The evidence root: `<evidence>/<scenario>/<run>/`.
    pub evidence: PathBuf,
}

impl Layout {
    /// The evidence directory of a run.
    pub fn evidence_dir(&self, r: &Run) -> PathBuf {
        self.evidence.join(&r.summary.scenario).join(r.name())
    }

    fn link(&self, r: &Run, file: &str) -> String {
        rel(&self.out_dir, &self.evidence_dir(r).join(file))
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `2026-12-07T12:00:00Z, commit abc, others 12 % of a core, load 1.5 on 2 CPUs`.
pub fn provenance_of(r: &Run) -> String {
    match &r.summary.provenance {
        Some(p) => format!(
            "{}, commit {}, others {:.0} % of a core, load {:.1} on {} CPUs",
            p.started, p.commit, p.others_cpu_pct, p.load_avg_1m, p.cpus
        ),
        None => "date, commit and machine load not recorded".into(),
    }
}

fn judged_on(j: &Judged, scenario: &str) -> String {
    match &j.run {
        Some(r) => format!(
            "`{scenario}` [{}] on {}",
            r.summary.variant, r.summary.proxy
        ),
        None if j.variant.is_empty() => String::new(),
        None => format!("`{scenario}` [{}]", j.variant),
    }
}

fn row(md: &mut String, j: &Judgement) {
    let c = &j.claim;
    let scenario = c.scenario.as_deref().unwrap_or("");
    let measured = j.judged.run.as_ref().map_or(String::new(), |r| {
        judge::figures_of(r, &c.measure, &j.others)
    });
    let ours = match (&j.ours, j.fidelity()) {
        (_, Some(f)) => format!("**{f}**"),
        (Some(o), None) => o.verdict.kind().to_string(),
        (None, None) => String::new(),
    };
    let run = j.judged.run.as_ref().map_or(String::new(), provenance_of);
    let on = match &c.sweep {
        Some(s) => format!(
            "`{scenario}`: sweep over {} ({} runs)",
            s.parameter,
            s.point.len()
        ),
        None => judged_on(&j.judged, scenario),
    };
    let _ = writeln!(
        md,
        "| [{}](#{}) | {} | {} | {} | **{}** | {} | {} |",
        cell(&c.text),
        c.id,
        cell(&c.article),
        cell(&on),
        cell(&measured),
        cell(&j.verdict().to_string()),
        cell(&ours),
        cell(&run)
    );
}

fn run_lines(md: &mut String, lay: &Layout, what: &str, j: &Judged, plot: Option<&str>) {
    let Some(r) = &j.run else {
        let _ = writeln!(md, "- {what}: {}", j.verdict);
        return;
    };
    let _ = writeln!(
        md,
        "- {what}: **{}** — run `{}` [{}] on {} ({}); evidence: [summary.json]({}), [scenario]({})",
        j.verdict,
        r.name(),
        r.summary.variant,
        r.summary.proxy,
        provenance_of(r),
        lay.link(r, "summary.json"),
        lay.link(r, "scenario.toml"),
    );
    if let Some(p) = plot {
        let _ = writeln!(md, "\n  ![{p}]({})\n", lay.link(r, &format!("{p}.png")));
    }
}

fn references(md: &mut String, lay: &Layout, r: &super::judge::Reference) {
    let sound = match &r.sound {
        Ok(()) => String::new(),
        Err(why) => format!(" (not sound: {why})"),
    };
    match &r.run {
        Some(run) => {
            let _ = writeln!(
                md,
                "- compared with: run `{}` [{}]{sound} ({}); evidence: [summary.json]({})",
                run.name(),
                r.variant,
                provenance_of(run),
                lay.link(run, "summary.json")
            );
        }
        None => {
            let _ = writeln!(md, "- compared with: [{}]{sound}", r.variant);
        }
    }
}

fn caveats(md: &mut String, j: &Judgement) {
    let c = &j.claim;
    if !c.depends.is_empty() {
        let _ = writeln!(md, "- what it depends on: {}", c.depends);
    }
    for cond in &c.conditions {
        let _ = writeln!(md, "- condition the article does not state: {cond}");
    }
    for r in super::verdict::readings(c) {
        let _ = writeln!(
            md,
            "- the article gives no number: the check reads it as {r}"
        );
    }
    if !c.note.is_empty() {
        let _ = writeln!(md, "- caveats: {}", c.note);
    }
    if let Some(f) = j.fidelity() {
        let _ = writeln!(md, "- **{f}**");
    }
}

fn sweep(md: &mut String, lay: &Layout, j: &Judgement) {
    let Some(s) = &j.claim.sweep else { return };
    let _ = writeln!(
        md,
        "\nSweep over {} (the article's range: {}):\n\n| {} | run | figures | verdict |\n|---|---|---|---|",
        s.parameter,
        if s.range.is_empty() {
            "not stated"
        } else {
            &s.range
        },
        s.parameter
    );
    for p in &j.points {
        let (run, figs) = match &p.judged.run {
            Some(r) => (
                format!(
                    "[{}]({}) [{}]",
                    r.name(),
                    lay.link(r, "summary.json"),
                    r.summary.variant
                ),
                judge::figures_of(r, &s.measure, &j.others),
            ),
            None => (format!("[{}]", p.judged.variant), String::new()),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&p.x),
            cell(&run),
            cell(&figs),
            cell(&p.judged.verdict.to_string())
        );
    }
}

fn details(md: &mut String, lay: &Layout, j: &Judgement) {
    let c = &j.claim;
    let _ = writeln!(
        md,
        "\n## {} {{#{}}}\n\n> {}\n\n- article: {}\n- about: {}\n- verdict: **{}**",
        c.id,
        c.id,
        c.text,
        c.article,
        format!("{:?}", c.subject).to_lowercase(),
        j.verdict()
    );
    if let Some(r) = &j.judged.run {
        let figs = judge::figures_of(r, &c.measure, &j.others);
        let _ = writeln!(md, "- measured: {figs}");
        for (k, line) in c.checks.iter().zip(judge::checks_of(c, r, &j.others)) {
            let from = match k.reading.as_deref().filter(|x| !x.trim().is_empty()) {
                Some(reading) => format!("threshold from reading {reading}"),
                None => "threshold from the article".to_string(),
            };
            let _ = writeln!(md, "- check ({from}): {line}");
        }
    }
    for a in &c.assertions {
        let _ = writeln!(md, "- supported by the assertion: {a}");
    }
    for a in &c.refuted_by {
        let _ = writeln!(md, "- refuted by the assertion: {a}");
    }
    caveats(md, j);
    if c.scenario.is_some() && c.sweep.is_none() {
        run_lines(md, lay, "judged on", &j.judged, c.plot.as_deref());
    }
    if let Some(o) = &j.ours {
        run_lines(md, lay, "our proxy", o, None);
    }
    for r in &j.refs {
        references(md, lay, r);
    }
    sweep(md, lay, j);
}

/// Counts of verdict kinds, for the page's head.
fn tally(js: &[Judgement]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for j in js {
        let k = j.verdict().kind();
        match counts.iter_mut().find(|(x, _)| *x == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders the page.
pub fn render(js: &[Judgement], lay: &Layout, policy: &super::verdict::Policy) -> String {
    let mut md = format!(
        "# The article's claims, measured\n\n\
         Generated by `proxylab claims` from `scenarios/claims.toml` and the latest sound run of \
         each scenario (`proxylab claims --run` runs them). A run is sound when every `sanity:` \
         assertion of its scenario held (no client-side errors, the load generator kept its \
         schedule and was not saturated) and other processes used at most {:.0} % of a core \
         while it ran; otherwise the verdict is \"not measured\". Claims about nginx are judged \
         on real nginx, our proxy's verdict beside it. Evidence: `docs/claims/`.\n\n\
         {} claims: {}.\n\n\
         | claim | article | judged on | measured | verdict | our proxy | run |\n|---|---|---|---|---|---|---|\n",
        policy.max_others_cpu_pct,
        js.len(),
        tally(js)
    );
    for j in js {
        row(&mut md, j);
    }
    for j in js {
        details(&mut md, lay, j);
    }
    md
}

/// The page's directory for an output path (`docs/claims.md` → `docs`).
pub fn page_dir(out: &Path) -> PathBuf {
    out.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}
