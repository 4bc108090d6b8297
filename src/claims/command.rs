//! `proxylab claims` end to end: check the ledger against the scenario files, optionally run
//! exactly the scenario variants it needs (`--run`, full length or `--ci`), judge, copy the
//! cited evidence, print which rows change, and write the page; a page that would lose measured
//! rows (a partial set of runs) is written only with `--force`.

use super::evidence;
use super::judge;
use super::model::Ledger;
use super::render::{self, Layout};
use super::resolve;
use crate::cli::{ClaimsArgs, RunArgs};
use std::path::PathBuf;

/// Exit code: the page was written.
const OK: u8 = 0;
/// Exit code: bad ledger or usage.
const BAD: u8 = 2;
/// Exit code: files could not be written, or the page would lose measured rows.
const WRITE: u8 = 3;

fn scenarios_dir(args: &ClaimsArgs) -> PathBuf {
    args.scenarios
        .clone()
        .unwrap_or_else(|| render::page_dir(&args.ledger))
}

/// Exit code: a run the ledger needs could not be made (its `proxylab run` exited 2 or 3: a bad
/// scenario, a component that did not start or died); the page is still written from the runs
/// there are.
const RUN_FAILED: u8 = 4;

/// Runs every scenario variant the ledger needs. Returns the interrupt code when Ctrl-C stopped
/// a run, otherwise the runs that could not be made (`file [variant]: exit N`); a run whose
/// assertions failed (exit 1) is evidence, not a failure.
fn run_needed(ledger: &Ledger, args: &ClaimsArgs) -> Result<Vec<String>, u8> {
    let needed = resolve::needed(ledger, &scenarios_dir(args));
    eprintln!(
        "proxylab claims: {} runs needed ({})",
        needed.len(),
        if args.ci { "CI length" } else { "full length" }
    );
    let mut failed = Vec::new();
    for n in &needed {
        let variant = if args.ci { &n.ci } else { &n.variant };
        let run = RunArgs {
            path: n.file.clone(),
            ci: args.ci,
            variant: vec![variant.clone()],
            proxy: None,
            out: args.reports.clone(),
            check: false,
            no_compare: true,
            skip_missing: true,
            dist: Default::default(),
        };
        let code = crate::run_cmd::main(&run);
        if code == crate::run_cmd::INTERRUPTED {
            return Err(code);
        }
        if run_failed(code) {
            failed.push(format!("{} [{variant}]: exit {code}", n.file.display()));
        }
    }
    Ok(failed)
}

/// Whether a `proxylab run` exit code means the run could not be made (2: bad scenario, 3: a
/// component did not start or died); 1 (assertions failed) is a finished run.
pub fn run_failed(code: u8) -> bool {
    matches!(
        code,
        crate::run_cmd::BAD_SCENARIO | crate::run_cmd::COMPONENT
    )
}

fn write_page(args: &ClaimsArgs, md: &str) -> u8 {
    let old = std::fs::read_to_string(&args.out).unwrap_or_default();
    let changed = evidence::changed(&old, md);
    if changed.is_empty() {
        println!("claims ledger: no verdict changes");
    } else {
        println!("claims ledger: {} rows change:", changed.len());
        for c in &changed {
            println!("  {c}");
        }
    }
    let lost = evidence::lost(&old, md);
    if !lost.is_empty() && !args.force {
        eprintln!(
            "proxylab claims: not written: {} measured rows would become unmeasured ({}); \
             run them (`--run`) or pass --force",
            lost.len(),
            lost.join(", ")
        );
        return WRITE;
    }
    match std::fs::create_dir_all(render::page_dir(&args.out))
        .and_then(|_| std::fs::write(&args.out, md))
    {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("proxylab claims: {}: {e}", args.out.display());
            WRITE
        }
    }
}

/// Prints how many commits behind HEAD the judging runs are (the page itself does not change
/// with HEAD, so it stays reproducible from its evidence).
fn report_age(js: &[judge::Judgement]) {
    let mut commits: Vec<String> = js
        .iter()
        .filter_map(|j| j.judged.run.as_ref()?.summary.provenance.as_ref())
        .map(|p| p.commit.trim_end_matches("-dirty").to_string())
        .filter(|c| c != "unknown" && !c.is_empty())
        .collect();
    commits.sort();
    commits.dedup();
    for c in commits {
        let out = std::process::Command::new("git")
            .args(["rev-list", "--count", &format!("{c}..HEAD")])
            .stderr(std::process::Stdio::null())
            .output();
        if let Some(o) = out.ok().filter(|o| o.status.success()) {
            let n = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if n != "0" {
                println!("claims ledger: runs at commit {c} are {n} commits behind HEAD");
            }
        }
    }
}

/// Runs the command; returns the exit code.
pub fn main(args: &ClaimsArgs) -> u8 {
    let ledger = match Ledger::load(&args.ledger) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD;
        }
    };
    let problems = resolve::check_all(&ledger, &scenarios_dir(args));
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {}: {p}", args.ledger.display());
        }
        return BAD;
    }
    if args.list {
        for n in resolve::needed(&ledger, &scenarios_dir(args)) {
            println!(
                "{}  --variant {}  (--ci: {})",
                n.file.display(),
                n.variant,
                n.ci
            );
        }
        return OK;
    }
    let failed = if args.run {
        match run_needed(&ledger, args) {
            Ok(f) => f,
            Err(code) => return code,
        }
    } else {
        Vec::new()
    };
    let lay = Layout {
        out_dir: render::page_dir(&args.out),
        evidence: args.evidence.clone(),
    };
    let roots = vec![args.reports.clone(), args.evidence.clone()];
    let policy = super::verdict::Policy {
        max_others_cpu_pct: args.max_others_cpu,
    };
    let js = judge::judge_all(&ledger, &roots, &policy);
    let md = render::render(&js, &lay, &policy);
    report_age(&js);
    let code = write_page(args, &md);
    if code != OK {
        if !failed.is_empty() {
            report_failed(&failed);
        }
        return code;
    }
    match evidence::copy(&js, &lay) {
        Ok(n) => println!(
            "claims ledger: {} ({} claims; evidence of {n} new runs in {})",
            args.out.display(),
            ledger.claim.len(),
            lay.evidence.display()
        ),
        Err(e) => {
            eprintln!("proxylab claims: evidence: {e}");
            return WRITE;
        }
    }
    if failed.is_empty() {
        OK
    } else {
        report_failed(&failed)
    }
}

/// Names the runs that could not be made; returns [`RUN_FAILED`].
fn report_failed(failed: &[String]) -> u8 {
    eprintln!(
        "proxylab claims: {} runs could not be made (their rows stay on older runs or \
         \"not measured\"):",
        failed.len()
    );
    for f in failed {
        eprintln!("  {f}");
    }
    RUN_FAILED
}
