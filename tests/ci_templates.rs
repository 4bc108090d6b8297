//! The CI templates (`examples/ci/`) run here, step by step: the shell of every `run:` step of
//! the GitHub Actions job and the `before_script` + `script` of the GitLab job, with the
//! templates' own variables, on a scenario directory that passes (junit.xml and the reports
//! are where the publishing steps look) and on one that fails (the run step exits 1, so the job
//! fails, and its junit.xml holds the failures; GitHub's publishing steps still run, GitLab keeps
//! its artifacts `when: always`). `uses:` steps (checkout, cache, publishing) belong to the CI
//! service and are checked by configuration only.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Yaml {
    let text = std::fs::read_to_string(root().join("examples/ci").join(name)).expect("template");
    YamlLoader::load_from_str(&text)
        .expect("YAML")
        .pop()
        .expect("one document")
}

fn vars(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .expect("a map of variables")
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{v:?}"));
            (k.as_str().expect("name").to_string(), v)
        })
        .collect()
}

/// The two jobs run one after the other: each runs scenarios with latency assertions, and two
/// runs at once on a 2-core machine measure each other (a p99 over 250 ms under load).
static ONE_JOB_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The references the templates install, present here; else SKIPPED (or a failure in CI).
fn references_present() -> bool {
    proxylab_testkit::require_listed("nginx").is_some()
        && proxylab_testkit::require_listed("wrk").is_some()
        && proxylab_testkit::require_listed("uvicorn").is_some()
}

/// A scenario directory holding copies of the given files.
fn scenario_dir(work: &Path, files: &[&str]) -> PathBuf {
    let dir = work.join("scenarios");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in files {
        let src = root().join(f);
        std::fs::copy(&src, dir.join(src.file_name().expect("name"))).expect("copy");
    }
    dir
}

