//! `proxylab loadgen merge A.json B.json … [--summary-json OUT]`: merges shard summaries.

use super::usage;
use crate::record::summary::Summary;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `proxylab loadgen merge`.
#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// Summary JSON files written by the shards (`--summary-json`).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged summary here (else only the text summary is printed).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
}

pub(super) fn main(a: &MergeArgs) -> ExitCode {
    let mut parts = Vec::new();
    for p in &a.inputs {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => return usage(format!("{}: {e}", p.display())),
        };
        match serde_json::from_str::<Summary>(&text) {
            Ok(s) => parts.push(s),
            Err(e) => return usage(format!("{}: not a loadgen summary: {e}", p.display())),
        }
    }
    let merged = match crate::merge::merge(&parts) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    print!("{}", crate::report::text::render_summary(&merged));
    if let Some(out) = &a.summary_json {
        let json = match serde_json::to_string_pretty(&merged) {
            Ok(j) => j,
            Err(e) => return usage(e),
        };
        if let Err(e) = std::fs::write(out, json + "\n") {
            eprintln!("proxylab loadgen merge: {}: {e}", out.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
