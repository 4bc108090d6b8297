//! `proxylab bench gzip --sweep`: for each response size (1, 16, 64 KiB of JSON) and level
//! (off, 1, 6, 9), our proxy and nginx: bytes saved per response (document size − size on
//! the wire) and CPU per request (the server's utime+stime over a closed-loop round /
//! requests). Printed as a table and plotted: CPU µs per request (y) against KiB saved per
//! response (x), one line per server and size through the levels
//! (reports/bench/gzip-cost.svg and .png).

use super::gzip::{FILES, Target, compressed_size, document, round};
use anyhow::Context;
use plotters::prelude::*;
use std::path::Path;

const LEVELS: [u32; 4] = [0, 1, 6, 9];
const SECONDS: u32 = 2;

/// One measured point.
#[derive(Debug, Clone)]
struct Point {
    target: &'static str,
    size: usize,
    saved: f64,
    cpu_us: f64,
}

/// Measures every point and writes the plot.
pub(super) fn run(
    exe: &Path,
    targets: &[Target],
    rounds: u32,
    tmp: &Path,
    cpus: Option<&[usize]>,
) -> anyhow::Result<()> {
    println!("\nsweep: CPU per request vs bytes saved per response ({SECONDS} s rounds)");
    println!(
        "{:<6} {:>7} {:>6} {:>12} {:>14}",
        "server", "size", "level", "saved B/resp", "CPU µs/request"
    );
    let mut points = Vec::new();
    for (file, size) in FILES {
        let doc = document(size);
        for level in LEVELS {
            for t in targets {
                let wire = compressed_size(t.port, level, file, &doc)?;
                let url = format!("http://127.0.0.1:{}/l{level}/{file}", t.port);
                let mut samples = Vec::new();
                for _ in 0..rounds {
                    let before = super::proxy::cpu_secs(t.child.pid());
                    let (_, n) = round(exe, &url, SECONDS, tmp, cpus)?;
                    let used = super::proxy::cpu_secs(t.child.pid()) - before;
                    samples.push(used * 1e6 / n as f64);
                }
                let p = Point {
                    target: t.name,
                    size,
                    saved: (size - wire.min(size)) as f64,
                    cpu_us: super::support::median(&samples),
                };
                println!(
                    "{:<6} {:>6}B {:>6} {:>12.0} {:>14.1}",
                    p.target,
                    p.size,
                    if level == 0 {
                        "off".into()
                    } else {
                        level.to_string()
                    },
                    p.saved,
                    p.cpu_us
                );
                points.push(p);
            }
        }
    }
    let dir = Path::new("reports/bench");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for ext in ["svg", "png"] {
        let path = dir.join(format!("gzip-cost.{ext}"));
        plot(&points, &path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

/// The chart: one line per (server, size) through the levels.
fn plot(points: &[Point], path: &Path) -> Result<(), String> {
    let x_max = points.iter().map(|p| p.saved / 1024.0).fold(1.0, f64::max) * 1.1;
    let y_max = points.iter().map(|p| p.cpu_us).fold(1.0, f64::max) * 1.1;
    let size = (960, 540);
    if path.extension().is_some_and(|e| e == "svg") {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(&root, points, x_max, y_max)?;
        root.present().map_err(|e| e.to_string())
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(&root, points, x_max, y_max)?;
        root.present().map_err(|e| e.to_string())
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    points: &[Point],
    x_max: f64,
    y_max: f64,
) -> Result<(), String> {
    crate::report::plots::register_font();
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "gzip: CPU per request vs bytes saved per response (levels off, 1, 6, 9)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("KiB saved per response")
        .y_desc("CPU µs per request")
        .draw()
        .map_err(e)?;
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
    ];
    for (i, (_, size)) in FILES.iter().enumerate() {
        for target in ["ours", "nginx"] {
            let line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.target == target && p.size == *size)
                .map(|p| (p.saved / 1024.0, p.cpu_us))
                .collect();
            let color = colors[i % colors.len()];
            let style = if target == "ours" {
                color.stroke_width(2)
            } else {
                color.mix(0.5).stroke_width(1)
            };
            chart
                .draw_series(LineSeries::new(line.clone(), style))
                .map_err(e)?
                .label(format!("{target} {} KiB", size / 1024))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart
                .draw_series(
                    line.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                )
                .map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}
