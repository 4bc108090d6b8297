//! The report's interactive charts in headless Chromium: every plot is drawn by the embedded
//! uPlot (pixels on each canvas), a scripted hover on the latency chart shows the p99 that
//! `timeseries.csv` holds for that second, and a screenshot of the page has the window's size
//! and is not blank; the comparison report's overlays are drawn too. The page loads nothing from
//! outside (one file, offline).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Chromium with the flags of a quiet headless run, its profile in `profile`.
fn chromium(bin: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Runs `pass.toml` once; returns its run directory.
fn run_pass(out: &Path) -> PathBuf {
    let s = common::scenario("pass.toml");
    let r = common::proxylab(
        &[
            "run",
            s.to_str().expect("utf8"),
            "--variant",
            "base",
            "--out",
        ]
        .into_iter()
        .chain([out.to_str().expect("utf8")])
        .collect::<Vec<_>>(),
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    common::run_dirs(out, "pass").remove(0)
}

/// Added to a copy of the page: counts drawn pixels on each chart, hovers the latency chart at
/// its middle second with a real mouse event and reads the legend, as a reader would.
const PROBE: &str = "<script>window.addEventListener('load',()=>{const out=[];\
const cs=window.proxylabCharts||{};const names=Object.keys(cs);out.push('CHARTS '+names.length);\
for(const n of names){const u=cs[n];const c=u.ctx.canvas;\
const px=u.ctx.getImageData(0,0,c.width,c.height).data;let k=0;\
for(let i=3;i<px.length;i+=4){if(px[i]>0)k++;}out.push('DRAWN '+n+' '+k);}\
const u=cs.latency;if(u){const p=u.series.findIndex(s=>s.label==='p99');const xs=u.data[0];\
const i=Math.floor(xs.length/2);const r=u.over.getBoundingClientRect();\
u.over.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+u.valToPos(xs[i],'x'),\
clientY:r.top+10,bubbles:true}));const rows=u.root.querySelectorAll('.u-legend .u-series');\
out.push('HOVER '+rows[0].querySelector('.u-value').textContent+' '+\
rows[p].querySelector('.u-value').textContent);}\
const m=document.createElement('pre');m.id='probe';m.textContent=out.join(' | ');\
document.body.appendChild(m);});</script></body>";

/// `all.p99_ms` of `second` in timeseries.csv.
fn csv_p99(dir: &Path, second: u32) -> f64 {
    let mut rd = csv::Reader::from_path(dir.join("timeseries.csv")).expect("timeseries.csv");
    let col = rd
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "all.p99_ms")
        .expect("all.p99_ms column");
    rd.records()
        .flatten()
        .find(|r| r.get(0) == Some(&second.to_string()))
        .and_then(|r| r.get(col)?.parse().ok())
        .unwrap_or_else(|| panic!("second {second} in timeseries.csv"))
}

#[test]
fn charts_render_hover_matches_timeseries_and_screenshot() {
    let Some(bin) = proxylab_testkit::require_listed("chromium") else {
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let d = run_pass(out.path());
    let html = std::fs::read_to_string(d.join("index.html")).expect("index.html");
    assert!(
        !html.contains("src=\"http") && !html.contains("<link") && html.contains("uPlot"),
        "one self-contained page with uPlot embedded"
    );
    assert_eq!(
        html.matches("<figure class=\"plot\" data-chart=").count(),
        5,
        "every plot"
    );
    let check = d.join("check.html");
    std::fs::write(&check, html.replace("</body>", PROBE)).expect("check.html");

    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = chromium(&bin, profile.path());
    cmd.arg("--dump-dom")
        .arg(format!("file://{}", check.display()));
    let p = proxylab_testkit::Proc::spawn("chromium", cmd).expect("spawn chromium");
    let line = p
        .wait_stdout_line(|l| l.contains("id=\"probe\""), Duration::from_secs(90))
        .unwrap_or_else(|| panic!("the probe ran: {}", p.stderr_log()));
    let probe = line.split("id=\"probe\">").nth(1).expect("probe text");
    let parts: Vec<&str> = probe.split(" | ").collect();
    assert_eq!(parts[0], "CHARTS 5", "{probe}");
    for part in parts.iter().filter(|p| p.starts_with("DRAWN ")) {
        let n: u64 = part
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("count");
        assert!(n > 2000, "a chart with lines on it: {part}");
    }
    assert_eq!(parts.iter().filter(|p| p.starts_with("DRAWN ")).count(), 5);
    let hover: Vec<&str> = parts
        .iter()
        .find(|p| p.starts_with("HOVER "))
        .expect("hover")
        .trim_end_matches("</pre></body></html>")
        .split(' ')
        .collect();
    let x: f64 = hover[1].parse().expect("hovered second");
    let shown: f64 = hover[2].parse().expect("p99 shown");
    let want = csv_p99(&d, x.floor() as u32);
    assert!(
        (shown - want).abs() < 0.0015,
        "hover at {x} s shows p99 {shown} ms, timeseries.csv says {want}"
    );

    // A screenshot of the page: the window's size, and far from blank.
    let shot = d.join("screenshot.png");
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = chromium(&bin, profile.path());
    cmd.arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", d.join("index.html").display()));
    let mut p = proxylab_testkit::Proc::spawn("chromium", cmd).expect("spawn chromium");
    assert!(
        p.wait_exit(Duration::from_secs(90)).is_some(),
        "chromium exits"
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{e}: {}", p.stderr_log()));
    assert_eq!(&png[1..4], b"PNG");
    let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dim(16), dim(20)), (1200, 2400), "IHDR width, height");
    assert!(
        png.len() > 60_000,
        "a page with tables and charts, not blank: {} bytes",
        png.len()
    );
}
