//! `proxylab loadgen [URL] …`: build the plan, check the targets, run with a progress line and
//! Ctrl-C handling, print the text summary, write the outputs.

use super::{Args, flags::plan_from_args, usage};
use crate::engine::{self, RunResult};
use crate::plan::Plan;
use crate::report::{progress::Progress, text};
use crate::transport::resolve;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

pub(super) fn main(args: Args) -> ExitCode {
    let plan = match plan_from_args(&args) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    if args.print_plan {
        return match plan.to_toml_string() {
            Ok(t) => {
                print!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => usage(e),
        };
    }
    // Before anything that takes time or sends a request: a Ctrl-C from here on is ours (it
    // stops the run and prints the partial result), never the default kill.
    let (stop_tx, stop_rx) = watch::channel(false);
    install_ctrl_c(stop_tx);
    if !args.no_preflight
        && let Err(e) = preflight(&plan)
    {
        return usage(e);
    }
    crate::fdlimit::raise_nofile();
    if let Some(at) = &args.start_at {
        let stop = stop_rx.clone();
        match super::start_at::wait_announced(at, &|| *stop.borrow()) {
            Ok(true) => {}
            Ok(false) => return ExitCode::from(130),
            Err(e) => return usage(e),
        }
    }
    let live = match super::live::start(&args, &plan) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let mut progress = Progress::new(args.quiet);
    let res = engine::run_live(
        &plan,
        stop_rx,
        &mut |rows| progress.second(rows),
        live.live(),
    );
    progress.finish();
    live.finish();
    let res = match res {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    print!("{}", text::render(&plan, &res));
    for w in &res.warnings {
        eprintln!("WARNING: {w}");
    }
    match write_outputs(&plan, &res) {
        Ok(()) if res.interrupted => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxylab loadgen: {e}");
            ExitCode::from(1)
        }
    }
}

/// Resolves every target and opens (and closes) one TCP connection to each.
fn preflight(plan: &Plan) -> Result<(), String> {
    let timeout = plan.connect_timeout.get().min(Duration::from_secs(5));
    let mut seen = std::collections::HashSet::new();
    for p in &plan.populations {
        for ep in resolve(plan.targets_of(p), plan.tls.sni.as_deref())? {
            if !seen.insert(ep.addr) {
                continue;
            }
            std::net::TcpStream::connect_timeout(&ep.addr, timeout).map_err(|e| {
                format!(
                    "cannot connect to {} ({}): {e}",
                    ep.target.authority, ep.addr
                )
            })?;
        }
    }
    Ok(())
}

/// Installs the SIGINT handler on its own thread and returns only once it is in place (or
/// could not be installed), so that no request is sent while a Ctrl-C would still kill the
/// process without a result. The handler sets `stop`.
fn install_ctrl_c(stop: watch::Sender<bool>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("loadgen-ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            // Creating the stream registers the handler (not its first poll).
            let sigint = {
                let _in_rt = rt.enter();
                signal(SignalKind::interrupt())
            };
            let Ok(mut sigint) = sigint else {
                return;
            };
            let _ = ready_tx.send(());
            rt.block_on(async {
                if sigint.recv().await.is_some() {
                    eprintln!("\ninterrupted: stopping, partial results follow");
                    let _ = stop.send(true);
                }
            });
        });
    if spawned.is_ok() {
        // Err: the thread gave up (no runtime, no handler) and dropped the sender.
        let _ = ready_rx.recv();
    }
}

/// Writes the summary JSON requested by the plan (the series CSV and the interval log were
/// written during the run).
pub fn write_outputs(plan: &Plan, res: &RunResult) -> Result<(), String> {
    if let Some(p) = &plan.output.summary_json {
        let json = serde_json::to_string_pretty(&crate::merge::with_histograms(res))
            .map_err(|e| format!("summary JSON: {e}"))?;
        std::fs::write(p, json + "\n")
            .map_err(|e| format!("--summary-json {}: {e}", p.display()))?;
    }
    Ok(())
}
