//! The bad-config corpus (`tests/bad_configs/NAME.conf` + `NAME.expect`): our reader must
//! report exactly the expected line, and real `nginx -t` must report the same text (modulo the
//! `nginx: [emerg]` prefix and the temp paths). Good configs must pass both.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(dir: &str, ext: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// Copies `src` to a fresh prefix (with `logs/`) as `t.conf`; returns (tempdir, conf path).
fn stage(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("logs")).expect("logs dir");
    let conf = dir.path().join("t.conf");
    std::fs::copy(src, &conf).expect("copy conf");
    (dir, conf)
}

fn normalize(msg: &str, dir: &Path, conf: &Path) -> String {
    msg.replace(&conf.display().to_string(), "{FILE}")
        .replace(&dir.display().to_string(), "{DIR}")
}

fn ours(dir: &Path, conf: &Path) -> Result<(), String> {
    proxylab_proxy::conf::load(conf, Some(dir))
        .map(|_| ())
        .map_err(|e| normalize(&e.to_string(), dir, conf))
}

fn nginx_t(nginx: &Path, dir: &Path, conf: &Path) -> Result<(), String> {
    let out = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-t")
        .arg("-c")
        .arg(conf)
        .output()
        .expect("run nginx -t");
    let text = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Ok(());
    }
    let line = text
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_else(|| panic!("no [emerg] line in nginx output:\n{text}"));
    let msg = line.split_once("[emerg] ").map_or(line, |(_, m)| m);
    // Without a writable error log nginx prefixes `PID#TID: `.
    let msg = match msg.split_once(": ") {
        Some((head, rest)) if head.bytes().all(|b| b.is_ascii_digit() || b == b'#') => rest,
        _ => msg,
    };
    Err(normalize(msg, dir, conf))
}

#[test]
fn bad_configs_give_the_expected_error() {
    let files = corpus("bad_configs", "conf");
    assert!(files.len() >= 60, "corpus too small: {}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let expect = std::fs::read_to_string(f.with_extension("expect"))
            .unwrap_or_else(|_| panic!("missing {}", f.with_extension("expect").display()));
        let (dir, conf) = stage(f);
        match ours(dir.path(), &conf) {
            Ok(()) => failures.push(format!(
                "{}: accepted, expected {}",
                f.display(),
                expect.trim()
            )),
            Err(m) if m == expect.trim() => {}
            Err(m) => failures.push(format!(
                "{}:\n  ours:     {m}\n  expected: {}",
                f.display(),
                expect.trim()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_configs_match_real_nginx() {
    let Some(nginx) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let mut failures = Vec::new();
    for f in corpus("bad_configs", "conf") {
        let expect = std::fs::read_to_string(f.with_extension("expect")).expect("expect file");
        let (dir, conf) = stage(&f);
        let theirs = nginx_t(&nginx, dir.path(), &conf);
        if theirs.as_ref().err().map(String::as_str) != Some(expect.trim()) {
            failures.push(format!(
                "{}:\n  nginx:    {theirs:?}\n  expected: {}",
                f.display(),
                expect.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn good_configs_pass_and_plus_directives_are_accepted() {
    for f in corpus("good_configs", "conf") {
        let (dir, conf) = stage(&f);
        if let Err(m) = ours(dir.path(), &conf) {
            panic!("{}: {m}", f.display());
        }
    }
    // The article's config uses nginx Plus' `health_check`: we accept it, nginx OSS does not.
    let Some(nginx) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let article = corpus("good_configs", "conf")
        .into_iter()
        .find(|p| p.ends_with("article.conf"))
        .expect("article.conf");
    let (dir, conf) = stage(&article);
    let theirs = nginx_t(&nginx, dir.path(), &conf).expect_err("nginx OSS rejects health_check");
    assert!(
        theirs.starts_with("unknown directive \"health_check\""),
        "{theirs}"
    );
}
