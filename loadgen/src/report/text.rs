//! The final text summary: wrk-like, per population, with the status breakdown, errors by
//! kind, latency from the intended send time, service time and schedule lag.

use crate::engine::RunResult;
use crate::plan::{Load, Plan};
use crate::record::summary::{Details, Percentiles, PopulationSummary, Summary};
use std::fmt::Write;

/// Formats microseconds like wrk (`850us`, `12.34ms`, `1.50s`).
pub fn fmt_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", us as f64 / 1_000_000.0)
    }
}

fn pct(label: &str, p: &Percentiles) -> String {
    format!(
        "  {label:<28} p50 {:>9}  p90 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}\n",
        fmt_us(p.p50),
        fmt_us(p.p90),
        fmt_us(p.p99),
        fmt_us(p.p999),
        fmt_us(p.max)
    )
}

fn describe(plan: &Plan, name: &str) -> String {
    let Some(p) = plan.populations.iter().find(|p| p.name == name) else {
        return String::new();
    };
    let load = match &p.load {
        Load::Open {
            stages,
            arrivals,
            max_connections,
        } => format!(
            "open loop, {} stage(s), {:?} arrivals{}",
            stages.len(),
            arrivals,
            max_connections
                .map(|c| format!(", max {c} connections"))
                .unwrap_or_default()
        ),
        Load::Closed { connections, .. } => format!("closed loop, {connections} connections"),
    };
    format!(
        "{load}, {}, {}",
        p.behaviour.name(),
        plan.targets_of(p).join(" ")
    )
}

fn population(out: &mut String, name: &str, p: &PopulationSummary, d: Option<&Details>) {
    out.push_str(&pct("Latency (from intended)", &p.latency_us));
    if let Some(d) = d {
        out.push_str(&pct("Service time (from send)", &d.service_time_us));
        if d.held_us.max > 0 {
            out.push_str(&pct("Connection held", &d.held_us));
        }
        if d.ws_rtt_us.max > 0 {
            out.push_str(&pct("WebSocket echo RTT", &d.ws_rtt_us));
        }
    }
    let _ = writeln!(
        out,
        "  {} sent, {} completed in {:.2}s ({name})",
        p.sent, p.completed, p.duration_s
    );
    let status: Vec<String> = p.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "  Status: {}",
        if status.is_empty() {
            "-".into()
        } else {
            status.join(" ")
        }
    );
    if !p.errors.is_empty() {
        let errs: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  Errors: {}", errs.join(" "));
    }
    if let Some(d) = d {
        if !d.outcomes.is_empty() {
            let o: Vec<String> = d.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "  Session ends: {}", o.join(" "));
        }
        if d.waited_for_connection > 0 {
            let _ = writeln!(
                out,
                "  Waited for a free connection: {}",
                d.waited_for_connection
            );
        }
        if d.bodies_verified > 0 {
            let _ = writeln!(
                out,
                "  Bodies verified (x-body-sha256): {}",
                d.bodies_verified
            );
        }
    }
    if p.schedule_lag_us.max > 0 {
        let _ = writeln!(
            out,
            "  Schedule lag: p99 {}  max {}",
            fmt_us(p.schedule_lag_us.p99),
            fmt_us(p.schedule_lag_us.max)
        );
    }
    let _ = writeln!(out, "  Requests/sec: {:.2}", p.achieved_rate);
}

/// Renders a run.
pub fn render(plan: &Plan, res: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "proxylab loadgen: {} population(s), {} thread(s){}",
        plan.populations.len(),
        if plan.threads == 0 {
            "auto".to_string()
        } else {
            plan.threads.to_string()
        },
        if res.interrupted {
            ", INTERRUPTED (partial results)"
        } else {
            ""
        }
    );
    for (name, p) in &res.summary.populations {
        let _ = writeln!(out, "Population {name}: {}", describe(plan, name));
        population(&mut out, name, p, res.summary.details.get(name));
    }
    if res.summary.populations.len() > 1 {
        let _ = writeln!(out, "All populations:");
        population(&mut out, "all", &res.summary.overall, None);
    }
    out
}

/// Renders a summary without its plan (merged shards).
pub fn render_summary(s: &Summary) -> String {
    let mut out = String::new();
    for (name, p) in &s.populations {
        let _ = writeln!(out, "Population {name}:");
        population(&mut out, name, p, s.details.get(name));
    }
    if s.populations.len() > 1 {
        let _ = writeln!(out, "All populations:");
        population(&mut out, "all", &s.overall, None);
    }
    out
}
