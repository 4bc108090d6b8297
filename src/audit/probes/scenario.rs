//! One probe case as a scenario file (the format of `proxylab run`): the rewritten config as
//! its template, one pool per deployed upstream, a catch-all route table, populations and
//! faults. The TOML is saved next to the evidence so a user can rerun and edit it.

use crate::audit::mapping::{Listener, Mapping};
use crate::audit::rewrite::Patch;
use std::fmt::Write;

/// What the fake upstreams answer on every path (up to six segments).
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Status.
    pub status: u16,
    /// Response body size.
    pub body_bytes: u64,
    /// Fixed latency, ms.
    pub latency_ms: u64,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Every route is a health route (the `unhealthy` fault makes the instance answer 503).
    pub health: bool,
    /// Upgrade requests on every route get the WebSocket echo.
    pub websocket: bool,
    /// Request headers every route requires (`name`, value or `*`), else 412.
    pub require: Vec<(String, String)>,
}

impl Default for App {
    fn default() -> App {
        App {
            status: 200,
            body_bytes: 64,
            latency_ms: 2,
            headers: Vec::new(),
            health: false,
            websocket: false,
            require: Vec::new(),
        }
    }
}

impl App {
    /// The route table (TOML).
    pub fn toml(&self) -> String {
        let mut s = String::from("include_default_routes = false\n");
        let mut path = String::new();
        for i in 0..7 {
            if i > 0 {
                let _ = write!(path, "/{{s{i}}}");
            }
            let p = if path.is_empty() { "/" } else { &path };
            let _ = write!(
                s,
                "\n[[routes]]\nmethod = \"*\"\npath = \"{p}\"\nstatus = {}\nbody_bytes = {}\n",
                self.status, self.body_bytes
            );
            if self.latency_ms > 0 {
                let _ = writeln!(
                    s,
                    "latency = {{ dist = \"fixed\", ms = {} }}",
                    self.latency_ms
                );
            }
            for (flag, key) in [(self.health, "health"), (self.websocket, "websocket")] {
                if flag {
                    let _ = writeln!(s, "{key} = true");
                }
            }
            if !self.require.is_empty() {
                let h: Vec<String> = self
                    .require
                    .iter()
                    .map(|(k, v)| format!("{k:?} = {v:?}"))
                    .collect();
                let _ = writeln!(s, "require_headers = {{ {} }}", h.join(", "));
            }
            if !self.headers.is_empty() {
                let h: Vec<String> = self
                    .headers
                    .iter()
                    .map(|(k, v)| format!("{k:?} = {v:?}"))
                    .collect();
                let _ = writeln!(s, "headers = {{ {} }}", h.join(", "));
            }
        }
        s
    }
}

/// One generated scenario.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Probe name.
    pub probe: String,
    /// What this case aims at (`location /api/`).
    pub label: String,
    /// Deployed `file:line` of what it aims at.
    pub at: String,
    /// Seconds of load.
    pub duration: f64,
    /// The listener the populations use.
    pub listener: Option<Listener>,
    /// The server made default on its sockets (`file:line`).
    pub front: Option<String>,
    /// Changes to the config for this case (not a fix: part of what is probed).
    pub patches: Vec<Patch>,
    /// The upstream app.
    pub app: App,
    /// Request paths whose files the run writes (a small text file) into the root and alias
    /// directories the audit made for paths not on this machine.
    pub files: Vec<String>,
    /// Extra keys in every `[[upstream]]` (`timeout_keep_alive = "1s"`).
    pub pool_keys: Vec<String>,
    /// `[[load]]` bodies (keys only; name first).
    pub loads: Vec<String>,
    /// `[[fault]]` bodies.
    pub faults: Vec<String>,
    /// Loadgen request timeout.
    pub request_timeout: Option<String>,
    /// Loadgen threads (None: one per CPU).
    pub loadgen_threads: Option<u32>,
    /// What each population stands for, for the verdict.
    pub roles: Vec<(String, String)>,
    /// Facts the verdict needs (`proxy_read_timeout=3600`), `key=value`.
    pub notes: Vec<(String, String)>,
    /// The remedy when the probe shows a problem no static finding explains: the lines to
    /// write and the patch that tries them.
    pub remedy: Option<(String, Patch)>,
}

