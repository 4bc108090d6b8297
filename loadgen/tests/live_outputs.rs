//! Live outputs: a `--plan` run's series CSV and interval log grow while it runs (a parent
//! process follows them), and a status code outside the CSV's fixed columns gets its own
//! column once the run ends.

use proxylab_testkit::{Nginx, Proc};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn plan_file(dir: &Path, url: &str, duration: &str) -> std::path::PathBuf {
    let p = dir.join("plan.toml");
    let text = format!(
        "targets = [\"{url}\"]\nduration = \"{duration}\"\nthreads = 1\n\n[output]\n\
         summary_json = \"{d}/s.json\"\nseries_csv = \"{d}/s.csv\"\nhlog = \"{d}/s.hlog\"\n\n\
         [[population]]\nname = \"main\"\n\
         load = {{ model = \"open\", stages = [{{ shape = \"constant\", rate = 200, duration = \"{duration}\" }}] }}\n\n\
         [[population.requests]]\nweight = 3\npath = \"/ok\"\n\n\
         [[population.requests]]\nweight = 1\npath = \"/tea\"\n",
        d = dir.display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn data_rows(csv: &str) -> Vec<&str> {
    csv.lines().skip(1).filter(|l| !l.is_empty()).collect()
}

#[test]
fn series_and_hlog_grow_while_the_run_goes_on() {
    let Some(n) = Nginx::start(
        "server { listen 127.0.0.1:{PORT}; location /ok { return 200 'ok'; } \
         location /tea { return 418 'teapot'; } }",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_file(dir.path(), &format!("http://127.0.0.1:{}", n.port()), "4s");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxylab-loadgen"));
    cmd.arg("--plan").arg(&plan);
    let started = Instant::now();
    let mut lg = Proc::spawn("loadgen", cmd).unwrap();
    let (csv, hlog) = (dir.path().join("s.csv"), dir.path().join("s.hlog"));

    // Wait (bounded) until the CSV has at least one complete second; that must happen well
    // before the 4 s run (+2 s drain) is over.
    let deadline = started + Duration::from_millis(3500);
    let mut seen_rows = 0;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&csv).unwrap_or_default();
        seen_rows = data_rows(&text).len();
        if seen_rows >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let at = started.elapsed();
    assert!(seen_rows >= 2, "no series rows after {at:?}");
    assert!(
        lg.wait_exit(Duration::ZERO).is_none(),
        "the run was already over at {at:?}: rows were not live"
    );
    assert!(
        !dir.path().join("s.json").exists(),
        "summary before the end"
    );
    let live_csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = live_csv.lines().next().unwrap().split(',').collect();
    assert!(header.contains(&"status_other"), "{header:?}");
    let other = header.iter().position(|c| *c == "status_other").unwrap();
    let first: Vec<&str> = data_rows(&live_csv)[0].split(',').collect();
    assert_eq!(first.len(), header.len(), "a complete row: {first:?}");
    let live_hlog = std::fs::read_to_string(&hlog).unwrap();
    assert!(
        live_hlog.contains("#[StartTime: ") && live_hlog.contains("#[BaseTime: "),
        "{live_hlog}"
    );
    assert!(
        live_hlog.contains("Tag=main,"),
        "no interval yet: {live_hlog}"
    );
    // Live rows count the 418s as status_other (some second has some).
    let live_other: u64 = data_rows(&live_csv)
        .iter()
        .filter_map(|l| l.split(',').nth(other)?.parse::<u64>().ok())
        .sum();
    assert!(live_other > 0, "{live_csv}");

    let status = lg
        .wait_exit(Duration::from_secs(15))
        .expect("loadgen ended");
    assert!(status.success(), "{}", lg.stderr_log());
    // At the end, status_other became a status_418 column; the counts match the summary.
    let end_csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = end_csv.lines().next().unwrap().split(',').collect();
    assert!(!header.contains(&"status_other"), "{header:?}");
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (c418, c200, pop) = (col("status_418"), col("status_200"), col("population"));
    let sum = |c: usize| -> u64 {
        data_rows(&end_csv)
            .iter()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[pop] == "main")
            .map(|f| {
                assert_eq!(f.len(), header.len());
                f[c].parse::<u64>().unwrap()
            })
            .sum()
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let status = &summary["overall"]["status"];
    assert_eq!(Some(sum(c418)), status["418"].as_u64(), "{summary}");
    assert_eq!(Some(sum(c200)), status["200"].as_u64(), "{summary}");
    assert!(sum(c418) > 0 && sum(c200) > sum(c418));
}
