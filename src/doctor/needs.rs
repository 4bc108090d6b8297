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

/// What a scenario needs and this machine lacks.
#[derive(Debug, Clone)]
pub enum Missing {
    /// A program of the table.
    Program(Need),
    /// A Python module a real Uvicorn app imports (`pip install` is given the module's name,
    /// which is the package's for most).
    Module {
        /// The module.
        module: String,
        /// The pool and its app (`upstream "app", asgi = "pg_pool_app:app"`).
        needed_by: String,
    },
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Program(n) => write!(
                f,
                "{} not installed (needed by {}; install: {})",
                n.program.name, n.needed_by, n.program.install
            ),
            Missing::Module { module, needed_by } => write!(
                f,
                "python module {module} not installed (needed by {needed_by}; install: pip \
                 install {module})"
            ),
        }
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

/// The programs `s` needs that cannot be found; when every one is there, the Python modules
/// its real Uvicorn apps import that cannot be found.
pub fn missing_for(s: &Scenario) -> Vec<Missing> {
    let mut out: Vec<Missing> = needs(s)
        .into_iter()
        .filter(|n| !n.found())
        .map(Missing::Program)
        .collect();
    if out.is_empty() {
        for pool in s
            .upstreams
            .iter()
            .filter(|u| u.kind == UpstreamKind::Uvicorn)
        {
            if let Some(module) = super::app_imports::first_missing(pool) {
                let asgi = pool.asgi.clone().unwrap_or_default();
                let needed_by = format!("upstream {:?}, asgi = {asgi:?}", pool.name);
                out.push(Missing::Module { module, needed_by });
            }
        }
    }
    out
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
