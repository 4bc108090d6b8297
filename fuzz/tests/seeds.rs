//! Every fuzz target over its seed corpus (`fuzz/seeds/TARGET/*`) and over the test inputs
//! the repository already has (the bad and good nginx configs, the scenario library, the
//! malformed-request corpus): the targets run under plain `cargo test`, without AFL.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, ext: Option<&str>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)));
    v.sort();
    v
}

#[test]
fn every_target_runs_its_seeds() {
    for t in proxylab_fuzz::TARGETS {
        let seeds = files(&root().join("fuzz/seeds").join(t.name), None);
        assert!(!seeds.is_empty(), "target {} has no seeds", t.name);
        for s in seeds {
            let data = std::fs::read(&s).expect("read seed");
            println!("{} {}", t.name, s.display());
            (t.run)(&data);
        }
    }
}

#[test]
fn config_target_runs_the_config_corpora() {
    let run = proxylab_fuzz::target("conf").expect("conf target").run;
    let mut n = 0;
    for dir in ["proxy/tests/bad_configs", "proxy/tests/good_configs"] {
        for f in files(&root().join(dir), Some("conf")) {
            run(&std::fs::read(&f).expect("read"));
            n += 1;
        }
    }
    assert!(n >= 76, "only {n} configs found");
}

#[test]
fn scenario_target_runs_the_scenario_library() {
    let run = proxylab_fuzz::target("scenario")
        .expect("scenario target")
        .run;
    let found = files(&root().join("scenarios"), Some("toml"));
    assert!(!found.is_empty());
    for f in found {
        run(&std::fs::read(&f).expect("read"));
    }
}
