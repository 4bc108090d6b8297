//! What each deployed directive becomes in the copy that runs: kept, dropped (with the reason
//! for the mapping table) or replaced (listeners, upstream servers, certificates, logs, roots).

use super::{Action, Ctx, Writer, addr_of};
use crate::audit::model::{self, target};
use crate::audit::source::{Node, quote};
use std::path::Path;

impl Writer<'_> {
    pub(super) fn replace(&mut self, n: &Node, ctx: Ctx, siblings: &[Node]) -> Action {
        let a0 = n.arg0();
        match n.name.as_str() {
            "user" | "pid" | "daemon" | "lock_file" | "working_directory" | "load_module"
                if ctx == Ctx::Main =>
            {
                Action::Drop(
                    "dropped: the runner sets it (pid and logs in the run directory)".into(),
                )
            }
            "resolver" | "resolver_timeout" => {
                Action::Drop("dropped: every upstream name is mapped to a loopback instance".into())
            }
            "client_body_temp_path"
            | "proxy_temp_path"
            | "fastcgi_temp_path"
            | "uwsgi_temp_path"
            | "scgi_temp_path" => {
                Action::Drop("dropped: temporary files stay at the proxy's defaults".into())
            }
            "proxy_cache_path" | "fastcgi_cache_path" | "uwsgi_cache_path" | "scgi_cache_path" => {
                self.cache_path(n)
            }
            "ssl_stapling" | "ssl_stapling_verify" => {
                Action::Drop("dropped: no OCSP responder is reachable from the run".into())
            }
            "ssl_trusted_certificate"
            | "ssl_client_certificate"
            | "ssl_dhparam"
            | "ssl_password_file"
            | "ssl_crl"
                if !self.exists(a0, true) =>
            {
                Action::Drop("dropped: the file is not on this machine".into())
            }
            "ssl_certificate" | "ssl_certificate_key" => self.cert(n, siblings),
            "access_log" | "error_log" => self.log(n),
            "root" | "alias" => self.root(n),
            "listen" if ctx == Ctx::Server => self.listen(n),
            "server" if ctx == Ctx::Other => self.upstream_server(n),
            "proxy_pass" => self.proxy_pass(n),
            _ => Action::Keep,
        }
    }

    fn exists(&self, p: &str, conf_relative: bool) -> bool {
        if p.contains('$') {
            return false;
        }
        let base = if conf_relative {
            &self.src.conf_dir
        } else {
            &self.src.prefix
        };
        base.join(p).exists()
    }

    fn cert(&mut self, n: &Node, siblings: &[Node]) -> Action {
        let both_there = siblings
            .iter()
            .filter(|s| s.name == "ssl_certificate" || s.name == "ssl_certificate_key")
            .all(|s| self.exists(s.arg0(), true));
        if both_there {
            return Action::Keep;
        }
        let (ph, what) = if n.name == "ssl_certificate" {
            ("{{tls.cert}}", "certificate")
        } else {
            ("{{tls.key}}", "key")
        };
        let why = if self.exists(n.arg0(), true) {
            format!("the run's generated {what} (its pair is not on this machine)")
        } else {
            format!("the run's generated {what} (not on this machine): tls/selfsigned.*")
        };
        Action::Replace(format!("{} {ph}", n.name), why)
    }

    fn log(&mut self, n: &Node) -> Action {
        let a0 = n.arg0();
        if a0 == "off" || a0 == "stderr" || n.args.is_empty() {
            return Action::Keep;
        }
        let base = Path::new(a0.trim_start_matches("syslog:"))
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("{}.log", n.name));
        let mut args = vec![format!("{{{{dir}}}}/{base}")];
        args.extend(n.args.iter().skip(1).map(|a| quote(a)));
        Action::Replace(
            format!("{} {}", n.name, args.join(" ")),
            format!("RUN_DIR/proxy/{base}"),
        )
    }

    /// A cache directory moves into the run directory (each run starts cold); its zone,
    /// levels and limits are kept, so `proxy_cache ZONE` still names it.
    fn cache_path(&mut self, n: &Node) -> Action {
        let base = Path::new(n.arg0())
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cache".into());
        let mut args = vec![format!("{{{{dir}}}}/cache-{base}")];
        args.extend(n.args.iter().skip(1).map(|a| quote(a)));
        Action::Replace(
            format!("{} {}", n.name, args.join(" ")),
            format!("RUN_DIR/proxy/cache-{base} (empty at the start of each probe)"),
        )
    }

    fn root(&mut self, n: &Node) -> Action {
        let a0 = n.arg0();
        if self.exists(a0, false) {
            return Action::Keep;
        }
        self.roots += 1;
        let dir = self.www.join(format!("{}{}", n.name, self.roots));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("index.html"), "<p>proxylab audit</p>\n");
        let _ = std::fs::write(dir.join("probe.txt"), "proxylab audit probe file\n");
        self.probe_files(&dir, n.name == "alias");
        let slash = if a0.ends_with('/') { "/" } else { "" };
        let p = format!("{}{slash}", dir.display());
        self.map.dirs.push((n.at(), p.clone()));
        Action::Replace(
            format!("{} {}", n.name, quote(&p)),
            format!("not on this machine: {p} (index.html, probe.txt)"),
        )
    }

    /// The probes' request paths as files under a directory made for a root (the whole
    /// path) or an alias (its last segment, the part after the location's prefix).
    fn probe_files(&self, dir: &Path, alias: bool) {
        for f in self.files {
            let rel = if alias {
                f.rsplit('/').next().unwrap_or("").to_string()
            } else {
                f.trim_start_matches('/').to_string()
            };
            if rel.is_empty() || rel.split('/').any(|c| c == ".." || c.is_empty()) {
                continue;
            }
            let p = dir.join(rel);
            if let Some(parent) = p.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(p, "proxylab audit probe file\n");
        }
    }

    fn listen(&mut self, n: &Node) -> Action {
        let l = model::listen(n);
        if l.unix.is_some() {
            return Action::Drop("dropped: unix sockets are not probed".into());
        }
        let Some(lst) = self.map.listener(l.port).cloned() else {
            return Action::Keep;
        };
        if self.server_ports.contains(&lst.name) {
            return Action::Drop(format!("same loopback socket as :{} above", l.port));
        }
        self.server_ports.push(lst.name.clone());
        let mut t = format!("listen {}", lst.placeholder());
        for f in ["ssl", "http2"] {
            if n.args.iter().skip(1).any(|a| a == f) {
                t.push(' ');
                t.push_str(f);
            }
        }
        let default = match &self.front {
            Some(f) => *f == self.cur_server,
            None => n
                .args
                .iter()
                .skip(1)
                .any(|a| a == "default_server" || a == "default"),
        };
        if default {
            t.push_str(" default_server");
        }
        let why = format!(
            "127.0.0.1:PORT (a free port per probe){}",
            lst.host
                .as_ref()
                .map(|h| format!(", Host/SNI {h}"))
                .unwrap_or_default()
        );
        Action::Replace(t, why)
    }

    fn upstream_server(&mut self, n: &Node) -> Action {
        let Some((pool, i)) = self.map.instance(n.arg0()) else {
            return Action::Keep;
        };
        let mut t = format!("server {{{{upstream.{}.{i}}}}}", pool.name);
        for a in n.args.iter().skip(1) {
            if a != "resolve" && !a.starts_with("service=") && !a.starts_with("route=") {
                t.push(' ');
                t.push_str(&quote(a));
            }
        }
        let why = format!(
            "{} instance {}.{i} on a free loopback port",
            self.app, pool.name
        );
        Action::Replace(t, why)
    }

    fn proxy_pass(&mut self, n: &Node) -> Action {
        let Some(t) = target(n.arg0()) else {
            return Action::Keep;
        };
        let Some((pool, i)) = self.map.instance(&addr_of(&t)) else {
            if t.scheme == "https" {
                let url = n.arg0().replacen("https://", "http://", 1);
                return Action::Replace(
                    format!("proxy_pass {url}"),
                    "http:// (the upstream instances speak plain HTTP)".into(),
                );
            }
            return Action::Keep;
        };
        let url = format!(
            "http://{{{{upstream.{}.{i}}}}}{}",
            pool.name,
            t.uri.as_deref().unwrap_or("")
        );
        Action::Replace(
            format!("proxy_pass {url}"),
            format!(
                "{} instance {}.{i} (no upstream block: Host is the loopback address unless set)",
                self.app, pool.name
            ),
        )
    }
}
