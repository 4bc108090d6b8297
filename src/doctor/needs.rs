//! What a scenario needs from the optional-program table, found the way the runner will start
//! it (`PATH`, the scenario's nginx `binary`, each pool's `python`, each service's program
//! directory as the loader found it), and which of it is missing.

use super::programs::{self, Program};
use crate::scenario::{self, ProxyKind, Scenario, ServiceKind, Supervisor, UpstreamKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One program a scenario needs.
#[derive(Debug, Clone)]
pub struct Need {
    /// The table row.
    pub program: &'static Program,
    /// What in the scenario needs it (`proxy nginx`, `upstream "api", kind = "uvicorn"`).
    pub needed_by: String,
    /// The executable, or the Python interpreter that must import the program's modules (empty:
    /// the loader found no program directory, so never found).
    at: PathBuf,
}

impl Need {
    /// True when the runner will find it.
    pub fn found(&self) -> bool {
        match self.program.probe {
            programs::Probe::Binary { .. } => programs::resolve(&self.at).is_some(),
            programs::Probe::Python { .. } => {
                programs::detect_with(self.program, &self.at).is_some()
            }
        }
    }
}

/// A program a scenario needs and this machine lacks.
#[derive(Debug, Clone)]
pub struct Missing(pub Need);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = &self.0;
        write!(
            f,
            "{} not installed (needed by {}; install: {})",
            n.program.name, n.needed_by, n.program.install
        )
    }
}

/// Every optional program `s` needs.
pub fn needs(s: &Scenario) -> Vec<Need> {
    let mut out = Vec::new();
    let mut need = |name: &str, needed_by: String, at: &Path| {
        if let Some(program) = programs::program(name) {
            let at = at.to_path_buf();
            out.push(Need {
                program,
                needed_by,
                at,
            });
        }
    };
    if s.proxy.kind == ProxyKind::Nginx {
        let by = format!("proxy {}", s.proxy.binary.display());
        need("nginx", by, &s.proxy.binary);
    }
    for pool in s
        .upstreams
        .iter()
        .filter(|u| u.kind == UpstreamKind::Uvicorn)
    {
        let by = format!("upstream {:?}, kind = \"uvicorn\"", pool.name);
        need("uvicorn", by.clone(), &pool.python);
        if pool.supervisor == Some(Supervisor::Gunicorn) {
            need("gunicorn", by, &pool.python);
        }
    }
    for svc in &s.services {
        let (name, exe) = match svc.kind {
            ServiceKind::Postgres => ("postgresql", "postgres"),
            ServiceKind::Redis => ("redis", "redis-server"),
        };
        let kind = format!("{:?}", svc.kind).to_lowercase();
        let by = format!("service {:?}, kind = \"{kind}\"", svc.name);
        let at = svc
            .bin_dir
            .as_ref()
            .map(|d| d.join(exe))
            .unwrap_or_default();
        need(name, by, &at);
    }
    out
}

/// The programs `s` needs that cannot be found.
pub fn missing_for(s: &Scenario) -> Vec<Missing> {
    needs(s)
        .into_iter()
        .filter(|n| !n.found())
        .map(Missing)
        .collect()
}

/// For each program, the scenarios and variants of `dir` that need it (`quickstart [nginx]`),
/// each variant taken alone. Files that do not load are left out (`run --check` names them).
pub fn uses_in(dir: &Path) -> BTreeMap<&'static str, Vec<String>> {
    let mut uses: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for file in scenario::files_in(dir).unwrap_or_default() {
        let Ok(each) = scenario::load_each_variant(&file) else {
            continue;
        };
        for (variant, s) in each {
            for n in needs(&s) {
                let label = format!("{} [{variant}]", s.name);
                let v = uses.entry(n.program.name).or_default();
                if !v.contains(&label) {
                    v.push(label);
                }
            }
        }
    }
    uses
}
