//! The README's first-hour part cannot drift: every command in its `sh` blocks runs here (a
//! scenario run becomes `--check` except the example, which runs in full; commands that would
//! write into the repository write into a temporary directory), the annotated scenario shown is
//! `examples/my-first.toml` byte for byte, the sample output has the summary table's columns and
//! the shape of the example's real output, and the article is named with its title and linked.

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
            if args.contains(&"examples/my-first.toml".into()) && !args.contains(&"--check".into())
            {
                sample_is_current(&r.stdout);
            }
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

/// A line of run output with its numbers and run-specific words blanked: `#` for numbers,
/// `NAME` for the scenario's name, `PATH` for a path.
fn shape(line: &str, name: &str) -> String {
    let mut out = Vec::new();
    for w in line.split_whitespace() {
        let w = w.replace(name, "NAME");
        let w = if w.contains('/') { "PATH".into() } else { w };
        let mut s = String::new();
        for c in w.chars() {
            let c = if c.is_ascii_digit() { '#' } else { c };
            if !((c == '#' || c == '.') && s.ends_with('#')) {
                s.push(c);
            }
        }
        out.push(s);
    }
    out.join(" ")
}

/// The README's sample output has the shape of a real run's (`real`: the example's stdout):
/// the same title line and, for every `word:` line the run printed (`machine:`, `report:`),
/// a line of that kind; lines the sample shows exist in real output. Wording or layout changes
/// in the runner's output fail here until the README is updated.
fn sample_is_current(real: &str) {
    let sample = blocks(&first_hour(), "text").join("\n");
    let title = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.contains("] proxy="))
            .map(|l| shape(l, name))
            .unwrap_or_default()
    };
    assert_eq!(
        title(&sample, "quickstart"),
        title(real, "my-first"),
        "the README's title line is a real run's:\n{real}"
    );
    let kind = |l: &str| {
        let (head, _) = l.split_once(": ")?;
        head.chars()
            .all(|c| c.is_ascii_lowercase() || c == ' ')
            .then(|| head.to_string())
    };
    let kinds = |text: &str| -> Vec<String> { text.lines().filter_map(kind).collect() };
    let (want, shown) = (kinds(real), kinds(&sample));
    // A run on a busy machine also says it is not sound for the claims ledger: optional.
    for k in want.iter().filter(|k| !k.starts_with("not sound")) {
        assert!(
            shown.contains(k),
            "the README's sample shows the `{k}:` line a run prints:\n{real}"
        );
    }
    for k in &shown {
        assert!(
            want.contains(k) || k.starts_with("not sound"),
            "the README's sample shows a `{k}:` line no run prints:\n{real}"
        );
    }
}

/// The first hour in the order a newcomer needs it (issue 19): what it is and the article,
/// requirements, a real quickstart output, reading a report, your own nginx.conf, your own
/// scenario, CI, the docs.
#[test]
fn the_first_hour_sections_are_in_order() {
    let headings: Vec<String> = first_hour()
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        headings,
        [
            "What proxylab is",
            "Requirements",
            "Quickstart: what you see",
            "Reading a report",
            "Test your own nginx.conf",
            "Write your own scenario",
            "CI",
            "Where the docs are",
        ]
    );
    // The two commands come first.
    let r = readme();
    let first_block = r.find("```sh\n").expect("a command block");
    assert!(
        first_block < r.find("## ").expect("a section"),
        "the commands first"
    );
}

#[test]
fn where_the_docs_are_lists_every_page() {
    let text = first_hour();
    let section = text
        .split("## Where the docs are")
        .nth(1)
        .expect("a 'Where the docs are' section");
    for e in std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            assert!(
                section.contains(&format!("](docs/{name})")),
                "'Where the docs are' links docs/{name}"
            );
        }
    }
}

#[test]
fn the_article_is_named_and_linked() {
    let text = first_hour()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(
            "[\"FastAPI Behind Nginx: The Production Setup Nobody Talks About\"](https://"
        ),
        "the first hour names the article with its title, linked"
    );
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