impl Case {
    /// The note `key`, if any.
    pub fn note(&self, key: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A population `[[load]]` with `keys`, on this case's listener.
    pub fn load(&mut self, name: &str, role: &str, keys: &str) {
        let (target, tls) = match &self.listener {
            Some(l) => (l.target(), l.ssl),
            None => ("proxy".to_string(), false),
        };
        self.loads.push(format!(
            "name = \"{name}\"\ntarget = \"{target}\"\ntls = {tls}\n{keys}"
        ));
        self.roles.push((name.to_string(), role.to_string()));
    }

    /// Whether the verdict needs the fake's catch-all app (a known answer on every path, or a
    /// behaviour the probe sets up: a required header, a large header or body, a health route,
    /// a WebSocket echo): such a case runs the fake Uvicorn even with `--app` or
    /// `--upstream-app`.
    pub fn needs_fake(&self) -> bool {
        let plain = App {
            latency_ms: self.app.latency_ms,
            ..App::default()
        };
        self.app != plain
            || [
                "deny-paths",
                "body-size",
                "cache-control",
                "response-headers",
            ]
            .contains(&self.probe.as_str())
    }

    /// What runs as the upstream for this case.
    pub fn upstream<'u>(&self, upstream: &'u Upstream) -> &'u Upstream {
        static FAKE: Upstream = Upstream::Fake;
        if self.needs_fake() { &FAKE } else { upstream }
    }

    /// The scenario text; the config template is `proxy.conf` and the app `app.toml` beside it.
    pub fn toml(&self, map: &Mapping, proxy: &str, upstream: &Upstream) -> String {
        let upstream = self.upstream(upstream);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# proxylab audit: probe {} ({}), generated; rerun with `proxylab run scenario.toml`",
            self.probe, self.label
        );
        let _ = writeln!(s, "name = \"audit-{}\"", self.probe);
        let _ = writeln!(
            s,
            "description = {:?}",
            format!("{}: {}", self.probe, self.label)
        );
        let _ = writeln!(
            s,
            "duration = \"{}ms\"\nseed = 7\nready_timeout = \"60s\"\nsample_interval = \"500ms\"",
            (self.duration * 1000.0) as u64
        );
        let _ = writeln!(s, "\n[proxy]\nkind = \"{proxy}\"\nconfig = \"proxy.conf\"");
        let sni = self.listener.as_ref().and_then(|l| l.host.clone());
        let _ = writeln!(s, "\n[loadgen]");
        if self.listener.as_ref().is_some_and(|l| l.ssl) {
            match sni {
                Some(h) => {
                    let _ = writeln!(s, "tls = {{ insecure = true, sni = {h:?} }}");
                }
                None => {
                    let _ = writeln!(s, "tls = {{ insecure = true }}");
                }
            }
        }
        if let Some(t) = &self.request_timeout {
            let _ = writeln!(s, "request_timeout = \"{t}\"");
        }
        if let Some(n) = self.loadgen_threads {
            let _ = writeln!(s, "threads = {n}");
        }
        for p in &map.pools {
            let _ = writeln!(
                s,
                "\n[[upstream]]\nname = \"{}\"\ninstances = {}",
                p.name,
                p.instances.len()
            );
            upstream.keys(&mut s);
            for k in &self.pool_keys {
                let _ = writeln!(s, "{k}");
            }
        }
        for l in &self.loads {
            let _ = writeln!(s, "\n[[load]]\n{l}");
        }
        for f in &self.faults {
            let _ = writeln!(s, "\n[[fault]]\n{f}");
        }
        s
    }
}

/// What runs as the upstream.
#[derive(Debug, Clone, Default)]
pub enum Upstream {
    /// The fake Uvicorn with the case's catch-all app.
    #[default]
    Fake,
    /// The fake with the user's route table.
    FakeApp(std::path::PathBuf),
    /// Real uvicorn running the user's ASGI app.
    Uvicorn {
        /// `module:attr`.
        asgi: String,
        /// `--app-dir`.
        dir: std::path::PathBuf,
    },
}

impl Upstream {
    /// What runs as each upstream instance, for the mapping table and the probe list.
    pub fn describe(&self) -> String {
        match self {
            Upstream::Fake => "fake Uvicorn".into(),
            Upstream::FakeApp(p) => format!("fake Uvicorn with your route table {}", p.display()),
            Upstream::Uvicorn { asgi, dir } => format!(
                "real uvicorn running your app {asgi} (--app-dir {})",
                dir.display()
            ),
        }
    }

    fn keys(&self, s: &mut String) {
        match self {
            Upstream::Fake => {
                let _ = writeln!(s, "app_file = \"app.toml\"");
            }
            Upstream::FakeApp(p) => {
                let _ = writeln!(s, "app_file = {:?}", p.display().to_string());
            }
            Upstream::Uvicorn { asgi, dir } => {
                let _ = writeln!(
                    s,
                    "kind = \"uvicorn\"\nasgi = {asgi:?}\napp_dir = {:?}",
                    dir.display().to_string()
                );
            }
        }
    }
}
