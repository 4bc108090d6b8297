//! `proxylab run` end to end: collect scenario files, pick variants, run each combination,
//! evaluate, write reports, print the summary, compare variants, and map outcomes to exit codes.

use crate::cli::RunArgs;
use crate::report;
use crate::results::assertions::{self, Data};
use crate::run::{self, RunOptions};
use crate::scenario::{self, Overrides, ProxyKind, Scenario};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code: all assertions held.
pub const PASS: u8 = 0;
/// Exit code: an assertion failed.
pub const FAILED: u8 = 1;
/// Exit code: bad scenario file or usage.
pub const BAD_SCENARIO: u8 = 2;
/// Exit code: a component failed to start or died.
pub const COMPONENT: u8 = 3;
/// Exit code: interrupted (Ctrl-C / SIGTERM).
pub const INTERRUPTED: u8 = 130;

/// `20261126T060053Z`, for directory names.
pub fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
}

fn scenario_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_dir() {
        scenario::files_in(path)
    } else if path.is_file() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(format!("{}: no such file or directory", path.display()))
    }
}

/// Sets the flag on SIGINT / SIGTERM (a background thread with a small tokio runtime).
pub fn install_stop_handler() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                    eprintln!("\nproxylab: stopping every component…");
                    f.store(true, Ordering::SeqCst);
                }
            });
        });
    flag
}

fn combos(base: &Scenario, args: &RunArgs) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = if args.variant.is_empty() {
        let mut v = vec![Vec::new()];
        v.extend(
            base.variants
                .iter()
                .filter(|v| if args.ci { v.ci_compare } else { v.compare })
                .map(|v| vec![v.name.clone()]),
        );
        v
    } else {
        args.variant
            .iter()
            .map(|s| {
                s.split('+')
                    .map(str::trim)
                    .filter(|x| !x.is_empty() && *x != "base")
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    };
    if args.ci && base.variants.iter().any(|v| v.name == "ci") {
        for c in &mut out {
            if !c.iter().any(|x| x == "ci") {
                c.push("ci".into());
            }
        }
    }
    out
}

fn unique_dir(parent: &Path, name: &str) -> PathBuf {
    let mut d = parent.join(name);
    let mut i = 2;
    while d.exists() {
        d = parent.join(format!("{name}-{i}"));
        i += 1;
    }
    d
}

/// Where the run happened and whether the claims ledger may judge on it.
fn print_soundness(summary: &report::RunSummary) {
    if let Some(p) = &summary.provenance {
        println!(
            "machine: commit {}, other processes {:.0} % of a core during the load (interrupts {:.0} % apart), load average {:.1} on {} CPUs",
            p.commit, p.others_cpu_pct, p.interrupts_cpu_pct, p.load_avg_1m, p.cpus
        );
    }
    let policy = report::soundness::Policy::default();
    if let Err(why) = report::soundness::gate(summary, &policy) {
        println!("not sound for the claims ledger: {why}");
    }
}

/// One scenario file, loaded with each variant combination to run.
struct Planned {
    file: PathBuf,
    /// The base scenario's name (the report directory under `--out`).
    name: String,
    /// (label, scenario) per combination; empty when every one was skipped.
    runs: Vec<(String, Scenario)>,
    /// Combinations skipped by `--skip-missing`.
    skipped: usize,
}

/// Runs the command; returns the exit code.
pub fn main(args: &RunArgs) -> u8 {
    let files = match scenario_files(&args.path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("proxylab run: {e}");
            return BAD_SCENARIO;
        }
    };
    let proxy = args.proxy.as_deref().map(|p| match p {
        "nginx" => ProxyKind::Nginx,
        "none" => ProxyKind::None,
        _ => ProxyKind::Proxylab,
    });
    // Every file is loaded before anything starts, so that a bad file or a missing program
    // stops the run (or is skipped) up front.
    let mut worst = PASS;
    let mut outcomes = Vec::new();
    let mut planned = Vec::new();
    for file in files {
        match plan_file(&file, args, proxy) {
            Ok(p) => planned.push(p),
            Err(code) => {
                worst = worst.max(code);
                outcomes.push((file, code, 0));
            }
        }
    }
    if !args.check && !check_programs(&mut planned, args.skip_missing) {
        return BAD_SCENARIO;
    }
    let several = outcomes.len() + planned.len() > 1;
    let stop = install_stop_handler();
    for p in planned {
        let code = if args.check || p.runs.is_empty() {
            PASS
        } else {
            run_planned(&p, args, &stop)
        };
        worst = worst.max(code);
        if code == INTERRUPTED {
            return INTERRUPTED;
        }
        outcomes.push((p.file, code, p.skipped));
    }
    if several {
        print_outcomes(&mut outcomes, args.check);
    }
    worst
}

