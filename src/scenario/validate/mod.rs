//! Raw scenario → checked [`Scenario`]: defaults, references, units; every error names the
//! key and its line.

use super::error::{ScenarioError, line_of};
use super::metric::{Metric, Op, parse_limit};
use super::model::*;
use super::raw::*;
use super::template::{self, Placeholder, valid_name};
use proxylab_loadgen::plan::{self, Dur, Load, Plan, Population};
use std::collections::{BTreeSet, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

mod asserts;
mod faults;
mod links;
mod loads;
mod pools;
mod services;
mod target;
mod timeline;

use asserts::asserts;
use faults::faults;
pub use loads::population;
use loads::{loadgen, loads};
use pools::config_template;
use pools::{proxy, upstreams};
use timeline::phases;

pub(super) struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub dir: PathBuf,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, span.start),
            key: key.into(),
            message: msg.into(),
        }
    }
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

type R<T> = Result<T, ScenarioError>;

fn cpus(ctx: &Ctx, key: &str, c: Option<Spanned<Vec<usize>>>) -> R<Vec<usize>> {
    let Some(c) = c else { return Ok(Vec::new()) };
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(bad) = c.get_ref().iter().find(|&&x| x >= n) {
        return Err(ctx.err(
            c.span(),
            key,
            format!("CPU {bad} does not exist (this machine has {n})"),
        ));
    }
    Ok(c.into_inner())
}

pub(super) fn validate(ctx: &Ctx, raw: RawScenario, variant: Option<String>) -> R<Scenario> {
    let name = scenario_name(ctx, &raw)?;
    let (duration, sample_interval) = timing(ctx, &raw)?;
    let ready_timeout = raw
        .ready_timeout
        .as_ref()
        .map_or(Duration::from_secs(15), |s| s.get_ref().get());
    let seed = raw.seed.unwrap_or(0);

    let remote = target::remote(ctx, &raw)?;
    let upstreams = upstreams(ctx, &raw.upstream, seed)?;
    let mut proxy = match &remote {
        // A stand-in the loads' checks accept; nothing starts (kind none below).
        Some(_) => target::no_proxy(),
        None => proxy(ctx, raw.proxy.as_ref(), &upstreams)?,
    };
    let mut loadgen = loadgen(ctx, raw.loadgen.clone().unwrap_or_default())?;
    if let Some(t) = &raw.target {
        target::tls(ctx, t.get_ref(), &mut loadgen);
    }
    let mut loads = loads(ctx, &raw.load, &proxy, &upstreams, &loadgen, duration)?;
    if let Some(t) = &remote {
        target::aim(t, &mut loads);
        proxy.kind = ProxyKind::None;
    }
    let phases = phases(ctx, &raw.phase, duration)?;
    let services = services::services(ctx, &raw.service, &upstreams)?;
    let faults = faults(ctx, &raw.fault, &upstreams, &services, proxy.kind, duration)?;
    let asserts = asserts(ctx, &raw.assert, &phases, &loads, &upstreams)?;
    if remote.is_some() {
        target::check_asserts(ctx, &asserts)?;
    }
    let variants = variant_infos(ctx, &raw)?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        duration,
        seed,
        sample_interval,
        ready_timeout,
        path: ctx.file.to_path_buf(),
        text: ctx.text.to_string(),
        dir: ctx.dir.clone(),
        proxy,
        upstreams,
        target: remote,
        loadgen,
        loads,
        faults,
        phases,
        asserts,
        variants,
        variant,
        services,
    })
}

/// `name`, or the file's stem.
fn scenario_name(ctx: &Ctx, raw: &RawScenario) -> R<String> {
    Ok(match &raw.name {
        Some(n) if !valid_name(n.get_ref()) => {
            return Err(ctx.err(n.span(), "name", "letters, digits, '-' and '_' only"));
        }
        Some(n) => n.get_ref().clone(),
        None => ctx
            .file
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned()),
    })
}

/// `duration` (> 0) and `sample_interval` (at least 100 ms, default 1 s).
fn timing(ctx: &Ctx, raw: &RawScenario) -> R<(Duration, Duration)> {
    let duration = raw.duration.get_ref().get();
    if duration.is_zero() {
        return Err(ctx.err(raw.duration.span(), "duration", "must be > 0"));
    }
    let sample_interval = raw
        .sample_interval
        .as_ref()
        .map_or(Duration::from_secs(1), |s| s.get_ref().get());
    if sample_interval < Duration::from_millis(100) {
        let span = raw.sample_interval.as_ref().map_or(0..0, |s| s.span());
        return Err(ctx.err(span, "sample_interval", "must be at least 100ms"));
    }
    Ok((duration, sample_interval))
}

/// The `[[variant]]` tables: names unique, not "base"; what each sets.
fn variant_infos(ctx: &Ctx, raw: &RawScenario) -> R<Vec<VariantInfo>> {
    let mut seen = HashSet::new();
    let mut variants = Vec::new();
    for v in &raw.variant {
        let n = v.get_ref().name.get_ref();
        if !valid_name(n) || n == "base" {
            return Err(ctx.err(
                v.get_ref().name.span(),
                "variant.name",
                "letters, digits, '-', '_'; not \"base\"",
            ));
        }
        if !seen.insert(n.clone()) {
            return Err(ctx.err(
                v.get_ref().name.span(),
                "variant.name",
                format!("variant {n:?} defined twice"),
            ));
        }
        variants.push(VariantInfo {
            name: n.clone(),
            description: v.get_ref().description.clone().unwrap_or_default(),
            compare: v.get_ref().compare.unwrap_or(true),
            ci_compare: v
                .get_ref()
                .ci_compare
                .unwrap_or(v.get_ref().compare.unwrap_or(true)),
            set: v
                .get_ref()
                .set
                .iter()
                .map(|(k, val)| format!("{k} = {val}"))
                .collect(),
        });
    }
    Ok(variants)
}
