//! The real fake upstream (`proxylab upstream`) as a child process, ready when it printed its
//! ready line.

use crate::{Proc, proxylab_bin};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// A running `proxylab upstream --host 127.0.0.1 --port 0 …` process.
pub struct FakeUpstream {
    proc: Proc,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
}

fn parse_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let word = rest.split_whitespace().next()?;
    word.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .ok()
}

impl FakeUpstream {
    /// Starts the fake with extra `args` and waits (up to 30 s) for its ready line
    /// `proxylab-upstream listening on http://ADDR [admin http://ADDR]`. Panics with the
    /// process's stderr when it does not come up.
    pub fn start(args: &[&str]) -> FakeUpstream {
        let mut cmd = Command::new(proxylab_bin());
        cmd.args(["upstream", "--host", "127.0.0.1", "--port", "0"])
            .args(args);
        let proc = Proc::spawn("fake-upstream", cmd).expect("spawn proxylab upstream");
        let line = proc
            .wait_stdout_line(|l| l.contains("listening on"), Duration::from_secs(30))
            .unwrap_or_else(|| {
                panic!(
                    "fake upstream did not print its ready line: {}",
                    proc.describe()
                )
            });
        let addr = parse_after(&line, "listening on ")
            .unwrap_or_else(|| panic!("bad ready line {line:?}"));
        let admin = parse_after(&line, " admin ");
        FakeUpstream { proc, addr, admin }
    }

    /// The HTTP address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` of the HTTP listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin listener's address, when started with `--admin-port`.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The underlying process (signals, logs).
    pub fn proc(&self) -> &Proc {
        &self.proc
    }

    /// The underlying process, mutably (to wait for its exit).
    pub fn proc_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

#[cfg(test)]
mod tests {
    use super::parse_after;

    #[test]
    fn parses_ready_line() {
        let l = "proxylab-upstream listening on http://127.0.0.1:4000 admin http://127.0.0.1:4001";
        assert_eq!(parse_after(l, "listening on ").unwrap().port(), 4000);
        assert_eq!(parse_after(l, " admin ").unwrap().port(), 4001);
        assert!(
            parse_after(
                "proxylab-upstream listening on http://127.0.0.1:9",
                " admin "
            )
            .is_none()
        );
    }
}