fn print_outcomes(outcomes: &mut [(PathBuf, u8, usize)], check: bool) {
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    println!("\n{} scenario file(s):", outcomes.len());
    for (f, code, skipped) in outcomes.iter() {
        let what = match *code {
            PASS if check => "valid",
            PASS => "passed",
            FAILED => "assertion failed",
            BAD_SCENARIO => "bad scenario",
            _ => "component failed",
        };
        let note = if *skipped > 0 {
            format!("  ({skipped} skipped: missing program)")
        } else {
            String::new()
        };
        println!("  {what:<17} (exit {code})  {}{note}", f.display());
    }
}

/// Loads `file` with every combination to run; prints the error and returns the exit code on
/// a bad file. `--check` prints one `ok:` line per combination.
fn plan_file(file: &Path, args: &RunArgs, proxy: Option<ProxyKind>) -> Result<Planned, u8> {
    let base = scenario::load(file, &Overrides::default()).map_err(|e| {
        eprintln!("error: {e}");
        BAD_SCENARIO
    })?;
    let mut runs = Vec::new();
    for c in combos(&base, args) {
        let ov = Overrides { variants: c, proxy };
        match scenario::load(file, &ov) {
            Ok(s) => runs.push((ov.label(), s)),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(BAD_SCENARIO);
            }
        }
    }
    if args.check {
        for (label, s) in &runs {
            println!("ok: {} [{label}] ({})", s.name, file.display());
        }
    }
    Ok(Planned {
        file: file.to_path_buf(),
        name: base.name,
        runs,
        skipped: 0,
    })
}

/// The optional programs every planned run needs (`doctor`'s table). Missing ones: without
/// `skip`, one error line each and `false` (nothing has started); with `skip`, one `skipped:`
/// line per combination, which is dropped.
fn check_programs(planned: &mut [Planned], skip: bool) -> bool {
    let mut ok = true;
    for p in planned.iter_mut() {
        let mut kept = Vec::new();
        for (label, s) in std::mem::take(&mut p.runs) {
            let missing = crate::doctor::missing_for(&s);
            if missing.is_empty() {
                kept.push((label, s));
                continue;
            }
            for m in &missing {
                if skip {
                    println!("skipped: {} [{label}]: {m}", s.name);
                } else {
                    eprintln!("error: {} [{label}] ({}): {m}", s.name, p.file.display());
                }
            }
            ok = false;
            p.skipped += 1;
        }
        p.runs = kept;
    }
    if !ok && !skip {
        eprintln!(
            "proxylab run: nothing was started. Install the program(s) above, choose other \
             variants (--variant), or pass --skip-missing to run the rest; `proxylab doctor` \
             lists every optional program."
        );
    }
    ok || skip
}

fn run_planned(p: &Planned, args: &RunArgs, stop: &Arc<AtomicBool>) -> u8 {
    let shard = match shard_of(p, args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proxylab run: {e}");
            return BAD_SCENARIO;
        }
    };
    let stamp = timestamp();
    let parent = args.out.join(&p.name);
    let mut worst = PASS;
    let mut done = Vec::new();
    let several = p.runs.len() > 1 || p.skipped > 0;
    for (label, s) in &p.runs {
        let name = if several || s.variant.is_some() {
            format!("{stamp}-{label}")
        } else {
            stamp.clone()
        };
        let dir = match shard {
            Some((i, _)) => crate::distributed::shard_dir(&args.out, i),
            None => unique_dir(&parent, &name),
        };
        eprintln!(
            "proxylab: running {} [{label}] ({} s, proxy {}) → {}",
            s.name,
            s.duration.as_secs_f64(),
            scenario::kind_name(s.proxy.kind),
            dir.display()
        );
        let opts = RunOptions {
            dir: dir.clone(),
            progress: !args.ci,
            stop: Arc::clone(stop),
            shard,
            metrics: args.dist.metrics.clone(),
        };
        if let Err(code) = wait_for_start(args, stop) {
            return code;
        }
        let out = match run::run(s, &opts) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {} [{label}]: {e}", s.name);
                let code = e.exit_code();
                if let Some(sh) = shard {
                    let st = args.dist.start_at.as_deref();
                    crate::distributed::shard::done(&p.file, label, sh, st, &opts.dir, None, code);
                }
                if code == INTERRUPTED {
                    return INTERRUPTED;
                }
                worst = worst.max(code);
                continue;
            }
        };
        if let Some(sh) = shard {
            let st = args.dist.start_at.as_deref();
            let done = Some((s, &out));
            let code = crate::distributed::shard::done(&p.file, label, sh, st, &dir, done, PASS);
            worst = worst.max(code);
            continue;
        }
        let code = report_run(s, label, &out);
        if code != COMPONENT {
            done.push(dir);
        }
        worst = worst.max(code);
        if stop.load(Ordering::SeqCst) {
            return INTERRUPTED;
        }
    }
    if done.len() > 1 && !args.no_compare {
        compare_runs(&done, &unique_dir(&parent, &format!("{stamp}-compare")));
    }
    worst
}

