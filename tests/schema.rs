//! The scenario JSON Schema: the committed copy equals what `proxylab schema` generates from the
//! loader's types, every scenario file in the repository names it on its first line (Taplo's
//! `#:schema` directive) and validates against it, and a misspelt key fails validation.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed() -> serde_json::Value {
    let t = std::fs::read_to_string(root().join("scenarios/scenario.schema.json"))
        .expect("scenarios/scenario.schema.json");
    serde_json::from_str(&t).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&committed()).expect("a valid JSON Schema")
}

/// Every scenario file: `*.toml` in scenarios/, tests/scenarios/ and examples/ (not the
/// claims ledger).
fn scenario_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["scenarios", "tests/scenarios", "examples"] {
        for e in std::fs::read_dir(root().join(dir)).expect("dir").flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml")
                && p.file_name().is_some_and(|n| n != "claims.toml")
            {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() > 20, "found the scenarios: {v:?}");
    v
}

fn as_json(path: &Path, text: &str) -> serde_json::Value {
    let doc: toml::Table =
        toml::from_str(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::to_value(doc).expect("TOML to JSON")
}

fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn committed_schema_is_the_generated_one() {
    let r = common::proxylab(&["schema"], Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    let on_disk = std::fs::read_to_string(root().join("scenarios/scenario.schema.json"))
        .expect("committed schema");
    assert!(
        r.stdout == on_disk,
        "scenarios/scenario.schema.json is stale: run \
         `cargo run -- schema --out scenarios/scenario.schema.json` and commit it"
    );
}

#[test]
fn every_scenario_names_the_schema_and_validates() {
    let v = validator();
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().unwrap_or_default();
        let rel = first
            .strip_prefix("#:schema ")
            .unwrap_or_else(|| panic!("{}: first line is `#:schema …`", path.display()));
        let schema = path.parent().expect("dir").join(rel.trim());
        assert!(
            schema.canonicalize().ok()
                == root()
                    .join("scenarios/scenario.schema.json")
                    .canonicalize()
                    .ok(),
            "{}: `#:schema {rel}` names scenarios/scenario.schema.json",
            path.display()
        );
        let errs = errors(&v, &as_json(&path, &text));
        assert!(errs.is_empty(), "{}: {errs:#?}", path.display());
    }
}

#[test]
fn misspelt_keys_fail_validation() {
    let v = validator();
    let path = root().join("scenarios/quickstart.toml");
    let text = std::fs::read_to_string(&path).expect("quickstart");
    let cases = [
        ("duration = \"15s\"", "duraton = \"15s\"", "duraton"),
        (
            "config = \"quickstart.conf\"",
            "confg = \"quickstart.conf\"",
            "confg",
        ),
        ("instances = 2", "instanses = 2", "instanses"),
        (
            "think_time = \"500ms\"",
            "thinktime = \"500ms\"",
            "thinktime",
        ),
        ("median_ms = 10", "median = 10", "median"),
        (
            "shape = \"constant\", rate = 200",
            "shape = \"constant\", rates = 200",
            "rates",
        ),
    ];
    for (good, bad, key) in cases {
        assert!(text.contains(good), "{good}");
        let doc = as_json(&path, &text.replacen(good, bad, 1));
        let errs = errors(&v, &doc);
        assert!(!errs.is_empty(), "`{bad}` must fail validation");
        // The loader rejects the same file, naming the key.
        let tmp = tempfile::tempdir().expect("tempdir");
        let copy = tmp.path().join("quickstart.toml");
        std::fs::write(&copy, text.replacen(good, bad, 1)).expect("write");
        std::fs::copy(
            root().join("scenarios/quickstart.conf"),
            tmp.path().join("quickstart.conf"),
        )
        .expect("conf");
        let e = proxylab::scenario::load(&copy, &Default::default())
            .expect_err("the loader rejects it too");
        assert!(e.to_string().contains(key), "{e}");
    }
    // A good value of the wrong type fails too.
    let doc = as_json(
        &path,
        &text.replacen("instances = 2", "instances = \"two\"", 1),
    );
    assert!(!errors(&v, &doc).is_empty());
}

/// Runs `taplo lint FILES` in `dir`; returns (success, everything it printed).
fn taplo_lint(taplo: &Path, dir: &Path, files: &[String]) -> (bool, String) {
    let mut cmd = std::process::Command::new(taplo);
    cmd.arg("lint").args(files).current_dir(dir);
    let mut p = proxylab_testkit::Proc::spawn("taplo", cmd).expect("spawn taplo");
    let status = p.wait_exit(Duration::from_secs(60)).expect("taplo exits");
    let text = format!("{}\n{}", p.stdout_lines().join("\n"), p.stderr_log());
    (status.success(), text)
}

/// Taplo, the engine of the TOML editor plugins, follows each file's `#:schema` line: every
/// scenario passes, and a misspelt key is reported.
#[test]
fn taplo_follows_the_schema_directive() {
    let Some(taplo) = proxylab_testkit::require("taplo", "npm install -g @taplo/cli") else {
        return;
    };
    let files: Vec<String> = scenario_files()
        .iter()
        .map(|p| {
            p.strip_prefix(root())
                .expect("in repo")
                .display()
                .to_string()
        })
        .collect();
    let (ok, out) = taplo_lint(&taplo, &root(), &files);
    assert!(ok, "taplo lint of every scenario: {out}");

    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        root().join("scenarios/scenario.schema.json"),
        tmp.path().join("scenario.schema.json"),
    )
    .expect("schema");
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).expect("read");
    std::fs::write(
        tmp.path().join("bad.toml"),
        text.replacen("instances = 2", "instanses = 2", 1),
    )
    .expect("write");
    let (ok, out) = taplo_lint(&taplo, tmp.path(), &["bad.toml".into()]);
    assert!(
        !ok && out.contains("instanses"),
        "taplo reports the misspelt key: {out}"
    );
}
