//! The reports in headless Chromium, from one short run. The run's `index.html`: every plot is
//! drawn by the embedded uPlot (pixels on each canvas), a scripted hover on the latency chart
//! shows the p99 that `timeseries.csv` holds for that second, a click on a legend entry hides
//! its series, a scripted drag zooms the x axis into the dragged window, every static image
//! decodes, the summary table holds summary.json's numbers, and a screenshot of the page has the
//! window's size and is not blank. The comparison report (`proxylab compare`) draws its
//! overlays the same way. The pages load nothing from outside (one file, offline).

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
            out.to_str().expect("utf8"),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    common::run_dirs(out, "pass").remove(0)
}

/// Added to a copy of a page: counts drawn pixels on each chart and decoded static images;
/// on the chart named by `H` (if any), as a reader would: hovers its middle second with a real
/// mouse event and reads the legend, clicks the p99 legend entry, then drags across the middle
/// half of the plot, a step per timer tick as a hand would (uPlot ignores a move without
/// `movementX` while dragging).
const PROBE: &str = "<script>window.addEventListener('load',()=>{const out=[];\
const done=()=>{const m=document.createElement('pre');m.id='probe';m.textContent=out.join(' | ');\
document.body.appendChild(m);};const later=f=>setTimeout(f,50);\
const cs=window.proxylabCharts||{};const names=Object.keys(cs);out.push('CHARTS '+names.length);\
for(const n of names){const u=cs[n];const c=u.ctx.canvas;\
const px=u.ctx.getImageData(0,0,c.width,c.height).data;let k=0;\
for(let i=3;i<px.length;i+=4){if(px[i]>0)k++;}out.push('DRAWN '+n+' '+k);}\
const im=[...document.images];\
out.push('IMAGES '+im.filter(i=>i.complete&&i.naturalWidth>0&&i.naturalHeight>0).length+' '+im.length);\
const u=H&&cs[H];if(!u){done();return;}\
const p=u.series.findIndex(s=>s.label==='p99');const xs=u.data[0];\
const i=Math.floor(xs.length/2);const r=u.over.getBoundingClientRect();\
const ev=(t,x,dx)=>new MouseEvent(t,{clientX:r.left+x,clientY:r.top+10,movementX:dx||0,bubbles:true,button:0});\
u.over.dispatchEvent(ev('mousemove',u.valToPos(xs[i],'x')));\
const rows=u.root.querySelectorAll('.u-legend .u-series');\
out.push('HOVER '+rows[0].querySelector('.u-value').textContent+' '+\
rows[p].querySelector('.u-value').textContent);\
rows[p].querySelector('th').dispatchEvent(new MouseEvent('click',{bubbles:true}));\
out.push('SHOWN '+u.series[p].show);\
const a=r.width*0.25,b=r.width*0.75,wa=u.posToVal(a,'x'),wb=u.posToVal(b,'x');\
u.over.dispatchEvent(ev('mousedown',a));\
later(()=>{u.over.dispatchEvent(ev('mousemove',b,b-a));later(()=>{\
document.dispatchEvent(ev('mouseup',b));later(()=>{\
out.push('ZOOM '+xs[0]+' '+xs[xs.length-1]+' '+wa+' '+wb+' '+u.scales.x.min+' '+u.scales.x.max);\
done();});});});});</script></body>";