/// Waits for `--start-at` when given; Err: the exit code (interrupted, or a bad time).
fn wait_for_start(args: &RunArgs, stop: &Arc<AtomicBool>) -> Result<(), u8> {
    let Some(at) = &args.dist.start_at else {
        return Ok(());
    };
    match proxylab_loadgen::cli::start_at::wait_announced(at, &|| stop.load(Ordering::SeqCst)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(INTERRUPTED),
        Err(e) => {
            eprintln!("proxylab run: {e}");
            Err(BAD_SCENARIO)
        }
    }
}

/// The shard this process runs (None: the whole run), after checking the distributed
/// options: the metrics settings, and one combination per shard.
fn shard_of(p: &Planned, args: &RunArgs) -> Result<Option<(u32, u32)>, String> {
    let shard = args.dist.shard()?;
    args.dist
        .metrics
        .durations()
        .and_then(|_| args.dist.metrics.labels(None))?;
    if shard.is_some() && p.runs.len() > 1 {
        return Err("a shard runs one combination: pick it with --variant".into());
    }
    Ok(shard)
}

/// Judges a finished run, writes its report and prints its table: PASS, FAILED (an assertion
/// failed) or COMPONENT (the report could not be written).
fn report_run(s: &Scenario, label: &str, out: &run::RunOutput) -> u8 {
    let verdicts = assertions::evaluate(
        s,
        Data {
            series: &out.series,
            hlog: &out.hlog,
            summary: out.summary.as_ref(),
            samples: &out.samples,
            run_dir: Some(&out.dir),
        },
    );
    match report::write_run(s, out, verdicts) {
        Ok((summary, index)) => {
            print!("{}", report::table::terminal(&summary));
            print_soundness(&summary);
            println!("report: {}", index.display());
            if summary.passed { PASS } else { FAILED }
        }
        Err(e) => {
            eprintln!("error: writing the report of {} [{label}]: {e}", s.name);
            COMPONENT
        }
    }
}

/// The comparison report of the runs in `done`, written to `out` (a failure is a warning).
fn compare_runs(done: &[PathBuf], out: &Path) {
    let runs: Result<Vec<_>, _> = done
        .iter()
        .map(|d| report::compare::LoadedRun::read(d))
        .collect();
    match runs.and_then(|r| report::compare::write(&r, out)) {
        Ok(index) => println!("comparison report: {}", index.display()),
        Err(e) => eprintln!("warning: comparison report: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(variant: &[&str], ci: bool) -> RunArgs {
        RunArgs {
            path: PathBuf::from("x.toml"),
            ci,
            variant: variant.iter().map(|s| s.to_string()).collect(),
            proxy: None,
            out: PathBuf::from("reports"),
            check: true,
            no_compare: false,
            skip_missing: false,
            dist: Default::default(),
        }
    }

    #[test]
    fn variant_selection() {
        let q = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
        let base = scenario::load(&q, &Overrides::default()).expect("quickstart loads");
        // Every quickstart variant is `compare = false`: the default is the base alone.
        assert_eq!(combos(&base, &args(&[], false)), vec![Vec::<String>::new()]);
        assert_eq!(
            combos(&base, &args(&[], true)),
            vec![vec!["ci".to_string()]]
        );
        assert_eq!(
            combos(&base, &args(&["base", "nginx+direct"], true)),
            vec![
                vec!["ci".to_string()],
                vec!["nginx".to_string(), "direct".to_string(), "ci".to_string()]
            ]
        );
    }

    #[test]
    fn ci_compare_false_leaves_a_comparison_out_of_ci_only() {
        let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/thundering-herd.toml");
        let base = scenario::load(&f, &Overrides::default()).expect("thundering-herd loads");
        let has_nginx = |c: &[Vec<String>]| c.iter().any(|v| v.contains(&"nginx".to_string()));
        assert!(has_nginx(&combos(&base, &args(&[], false))));
        let ci = combos(&base, &args(&[], true));
        assert!(!has_nginx(&ci), "{ci:?}");
        assert!(
            ci.contains(&vec!["gunicorn".to_string(), "ci".to_string()]),
            "{ci:?}"
        );
        // Named explicitly, it runs under --ci too.
        assert_eq!(
            combos(&base, &args(&["nginx"], true)),
            vec![vec!["nginx".to_string(), "ci".to_string()]]
        );
    }
}
