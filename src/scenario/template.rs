//! Placeholders in proxy config templates: `{{listen}}`, `{{listen.NAME}}`,
//! `{{upstream.POOL [server params]}}`, `{{upstream.POOL.I}}`, `{{dir}}`, `{{scenario_dir}}`,
//! `{{tls.cert}}`, `{{tls.key}}`, `{{proxylab_only TEXT}}`.
//!
//! The runner allocates every port, so a config never names one: `listen {{listen}};` becomes
//! `listen 127.0.0.1:PORT;`, and `{{upstream.api max_fails=3}}` becomes one
//! `server 127.0.0.1:PORT max_fails=3;` line per instance of pool `api`.
//! `{{proxylab_only proxylab_cache_status;}}` is TEXT for our proxy and nothing for nginx, so
//! one template can hold our extensions (`proxylab_status`, `proxylab_cache_status`) and still
//! run on both.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

/// One placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `{{listen}}` (`""`) or `{{listen.NAME}}`: `127.0.0.1:PORT`.
    Listen(String),
    /// `{{upstream.POOL params}}`: `server ADDR params;` per instance.
    Pool {
        /// Pool name.
        name: String,
        /// Extra `server` parameters (may be empty).
        params: String,
    },
    /// `{{upstream.POOL.I}}`: the address of instance I.
    Instance(String, u32),
    /// `{{dir}}`: the component's run directory (absolute).
    Dir,
    /// `{{scenario_dir}}`: the scenario file's directory (absolute).
    ScenarioDir,
    /// `{{tls.cert}}`: the run's self-signed certificate (PEM, absolute path).
    TlsCert,
    /// `{{tls.key}}`: its private key (PEM, absolute path).
    TlsKey,
    /// `{{proxylab_only TEXT}}`: TEXT when the proxy is ours, nothing for nginx.
    ProxylabOnly(String),
}

/// A placeholder found in a template, with its byte range and 1-based line.
#[derive(Debug, Clone)]
pub struct Found {
    /// Byte range of `{{…}}`.
    pub range: Range<usize>,
    /// Line (1-based).
    pub line: usize,
    /// What it is.
    pub what: Placeholder,
}

/// Finds every placeholder; errors carry the line.
pub fn scan(text: &str) -> Result<Vec<Found>, (usize, String)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(off) = text[pos..].find("{{") {
        let start = pos + off;
        let line = text[..start].matches('\n').count() + 1;
        let end = text[start..]
            .find("}}")
            .map(|e| start + e + 2)
            .ok_or((line, "unclosed `{{` placeholder".to_string()))?;
        let inner = text[start + 2..end - 2].trim();
        let what = parse_one(inner).map_err(|m| (line, m))?;
        out.push(Found {
            range: start..end,
            line,
            what,
        });
        pos = end;
    }
    Ok(out)
}

fn parse_one(inner: &str) -> Result<Placeholder, String> {
    let (head, params) = match inner.split_once(char::is_whitespace) {
        Some((h, p)) => (h, p.trim().to_string()),
        None => (inner, String::new()),
    };
    let parts: Vec<&str> = head.split('.').collect();
    let simple = params.is_empty();
    Ok(match parts.as_slice() {
        ["listen"] if simple => Placeholder::Listen(String::new()),
        ["listen", name] if simple && valid_name(name) => Placeholder::Listen(name.to_string()),
        ["dir"] if simple => Placeholder::Dir,
        ["scenario_dir"] if simple => Placeholder::ScenarioDir,
        ["tls", "cert"] if simple => Placeholder::TlsCert,
        ["tls", "key"] if simple => Placeholder::TlsKey,
        ["proxylab_only"] if !simple => Placeholder::ProxylabOnly(params),
        ["upstream", pool] if valid_name(pool) => Placeholder::Pool {
            name: pool.to_string(),
            params,
        },
        ["upstream", pool, i] if simple && valid_name(pool) => {
            let i = i
                .parse()
                .map_err(|_| format!("bad instance index in {{{{{inner}}}}}"))?;
            Placeholder::Instance(pool.to_string(), i)
        }
        _ => {
            return Err(format!(
                "unknown placeholder {{{{{inner}}}}} (known: {{{{listen}}}}, {{{{listen.NAME}}}}, \
                 {{{{upstream.POOL [params]}}}}, {{{{upstream.POOL.I}}}}, {{{{dir}}}}, {{{{scenario_dir}}}}, \
                 {{{{tls.cert}}}}, {{{{tls.key}}}}, {{{{proxylab_only TEXT}}}})"
            ));
        }
    })
}

