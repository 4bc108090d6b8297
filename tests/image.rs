//! The runtime image, built here without a registry (`deploy/build-image.sh`, podman) and run:
//! its entrypoint, user and workdir are the Dockerfile's, `--version` answers, and one shard of
//! a `--shards 2` run inside the container (`JOB_COMPLETION_INDEX` given with `-e`, the host's
//! network, results on a bind mount) merges on the host with the other shard, run as a host
//! process, into one verdict only the whole load can meet.

mod common;

use common::{bin, proxylab, summary};
use proxylab_testkit::{FakeUpstream, require};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LIMIT: Duration = Duration::from_secs(120);
const HINT: &str = "apt-get install podman runc";

/// 160 req/s for 3 s over 2 shards; `requests > 400` holds only for both shards together.
fn scenario(url: &str) -> String {
    format!(
        "name = \"img\"\nduration = \"3s\"\n[target]\nurl = \"{url}\"\n\n\
         [[load]]\nname = \"web\"\nmodel = \"open\"\n\
         stages = [{{ shape = \"constant\", rate = 160, duration = \"3s\" }}]\n\n\
         [[assert]]\nmetric = \"requests\"\nop = \">\"\nvalue = 400\n\n\
         [[assert]]\nmetric = \"status_rate.2xx\"\nop = \">=\"\nvalue = 1.0\n"
    )
}

/// An image tag unique to this test process; removed on drop.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rmi", "-f", &self.0]).output();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build_image() -> Image {
    let tag = format!("localhost/proxylab-test:{}", std::process::id());
    let t = Instant::now();
    let o = Command::new(repo().join("deploy/build-image.sh"))
        .arg(bin())
        .arg(&tag)
        .env("ENGINE", "podman")
        .output()
        .expect("run deploy/build-image.sh");
    assert!(o.status.success(), "build-image: {}", text(&o));
    eprintln!("image built in {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), tag);
    Image(tag)
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The hard open-files limit of this process: podman's default for root containers (1048576)
/// is above it on machines whose root lacks CAP_SYS_RESOURCE, and the runtime then fails.
fn nofile_hard() -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    line.split_whitespace().nth(4).expect("hard").to_string()
}

/// `podman run` as it works on this VM (docs/distributed.md, "Built and run here"): runc
/// (crun 1.8 refuses the hybrid cgroup v1/v2 layout), explicit limits within the hard ones.
fn podman_run(image: &Image, name: &str, extra: &[&str], args: &[&str]) -> Command {
    let nofile = format!("nofile={0}:{0}", nofile_hard());
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc", "run", "--rm", "--network", "host"])
        .args([
            "--name",
            name,
            "--ulimit",
            &nofile,
            "--ulimit",
            "nproc=4096:4096",
        ])
        .args(extra)
        .arg(&image.0)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Waits for `child` at most `limit`; on timeout kills it (its process group, or the
/// container `container`) and fails.
fn wait(mut child: Child, what: &str, container: Option<&str>) -> Output {
    let end = Instant::now() + LIMIT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > end {
            if let Some(name) = container {
                let _ = Command::new("podman").args(["rm", "-f", name]).output();
            } else {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", &group]).status();
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// USER, WORKDIR, ENTRYPOINT and CMD of the last stage of a Dockerfile-syntax file.
fn contract(file: &Path) -> Vec<String> {
    let t = std::fs::read_to_string(file).expect("read");
    let last = t.rfind("\nFROM ").expect("FROM");
    let keys = ["USER ", "WORKDIR ", "ENTRYPOINT ", "CMD "];
    let lines: Vec<String> = t[last..]
        .lines()
        .filter(|l| keys.iter().any(|k| l.starts_with(k)))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), keys.len(), "{}: {lines:?}", file.display());
    lines
}

#[test]
fn runtime_image_builds_here_runs_and_its_shard_merges_on_the_host() {
    if require("podman", HINT).is_none() || require("runc", HINT).is_none() {
        return;
    }
    assert_eq!(
        contract(&repo().join("Dockerfile")),
        contract(&repo().join("deploy/Containerfile"))
    );
    let image = build_image();
    let fmt = "{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}";
    let o = Command::new("podman")
        .args(["image", "inspect", "--format", fmt, &image.0])
        .output()
        .expect("podman image inspect");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "65532:65532 /tmp [\"/usr/local/bin/proxylab\"]",
        "{}",
        text(&o)
    );

    let name = format!("proxylab-test-{}", std::process::id());
    let child = podman_run(&image, &name, &[], &["--version"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podman run");
    let t = Instant::now();
    let o = wait(child, "--version", Some(&name));
    eprintln!(
        "--version in the container: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let host = proxylab(&["--version"], LIMIT);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), host.stdout);

    shard_in_the_container_merges_with_one_on_the_host(&image, &name);
}

fn shard_in_the_container_merges_with_one_on_the_host(image: &Image, name: &str) {
    let up = FakeUpstream::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("img.toml"), scenario(&up.url())).expect("write");
    // The container's user 65532 writes the shared directory, as `fsGroup` lets it on k8s.
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 4;
    let start_at = format!("--start-at=@{at}");
    let run = ["run", "--ci", "--shards", "2", &start_at];

    // The scenario path is part of a shard's identity: the same path in and out, as every
    // pod of a Job sees the ConfigMap at one path.
    let file = tmp.path().join("img.toml");
    let (file, out) = (file.to_str().expect("utf8"), shared.to_str().expect("utf8"));
    let mount = format!("{0}:{0}", tmp.path().display());
    let in_container = podman_run(
        image,
        name,
        &["-v", &mount, "-e", "JOB_COMPLETION_INDEX=0"],
        &[&run[..], &[file, "--out", out]].concat(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("podman run shard 0");
    use std::os::unix::process::CommandExt;
    let on_host = Command::new(bin())
        .args([&run[..], &[file, "--out", out]].concat())
        .env("JOB_COMPLETION_INDEX", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn shard 1");
    let t = Instant::now();
    let host = wait(on_host, "shard 1 on the host", None);
    eprintln!("shard 1 on the host: {:.1}s", t.elapsed().as_secs_f64());
    let o = wait(in_container, "shard 0 in the container", Some(name));
    eprintln!(
        "shard 0 in the container: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert!(o.status.success(), "shard 0 in the container: {}", text(&o));
    assert!(
        host.status.success(),
        "shard 1 on the host: {}",
        text(&host)
    );
    check_merge(&shared);
}

fn check_merge(shared: &Path) {
    use std::os::unix::fs::MetadataExt;
    let s0 = shared.join("shard-0/summary.json");
    let owner = std::fs::metadata(&s0).expect("shard 0 summary").uid();
    assert_eq!(owner, 65532, "shard 0 was not written by the image's user");
    let r = proxylab(
        &["merge-shards", shared.to_str().expect("utf8"), "--shards=2"],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let merged = summary(&shared.join("merged"));
    let mut total = 0.0;
    for i in 0..2 {
        let s = summary(&shared.join(format!("shard-{i}")));
        let done = s["total"]["completed"].as_f64().expect("completed");
        // Each shard alone sent about half: it could not pass `requests > 400` by itself.
        assert!((200.0..=260.0).contains(&done), "shard {i}: {done}");
        total += done;
    }
    let m = merged["total"]["completed"].as_f64().expect("completed");
    assert!(m > 400.0 && m <= total + 1.0, "merged {m}, shards {total}");
    assert_eq!(
        merged["total"]["status"]["200"].as_f64(),
        Some(m),
        "{merged}"
    );
}
