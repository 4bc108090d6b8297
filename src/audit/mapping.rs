//! The mapping from the deployed file to what ran: listeners → loopback ports, upstream
//! servers → fake Uvicorn instances, certificates, logs and paths → the run directory. Shown
//! first in the report (original file:line → what ran).

use serde::Serialize;

/// One row of the mapping table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Original `file:line`.
    pub origin: String,
    /// The directive as written.
    pub written: String,
    /// What ran instead (or "kept").
    pub ran: String,
}

/// A listener of the rewritten config.
#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    /// Placeholder name (`""` = `{{listen}}`, else `{{listen.NAME}}`).
    pub name: String,
    /// The port as deployed.
    pub port: u16,
    /// TLS on it.
    pub ssl: bool,
    /// HTTP/2 on it.
    pub http2: bool,
    /// The first `server_name` of the default server on it (SNI and Host for probes).
    pub host: Option<String>,
}

impl Listener {
    /// The scenario target (`proxy` / `proxy.NAME`).
    pub fn target(&self) -> String {
        if self.name.is_empty() {
            "proxy".into()
        } else {
            format!("proxy.{}", self.name)
        }
    }

    /// The placeholder (`{{listen}}` / `{{listen.NAME}}`).
    pub fn placeholder(&self) -> String {
        if self.name.is_empty() {
            "{{listen}}".into()
        } else {
            format!("{{{{listen.{}}}}}", self.name)
        }
    }
}

/// An upstream pool: one fake Uvicorn instance per deployed upstream address.
#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    /// Pool name (from the upstream block, or `direct-N`).
    pub name: String,
    /// The upstream block's name, if the pool stands for one.
    pub upstream: Option<String>,
    /// Deployed addresses, one instance each, with the line they are written on.
    pub instances: Vec<(String, String)>,
}

/// The whole mapping.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Mapping {
    /// Rows in file order.
    pub rows: Vec<Row>,
    /// Listeners.
    pub listeners: Vec<Listener>,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Directories made for `root`/`alias` paths not on this machine: the directive's
    /// deployed `file:line` → the directory (with the alias's trailing slash).
    pub dirs: Vec<(String, String)>,
}

impl Mapping {
    /// Adds a row.
    pub fn row(&mut self, origin: String, written: String, ran: impl Into<String>) {
        self.rows.push(Row {
            origin,
            written,
            ran: ran.into(),
        });
    }

    /// The listener for a deployed port.
    pub fn listener(&self, port: u16) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.port == port)
    }

    /// The pool and instance index standing for deployed address `addr`.
    pub fn instance(&self, addr: &str) -> Option<(&Pool, usize)> {
        self.pools.iter().find_map(|p| {
            p.instances
                .iter()
                .position(|(a, _)| a == addr)
                .map(|i| (p, i))
        })
    }

    /// The pool of an upstream block.
    pub fn pool_of(&self, upstream: &str) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|p| p.upstream.as_deref() == Some(upstream))
    }

    /// Plain-text table (for the terminal).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in &self.rows {
            s.push_str(&format!(
                "  {:<28} {:<44} → {}\n",
                r.origin,
                clip(&r.written, 44),
                r.ran
            ));
        }
        s
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

/// A pool name from an upstream name: letters, digits, `-`, `_`.
pub fn pool_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if n == "proxy" || n == "loadgen" || n.is_empty() {
        format!("up-{n}")
    } else {
        n
    }
}
