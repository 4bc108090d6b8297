//! The README's first-hour part cannot drift: every command in its `sh` blocks runs here (a
//! scenario run becomes `--check` except the example, which runs in full; commands that would
//! write into the repository write into a temporary directory), the annotated scenario shown is
//! `examples/my-first.toml` byte for byte, and the sample output has the summary table's columns.

mod common;

use std::path::PathBuf;
use std::time::Duration;

const REFERENCE_MARK: &str = "The rest of this page is the reference";

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first-hour part: everything above the reference.
fn first_hour() -> String {
    let r = readme();
    let end = r.find(REFERENCE_MARK).expect("the reference mark");
    r[..end].to_string()
}

/// The bodies of the fenced blocks of `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let end = body.find("```").expect("closed block");
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

/// `proxylab` arguments of a README command line, or None for the lines that are not
/// proxylab commands (`cargo test`, `cargo install`).
fn proxylab_args(line: &str) -> Option<Vec<String>> {
    let line = line.split(" #").next().unwrap_or_default().trim();
    let rest = line
        .strip_prefix("cargo run --release -- ")
        .or_else(|| line.strip_prefix("proxylab "))?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// What the test runs for a README command, and the exit code it expects.
fn adapt(mut args: Vec<String>, tmp: &std::path::Path) -> Vec<String> {
    let out_dir = tmp.join("reports").to_string_lossy().into_owned();
    match args[0].as_str() {
        "run" if args[1] == "examples/my-first.toml" && !args.contains(&"--check".into()) => {
            args.extend(["--out".into(), out_dir]);
        }
        "run" if !args.contains(&"--check".into()) => args.push("--check".into()),
        "claims" => args.extend([
            "--reports".into(),
            out_dir,
            "--out".into(),
            tmp.join("claims.md").to_string_lossy().into_owned(),
        ]),
        _ => {}
    }
    args
}

#[test]
fn every_readme_command_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut ran = Vec::new();
    for block in blocks(&first_hour(), "sh") {
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            let Some(args) = proxylab_args(line) else {
                assert!(
                    line.starts_with("cargo test") || line.starts_with("cargo install"),
                    "a README command the test does not know: {line}"
                );
                continue;
            };
            let args = adapt(args, tmp.path());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = common::proxylab(&argv, Duration::from_secs(120));
            assert_eq!(r.code, 0, "README: `{line}` (ran {argv:?}): {}", r.all());
            ran.push(args[0].clone());
        }
    }
    for cmd in ["doctor", "run", "claims", "proxy"] {
        assert!(
            ran.iter().any(|c| c == cmd),
            "the README shows `{cmd}`: {ran:?}"
        );
    }
    // The example ran in full and passed.
    let dirs = common::run_dirs(&tmp.path().join("reports"), "my-first");
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert_eq!(common::summary(&dirs[0])["passed"], true);
}

#[test]
fn the_annotated_scenario_is_the_example_file() {
    let text = first_hour();
    let toml = std::fs::read_to_string(root().join("examples/my-first.toml")).expect("example");
    let conf = std::fs::read_to_string(root().join("examples/my-first.conf")).expect("conf");
    assert!(
        blocks(&text, "toml").contains(&toml),
        "README shows examples/my-first.toml as is"
    );
    assert!(
        blocks(&text, "nginx").contains(&conf),
        "README shows examples/my-first.conf as is"
    );
}

#[test]
fn the_sample_output_has_the_summary_columns() {
    let sample = blocks(&first_hour(), "text").join("\n");
    let header = sample
        .lines()
        .find(|l| l.starts_with("population "))
        .expect("a summary header line");
    let want: Vec<&str> = proxylab::report::table::HEADERS
        .iter()
        .flat_map(|h| h.split(' '))
        .collect();
    assert_eq!(header.split_whitespace().collect::<Vec<_>>(), want);
    // Each column is named in bold at the start of an explanation bullet.
    let bold: String = first_hour()
        .lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .filter_map(|l| l.split("**:").next())
        .collect::<Vec<_>>()
        .join(" ");
    for h in proxylab::report::table::HEADERS {
        let name = h.split(' ').next().unwrap_or(h);
        assert!(
            bold.contains(name),
            "the README explains the column {h}: {bold}"
        );
    }
}
