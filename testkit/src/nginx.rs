//! Real nginx for differential tests (`proxylab_harness::nginx`: a temporary prefix, free
//! ports written into the config, `daemon off`), killed on drop.

use crate::{Proc, require};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running nginx started by a test.
pub struct Nginx {
    proc: Proc,
    dir: tempfile::TempDir,
    ports: [u16; 3],
    bin: PathBuf,
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Nginx {
    /// Starts nginx whose `http {}` block holds `http_block`. `{PORT}`, `{PORT2}`, `{PORT3}`
    /// are replaced by free ports and `{DIR}` by the prefix directory. Logs go to `{DIR}`; the
    /// access log uses the combined format. Returns `None` (SKIPPED) when nginx is missing.
    pub fn start(http_block: &str) -> Option<Nginx> {
        let conf = format!(
            "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log {{DIR}}/access.log;\n  client_body_temp_path {{DIR}}/client_body;\n  \
             proxy_temp_path {{DIR}}/proxy_temp;\n  fastcgi_temp_path {{DIR}}/fastcgi_temp;\n  \
             uwsgi_temp_path {{DIR}}/uwsgi_temp;\n  scgi_temp_path {{DIR}}/scgi_temp;\n{http_block}\n}}\n",
            user = if running_as_root() {
                "user root;\n"
            } else {
                ""
            },
        );
        Nginx::start_full(&conf)
    }

    /// Starts nginx with a whole `nginx.conf` text (placeholders as in [`Nginx::start`]; it
    /// must not contain `daemon`, which is passed as `-g "daemon off;"`). Waits until `{PORT}`
    /// accepts connections. Returns `None` (SKIPPED) when nginx is missing; panics with the
    /// error log when nginx does not start.
    pub fn start_full(conf: &str) -> Option<Nginx> {
        Nginx::start_wrapped(conf, &|cmd, _| Ok(cmd))
    }

    /// [`Nginx::start_full`] with `{DIR}/limited` a tmpfs of `bytes` bytes that only nginx
    /// sees (its own mount namespace: a full disk for its temp files,
    /// [`proxylab_harness::in_limited_dir`]). Needs root (CI runs as root) and `unshare`.
    pub fn start_full_limited(conf: &str, bytes: u64) -> Option<Nginx> {
        Nginx::start_wrapped(conf, &|cmd, dir| {
            let limited = dir.join("limited");
            std::fs::create_dir_all(&limited)?;
            Ok(proxylab_harness::in_limited_dir(cmd, &limited, bytes))
        })
    }

    fn start_wrapped(
        conf: &str,
        wrap: &dyn Fn(Command, &Path) -> std::io::Result<Command>,
    ) -> Option<Nginx> {
        let bin = require("nginx", "apt-get install nginx")?;
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let prefix = "proxylab-nginx-";
            match proxylab_harness::nginx::start_wrapped(&bin, conf, prefix, None, wrap) {
                Ok(s) => {
                    let stderr = s.dir.path().join(proxylab_harness::nginx::STDERR_FILE);
                    return Some(Nginx {
                        proc: Proc::adopt(s.child, stderr),
                        dir: s.dir,
                        ports: s.ports,
                        bin,
                    });
                }
                Err(e) => last_err = e.log,
            }
            // A port taken between its probe and nginx's bind: try other ports.
            if !last_err.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start:\n{last_err}");
    }

    /// The port that replaced `{PORT}`.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// The ports that replaced `{PORT}`, `{PORT2}`, `{PORT3}`.
    pub fn ports(&self) -> [u16; 3] {
        self.ports
    }

    /// `127.0.0.1:{PORT}`.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.ports[0]).into()
    }

    /// The prefix directory (config, logs, temp files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The access log so far (nginx writes it unbuffered unless the config says otherwise).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Runs `nginx -t` on a config file of this instance's prefix; returns (success, stderr).
    pub fn test_config(&self, conf_path: &Path) -> (bool, String) {
        let out = Command::new(&self.bin)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-t")
            .arg("-c")
            .arg(conf_path)
            .output()
            .expect("run nginx -t");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The nginx master process.
    pub fn proc(&self) -> &Proc {
        &self.proc
    }
}
