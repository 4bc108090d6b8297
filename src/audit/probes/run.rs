//! Running one case: rewrite the config for it (its server made default, its patches and a
//! fix applied), write `scenario.toml`, `proxy.conf` and `app.toml`, run the scenario with the
//! runner's engine, write the run's report (the evidence) and judge it.

use super::judge::{Verdict, judge};
use super::load::{Pop, pops};
use super::scenario::{Case, Upstream};
use crate::audit::model::Model;
use crate::audit::rewrite::{self, Options, Patch};
use crate::audit::source::Source;
use crate::run::{self, RunOptions};
use crate::scenario::{self, Overrides};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Per population, by name.
type Pops = BTreeMap<String, Pop>;

/// Everything a case run needs besides the case.
pub struct Env<'a> {
    /// The deployed config.
    pub src: &'a Source,
    /// Its model.
    pub m: &'a Model<'a>,
    /// Where missing static roots live.
    pub www: PathBuf,
    /// What runs as the upstream.
    pub upstream: Upstream,
    /// Ctrl-C.
    pub stop: Arc<AtomicBool>,
}

/// One run of a case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseRun {
    /// Probe name.
    pub probe: String,
    /// What the case aims at.
    pub label: String,
    /// `proxylab` or `nginx`.
    pub proxy: String,
    /// Index of the case in the battery's list.
    pub case: usize,
    /// The finding whose fix was applied (None: as deployed).
    pub fix_of: Option<String>,
    /// The case directory (scenario.toml, proxy.conf, app.toml, run/).
    pub dir: PathBuf,
    /// What ran as the upstream instances (the fake Uvicorn, or your app under uvicorn).
    pub upstream: String,
    /// Per population.
    pub pops: BTreeMap<String, Pop>,
    /// Requests each upstream instance (`POOL.I`) answered, from the runner's last sample of
    /// the fake upstreams' counters (empty for real uvicorn).
    pub served: BTreeMap<String, u64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it could not run.
    pub error: Option<String>,
}

impl CaseRun {
    /// The run's report page (the evidence).
    pub fn index(&self) -> PathBuf {
        self.dir.join("run/index.html")
    }
}

/// Runs `k` on `proxy` with `fix` applied (if any) in `dir`.
pub fn run_case(
    env: &Env<'_>,
    k: &Case,
    proxy: &str,
    fix: Option<(&str, &Patch)>,
    dir: &Path,
) -> CaseRun {
    let mut r = CaseRun {
        probe: k.probe.clone(),
        label: k.label.clone(),
        proxy: proxy.to_string(),
        case: 0,
        fix_of: fix.map(|(id, _)| id.to_string()),
        dir: dir.to_path_buf(),
        upstream: k.upstream(&env.upstream).describe(),
        pops: BTreeMap::new(),
        served: BTreeMap::new(),
        verdict: Verdict::default(),
        error: None,
    };
    match go(env, k, proxy, fix.map(|f| f.1), dir) {
        Ok((p, served)) => {
            r.verdict = judge(k, &p, &served);
            r.pops = p;
            r.served = served;
        }
        Err(e) => r.error = Some(e),
    }
    r
}

fn go(
    env: &Env<'_>,
    k: &Case,
    proxy: &str,
    fix: Option<&Patch>,
    dir: &Path,
) -> Result<(Pops, BTreeMap<String, u64>), String> {
    let mut patches = k.patches.clone();
    if let Some(f) = fix {
        // A fix may repeat a line the case already added (`keepalive 16;`): nginx refuses
        // a duplicate.
        let mut f = f.clone();
        f.add.retain(|a| {
            !patches
                .iter()
                .any(|p| p.block == f.block && p.add.contains(a))
        });
        patches.push(f);
    }
    let rw = rewrite::rewrite(
        env.src,
        env.m,
        &Options {
            www: env.www.clone(),
            patches,
            front: k.front.clone(),
            files: k.files.clone(),
            app: k.upstream(&env.upstream).describe(),
        },
    );
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let w = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    w("proxy.conf", &rw.template)?;
    w("app.toml", &k.app.toml())?;
    let file = dir.join("scenario.toml");
    w("scenario.toml", &k.toml(&rw.mapping, proxy, &env.upstream))?;
    let s = scenario::load(&file, &Overrides::default())
        .map_err(|e| format!("generated scenario: {e}"))?;
    let opts = RunOptions {
        dir: dir.join("run"),
        progress: false,
        stop: Arc::clone(&env.stop),
        shard: None,
        metrics: Default::default(),
    };
    let out = run::run(&s, &opts).map_err(|e| e.to_string())?;
    crate::report::write_run(&s, &out, Vec::new())?;
    Ok((pops(out.summary.as_ref()), served(&out.samples)))
}

/// `POOL.I` → the highest `up.POOL.I.requests` sampled.
fn served(s: &run::Samples) -> BTreeMap<String, u64> {
    s.columns()
        .iter()
        .filter_map(|c| {
            let inst = c.strip_prefix("up.")?.strip_suffix(".requests")?;
            let n = s.points(c).iter().map(|(_, v)| *v).fold(0.0, f64::max);
            Some((inst.to_string(), n as u64))
        })
        .collect()
}
