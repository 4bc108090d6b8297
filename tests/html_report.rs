//! The HTML report opened in headless Chromium: it loads, every image decodes (a small script
//! added to a copy of the page writes a marker into the DOM), and the summary table holds the
//! run's numbers from summary.json.

mod common;

use std::process::Command;
use std::time::Duration;

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = proxylab_testkit::require("chromium", "apt-get install chromium") else {
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let s = common::scenario("pass.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--ci",
            "--variant",
            "base",
            "--out",
            out.path().to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let d = &common::run_dirs(out.path(), "pass")[0];
    let html = std::fs::read_to_string(d.join("index.html")).expect("index.html");
    assert!(
        !html.contains("src=\"http") && !html.contains("<link"),
        "self-contained"
    );
    let probe = "<script>window.addEventListener('load',()=>{const im=[...document.images];\
        const bad=im.filter(i=>!(i.complete&&i.naturalWidth>0&&i.naturalHeight>0));\
        const m=document.createElement('div');m.id='img-check';\
        m.textContent=bad.length?'IMAGES-BROKEN '+bad.map(i=>i.id).join(','):'IMAGES-OK '+im.length;\
        document.body.appendChild(m);});</script></body>";
    let check = d.join("check.html");
    std::fs::write(&check, html.replace("</body>", probe)).expect("write check.html");
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg("--dump-dom")
    .arg(format!("file://{}", check.display()));
    let p = proxylab_testkit::Proc::spawn("chromium", cmd).expect("spawn chromium");
    let marker = p.wait_stdout_line(
        |l| l.contains("img-check") || l.contains("</html>"),
        Duration::from_secs(90),
    );
    assert!(
        marker.is_some(),
        "chromium printed the DOM: {}",
        p.stderr_log()
    );
    let _ = p.wait_stdout_line(|l| l.contains("</html>"), Duration::from_secs(10));
    let dom = p.stdout_lines().join("\n");
    assert!(
        dom.contains("IMAGES-OK 5"),
        "every image decodes: {}",
        dom.lines()
            .filter(|l| l.contains("IMAGES"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let sm = common::summary(d);
    let completed = format!(
        "{:.0}",
        sm["total"]["completed"].as_f64().expect("completed")
    );
    assert!(
        dom.contains(&format!(
            "<td id=\"summary-all-completed\">{completed}</td>"
        )),
        "summary table holds {completed}"
    );
    let sent = format!("{:.0}", sm["total"]["sent"].as_f64().expect("sent"));
    assert!(
        dom.contains(&format!("<td id=\"summary-web-sent\">{sent}</td>"))
            || dom.contains(&format!("<td id=\"summary-all-sent\">{sent}</td>"))
    );
    assert!(dom.contains("id=\"verdict\">PASS"), "verdict shown");
}