/// The probe's findings on `page` (a copy with the probe added is written beside it), and the
/// whole DOM Chromium printed.
fn probe(bin: &Path, page: &Path, hover_chart: Option<&str>) -> (Vec<String>, String) {
    let html = std::fs::read_to_string(page).expect("page");
    assert!(
        !html.contains("src=\"http") && !html.contains("<link") && html.contains("uPlot"),
        "{}: one self-contained page with uPlot embedded",
        page.display()
    );
    assert!(
        html.contains("Copyright (c) 2022 Leon Sorokin")
            && html.contains("Permission is hereby granted"),
        "{}: the embedded uPlot carries its MIT licence",
        page.display()
    );
    let h = hover_chart.map_or("null".to_string(), |c| format!("'{c}'"));
    let script = PROBE.replacen("<script>", &format!("<script>const H={h};"), 1);
    let check = page.with_file_name("check.html");
    std::fs::write(&check, html.replace("</body>", &script)).expect("check.html");
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = chromium(bin, profile.path());
    cmd.arg("--dump-dom")
        .arg(format!("file://{}", check.display()));
    let p = proxylab_testkit::Proc::spawn("chromium", cmd).expect("spawn chromium");
    p.wait_stdout_line(|l| l.contains("</html>"), Duration::from_secs(90))
        .unwrap_or_else(|| panic!("chromium printed the page: {}", p.stderr_log()));
    let dom = p.stdout_lines().join("\n");
    let text = dom
        .split("id=\"probe\">")
        .nth(1)
        .and_then(|t| t.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe ran: {}", p.stderr_log()));
    (text.split(" | ").map(str::to_string).collect(), dom)
}

/// The numbers after `tag` in the probe's findings.
fn numbers(parts: &[String], tag: &str) -> Vec<f64> {
    let part = parts
        .iter()
        .find(|p| p.starts_with(&format!("{tag} ")))
        .unwrap_or_else(|| panic!("{tag} in {parts:?}"));
    part.split(' ')
        .skip(1)
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{part}")))
        .collect()
}

/// Every chart drawn: `charts` of them, each with lines on it.
fn all_drawn(parts: &[String], charts: usize) {
    assert_eq!(parts[0], format!("CHARTS {charts}"), "{parts:?}");
    let drawn: Vec<&String> = parts.iter().filter(|p| p.starts_with("DRAWN ")).collect();
    assert_eq!(drawn.len(), charts, "{parts:?}");
    for part in drawn {
        let n: u64 = part
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("count");
        assert!(n > 2000, "a chart with lines on it: {part}");
    }
    let images = numbers(parts, "IMAGES");
    assert_eq!(
        images[0], images[1],
        "every static image decodes: {parts:?}"
    );
    assert!(
        images[1] as usize >= charts,
        "a static image per chart: {parts:?}"
    );
}

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

/// The hover shows timeseries.csv's p99; the legend click hides the series; the drag zooms the
/// x axis to the dragged window, inside the data's range.
fn hover_toggle_zoom(parts: &[String], d: &Path) {
    let hover = numbers(parts, "HOVER");
    let (x, shown) = (hover[0], hover[1]);
    let want = csv_p99(d, x.floor() as u32);
    assert!(
        (shown - want).abs() < 0.0015,
        "hover at {x} s shows p99 {shown} ms, timeseries.csv says {want}"
    );
    assert!(
        parts.iter().any(|p| p == "SHOWN false"),
        "a click on the legend hides p99: {parts:?}"
    );
    let z = numbers(parts, "ZOOM");
    let (first, last, from, to, min, max) = (z[0], z[1], z[2], z[3], z[4], z[5]);
    let tol = (last - first) * 0.02;
    assert!(
        (min - from).abs() < tol && (max - to).abs() < tol && first < min && max < last,
        "the drag zooms into [{from}, {to}] of [{first}, {last}]: x axis now [{min}, {max}]"
    );
}

/// A screenshot of `page`: the window's size, and far from blank.
fn screenshot(bin: &Path, page: &Path) {
    let shot = page.with_file_name("screenshot.png");
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = chromium(bin, profile.path());
    cmd.arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()));
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

#[test]
fn reports_render_explore_and_match_the_data_in_chromium() {
    let Some(bin) = proxylab_testkit::require_listed("chromium") else {
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let d = run_pass(out.path());
    let index = d.join("index.html");
    let html = std::fs::read_to_string(&index).expect("index.html");
    assert_eq!(
        html.matches("<figure class=\"plot\" data-chart=").count(),
        5,
        "every plot"
    );

    let (parts, dom) = probe(&bin, &index, Some("latency"));
    all_drawn(&parts, 5);
    hover_toggle_zoom(&parts, &d);
    let sm = common::summary(&d);
    for (id, v) in [
        ("summary-all-completed", &sm["total"]["completed"]),
        ("summary-all-sent", &sm["total"]["sent"]),
    ] {
        let v = format!("{:.0}", v.as_f64().expect("a number"));
        assert!(
            dom.contains(&format!("<td id=\"{id}\">{v}</td>")),
            "the summary table's {id} is summary.json's {v}"
        );
    }
    assert!(dom.contains("id=\"verdict\">PASS"), "verdict shown");
    screenshot(&bin, &index);

    // The comparison report (the run against itself: no second run needed) overlays its four
    // charts the same way.
    let cmp = out.path().join("compare");
    let r = common::proxylab(
        &[
            "compare",
            d.to_str().expect("utf8"),
            d.to_str().expect("utf8"),
            "--out",
            cmp.to_str().expect("utf8"),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let (parts, _) = probe(&bin, &cmp.join("index.html"), None);
    all_drawn(&parts, 4);
}
