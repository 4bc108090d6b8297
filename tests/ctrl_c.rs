//! Ctrl-C (SIGINT to the runner) in the middle of a run: exit 130, and no process the runner
//! started — upstream supervisor and workers, nginx master and worker, loadgen — is left.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn ctrl_c_tears_everything_down() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("long.toml");
    let mut child = Command::new(common::bin())
        .args([
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--out",
            out.path().to_str().expect("utf8"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let runner = child.id();
    // Wait (bounded) until the loadgen runs: then every component is up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let snapshot = loop {
        let d = common::descendants(runner);
        let has = |what: &str| d.iter().any(|(p, _)| cmdline(*p).contains(what));
        if has(" loadgen ") && has("nginx") && has(" upstream ") {
            break d;
        }
        if Instant::now() > deadline || child.try_wait().expect("try_wait").is_some() {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{runner}")])
                .status();
            panic!(
                "components did not all start: {:?}",
                d.iter().map(|(p, _)| cmdline(*p)).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Let every component settle, then: upstream supervisor + 2 workers, nginx master +
    // worker, loadgen.
    std::thread::sleep(Duration::from_millis(1500));
    let more = common::descendants(runner);
    assert!(
        more.len() >= 5,
        "{:?}",
        more.iter().map(|(p, _)| cmdline(*p)).collect::<Vec<_>>()
    );
    let kill = Command::new("kill")
        .args(["-INT", &runner.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{runner}")])
                .status();
            panic!("runner did not exit within 20 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    use std::io::Read;
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    assert_eq!(status.code(), Some(130), "{err}");
    let left: Vec<_> = snapshot
        .iter()
        .chain(&more)
        .filter(|(p, st)| common::alive(*p, *st))
        .collect();
    assert!(
        left.is_empty(),
        "processes left behind: {:?}",
        left.iter().map(|(p, _)| cmdline(*p)).collect::<Vec<_>>()
    );
    // Nor any process in the components' process groups.
    let groups: Vec<u32> = snapshot.iter().map(|(p, _)| *p).collect();
    let in_groups: Vec<_> = common::processes()
        .into_iter()
        .filter(|(_, _, pg, _)| groups.contains(pg))
        .collect();
    assert!(in_groups.is_empty(), "{in_groups:?}");
}