/// Letters, digits, `-`, `_`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What placeholders expand to at run time.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Listener name → port.
    pub listeners: BTreeMap<String, u16>,
    /// Pool name → instance addresses.
    pub pools: BTreeMap<String, Vec<SocketAddr>>,
    /// `{{dir}}`.
    pub dir: PathBuf,
    /// `{{scenario_dir}}`.
    pub scenario_dir: PathBuf,
    /// `{{tls.cert}}`.
    pub tls_cert: PathBuf,
    /// `{{tls.key}}`.
    pub tls_key: PathBuf,
    /// The proxy is ours: `{{proxylab_only TEXT}}` expands to TEXT.
    pub proxylab: bool,
}

/// Expands every placeholder of `text`.
pub fn expand(text: &str, b: &Bindings) -> Result<String, String> {
    let found = scan(text).map_err(|(l, m)| format!("line {l}: {m}"))?;
    let mut out = String::with_capacity(text.len() + 256);
    let mut last = 0;
    for f in found {
        out.push_str(&text[last..f.range.start]);
        let indent = line_indent(text, f.range.start);
        let missing = |what: String| format!("line {}: {what}", f.line);
        match &f.what {
            Placeholder::Listen(n) => {
                let port = b
                    .listeners
                    .get(n)
                    .ok_or_else(|| missing(format!("no listener {n:?}")))?;
                out.push_str(&format!("127.0.0.1:{port}"));
            }
            Placeholder::Pool { name, params } => {
                let addrs = b
                    .pools
                    .get(name)
                    .ok_or_else(|| missing(format!("no pool {name:?}")))?;
                for (i, a) in addrs.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        out.push_str(&indent);
                    }
                    out.push_str(&format!("server {a}"));
                    if !params.is_empty() {
                        out.push(' ');
                        out.push_str(params);
                    }
                    out.push(';');
                }
            }
            Placeholder::Instance(name, i) => {
                let a = b
                    .pools
                    .get(name)
                    .and_then(|v| v.get(*i as usize))
                    .ok_or_else(|| missing(format!("no instance {name}.{i}")))?;
                out.push_str(&a.to_string());
            }
            Placeholder::Dir => out.push_str(
                &std::path::absolute(&b.dir)
                    .unwrap_or_else(|_| b.dir.clone())
                    .display()
                    .to_string(),
            ),
            Placeholder::ScenarioDir => out.push_str(&b.scenario_dir.display().to_string()),
            Placeholder::TlsCert => out.push_str(&b.tls_cert.display().to_string()),
            Placeholder::TlsKey => out.push_str(&b.tls_key.display().to_string()),
            Placeholder::ProxylabOnly(text) if b.proxylab => out.push_str(text),
            Placeholder::ProxylabOnly(_) => {}
        }
        last = f.range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

fn line_indent(text: &str, at: usize) -> String {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_listen_pools_and_instances() {
        let mut b = Bindings::default();
        b.listeners.insert(String::new(), 8080);
        b.listeners.insert("status".into(), 8081);
        b.pools.insert(
            "api".into(),
            vec![
                "127.0.0.1:9001".parse().unwrap(),
                "127.0.0.1:9002".parse().unwrap(),
            ],
        );
        let t = "upstream api {\n    {{upstream.api max_fails=3}}\n}\nlisten {{listen}};\n\
                 listen {{ listen.status }};\nproxy_pass http://{{upstream.api.1}};\n";
        let out = expand(t, &b).unwrap();
        assert_eq!(
            out,
            "upstream api {\n    server 127.0.0.1:9001 max_fails=3;\n    server 127.0.0.1:9002 max_fails=3;\n}\n\
             listen 127.0.0.1:8080;\nlisten 127.0.0.1:8081;\nproxy_pass http://127.0.0.1:9002;\n"
        );
    }

    #[test]
    fn expands_tls_paths() {
        let b = Bindings {
            tls_cert: "/run/tls/selfsigned.crt".into(),
            tls_key: "/run/tls/selfsigned.key".into(),
            ..Bindings::default()
        };
        let out = expand(
            "ssl_certificate {{tls.cert}};\nssl_certificate_key {{ tls.key }};",
            &b,
        )
        .unwrap();
        assert_eq!(
            out,
            "ssl_certificate /run/tls/selfsigned.crt;\nssl_certificate_key /run/tls/selfsigned.key;"
        );
        assert!(scan("{{tls.ca}}").is_err());
    }

    #[test]
    fn proxylab_only_text_is_dropped_for_nginx() {
        let t = "location /c { {{proxylab_only proxylab_cache_status;}} }";
        let ours = Bindings {
            proxylab: true,
            ..Bindings::default()
        };
        assert_eq!(
            expand(t, &ours).unwrap(),
            "location /c { proxylab_cache_status; }"
        );
        assert_eq!(expand(t, &Bindings::default()).unwrap(), "location /c {  }");
        assert!(scan("{{proxylab_only}}").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(scan("a\nb {{nope}}").unwrap_err().0, 2);
        assert_eq!(scan("a\n\n{{listen").unwrap_err().0, 3);
        assert!(expand("{{upstream.x.3}}", &Bindings::default()).is_err());
    }
}