/// `PATH` with the proxylab under test first, as `cargo install` would leave it.
fn path_with_proxylab() -> String {
    let bin = common::bin();
    format!(
        "{}:{}",
        bin.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs `script` in bash with `-e -o pipefail` (both services' default) in `work`.
fn shell(script: &str, work: &Path, env: &BTreeMap<String, String>) -> (i32, String) {
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(work)
        .envs(env)
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn junit_files(work: &Path, pattern: &str) -> Vec<PathBuf> {
    glob::glob(&work.join(pattern).to_string_lossy())
        .expect("glob")
        .flatten()
        .collect()
}

/// The GitHub job's steps: (name, run script, publishing `with:` map) in order.
fn github_steps(y: &Yaml) -> Vec<(String, Option<String>, Yaml)> {
    y["jobs"]["scenarios"]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .map(|s| {
            let name = s["name"]
                .as_str()
                .or(s["uses"].as_str())
                .unwrap_or_default()
                .to_string();
            (
                name,
                s["run"].as_str().map(str::to_string),
                s["with"].clone(),
            )
        })
        .collect()
}

/// Runs every `run:` step until one fails; returns the exit code of the last one run.
fn run_github(y: &Yaml, work: &Path, scenarios: &Path) -> (i32, String) {
    let mut env = vars(&y["env"]);
    env.insert("PROXYLAB_SCENARIOS".into(), scenarios.display().to_string());
    env.insert("PATH".into(), path_with_proxylab());
    let mut log = String::new();
    for (name, run, _) in github_steps(y) {
        let Some(script) = run else { continue };
        assert!(
            !script.contains("${{"),
            "{name}: no expressions in the shell"
        );
        let (code, out) = shell(&script, work, &env);
        log.push_str(&format!("--- {name}: exit {code}\n{out}"));
        if code != 0 {
            return (code, log);
        }
    }
    (0, log)
}

#[test]
fn github_actions_steps_run_here() {
    let _one = ONE_JOB_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !references_present() {
        return;
    }
    let y = load("github-actions.yml");
    let steps = github_steps(&y);
    let publish = steps
        .iter()
        .find(|(n, _, _)| n == "Publish the test results")
        .expect("a test-results step");
    let pattern = publish.2["report_paths"].as_str().expect("report_paths");
    let upload = steps
        .iter()
        .find(|(n, _, _)| n == "Keep the reports")
        .expect("an artifact step");
    assert_eq!(upload.2["path"].as_str(), Some("reports/"));
    for s in y["jobs"]["scenarios"]["steps"].as_vec().expect("steps") {
        if s["name"]
            .as_str()
            .is_some_and(|n| n == "Publish the test results" || n == "Keep the reports")
        {
            assert_eq!(
                s["if"].as_str(),
                Some("${{ !cancelled() }}"),
                "runs after a failure"
            );
        }
    }

    // A passing directory: every step exits 0, one junit.xml per run where the publisher looks.
    let work = tempfile::tempdir().expect("tempdir");
    let dir = scenario_dir(
        work.path(),
        &["examples/my-first.toml", "examples/my-first.conf"],
    );
    let (code, log) = run_github(&y, work.path(), &dir);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("nginx       found"), "doctor ran: {log}");
    let junit = junit_files(work.path(), pattern);
    assert_eq!(junit.len(), 1, "{pattern}: {junit:?}\n{log}");
    let xml = std::fs::read_to_string(&junit[0]).expect("junit");
    assert!(
        xml.contains("<testcase") && !xml.contains("<failure"),
        "{xml}"
    );

    // A failing directory: the run step exits 1 (the job fails); its junit.xml holds failures.
    let work = tempfile::tempdir().expect("tempdir");
    let dir = scenario_dir(work.path(), &["tests/scenarios/fail.toml"]);
    let (code, log) = run_github(&y, work.path(), &dir);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("--- Run the scenarios: exit 1"), "{log}");
    let junit = junit_files(work.path(), pattern);
    assert_eq!(junit.len(), 1, "{junit:?}");
    let xml = std::fs::read_to_string(&junit[0]).expect("junit");
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn gitlab_ci_job_runs_here() {
    let _one = ONE_JOB_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !references_present() {
        return;
    }
    let y = load("gitlab-ci.yml");
    let job = &y["proxylab"];
    let lines: Vec<&str> = job["before_script"]
        .as_vec()
        .expect("before_script")
        .iter()
        .chain(job["script"].as_vec().expect("script"))
        .map(|l| l.as_str().expect("a shell line"))
        .collect();
    let artifacts = &job["artifacts"];
    assert_eq!(
        artifacts["when"].as_str(),
        Some("always"),
        "reports kept after a failure"
    );
    assert_eq!(artifacts["paths"][0].as_str(), Some("reports/"));
    let pattern = artifacts["reports"]["junit"]
        .as_str()
        .expect("junit report");

    let run = |files: &[&str]| {
        let work = tempfile::tempdir().expect("tempdir");
        let dir = scenario_dir(work.path(), files);
        let mut env = vars(&y["variables"]);
        env.insert("PROXYLAB_SCENARIOS".into(), dir.display().to_string());
        env.insert("CI_PROJECT_DIR".into(), work.path().display().to_string());
        env.insert("PATH".into(), path_with_proxylab());
        let (code, log) = shell(&lines.join("\n"), work.path(), &env);
        let junit: Vec<String> = junit_files(work.path(), pattern)
            .iter()
            .map(|j| std::fs::read_to_string(j).expect("junit"))
            .collect();
        (code, log, junit)
    };
    // A passing directory: exit 0, one junit.xml where the report glob finds it.
    let (code, log, junit) = run(&["examples/my-first.toml", "examples/my-first.conf"]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(junit.len(), 1, "{pattern}: {junit:?}\n{log}");
    // A failing one: the script exits 1 (GitLab fails the job), its junit.xml holds failures.
    let (code, log, junit) = run(&["tests/scenarios/fail.toml"]);
    assert_eq!(code, 1, "{log}");
    assert_eq!(junit.len(), 1, "{pattern}: {junit:?}\n{log}");
    assert!(junit[0].contains("<failure"), "{}", junit[0]);
}
