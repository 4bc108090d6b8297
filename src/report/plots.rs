//! Charts with plotters, each written as PNG and SVG with the embedded DejaVu Sans font:
//! line charts over time (with fault markers), stacked status areas, percentile distributions.

use crate::run::Marker;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

/// Registers the embedded font as `sans-serif` (once per process).
pub fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

/// A named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
}

/// How the x axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Seconds since the start of the load.
    Seconds,
    /// Percentile, x = -log10(1 - q): 0 → 0 %, 1 → 90 %, 2 → 99 %, 3 → 99.9 %.
    Percentile,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Y axis description.
    pub y_label: String,
    /// X axis kind.
    pub x: XAxis,
    /// Lines (or stacked layers, bottom first, when `stacked`).
    pub lines: Vec<Line>,
    /// Draw lines as stacked areas.
    pub stacked: bool,
    /// Fault markers (vertical lines).
    pub markers: Vec<Marker>,
    /// X range end (seconds) for time charts.
    pub x_max: f64,
}

/// A palette that keeps the same colour for the same index.
pub fn palette(i: usize) -> RGBColor {
    const P: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

/// Writes `chart` to `<base>.png` and `<base>.svg`.
pub fn write(chart: &Chart, base: &Path) -> Result<(), String> {
    register_font();
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    {
        let root = BitMapBackend::new(&png, (960, 420)).into_drawing_area();
        draw(&root, chart)?;
        root.present()
            .map_err(|e| format!("{}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, (960, 420)).into_drawing_area();
        draw(&root, chart)?;
        root.present()
            .map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    Ok(())
}

fn pct_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let p = q * 100.0;
    if x < 0.5 {
        "0%".into()
    } else {
        format!("{}%", trim(p))
    }
}

fn trim(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The axes' ranges: x from 0 (the run's seconds, or the percentile scale's largest point),
/// y from 0 to a tenth above the highest point (of the stacked sums for a stacked chart).
fn bounds(c: &Chart) -> (f64, f64, f64) {
    let x_max = match c.x {
        XAxis::Seconds => c.x_max.max(1.0),
        XAxis::Percentile => {
            let m = c
                .lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.0))
                .fold(1.0f64, f64::max);
            m.ceil().max(1.0)
        }
    };
    let y_max = if c.stacked {
        stacked(c)
            .last()
            .map_or(0.0, |(_, top)| top.iter().map(|p| p.1).fold(0.0, f64::max))
    } else {
        c.lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0, f64::max)
    };
    let y_max = if y_max <= 0.0 { 1.0 } else { y_max * 1.1 };
    (0.0, x_max, y_max)
}

/// The layers of a stacked chart, bottom first: each line with the running sum of the
/// lines up to it.
fn stacked(c: &Chart) -> Vec<(&Line, Vec<(f64, f64)>)> {
    let n = c.lines.iter().map(|l| l.points.len()).max().unwrap_or(0);
    let mut base = vec![0.0; n];
    let mut layers = Vec::new();
    for l in &c.lines {
        let mut top = Vec::with_capacity(n);
        for (i, b) in base.iter_mut().enumerate() {
            let (x, y) = l.points.get(i).copied().unwrap_or((i as f64, 0.0));
            *b += y;
            top.push((x, *b));
        }
        layers.push((l, top));
    }
    layers
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (x_min, x_max, y_max) = bounds(c);
    let mut ch = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(e)?;
    let x_desc = match c.x {
        XAxis::Seconds => "seconds since start",
        XAxis::Percentile => "percentile",
    };
    let pct = |x: &f64| pct_label(*x);
    let mut mesh = ch.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(&c.y_label)
        .label_style(("sans-serif", 13));
    if c.x == XAxis::Percentile {
        mesh.x_label_formatter(&pct)
            .x_labels((x_max as usize + 1).min(8));
    }
    mesh.draw().map_err(e)?;
    if c.stacked {
        for (l, top) in stacked(c).iter().rev() {
            let color = l.color;
            ch.draw_series(
                AreaSeries::new(top.iter().copied(), 0.0, color.mix(0.85)).border_style(color),
            )
            .map_err(e)?
            .label(l.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
    } else {
        for l in &c.lines {
            let color = l.color;
            ch.draw_series(LineSeries::new(
                l.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(l.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
        }
    }
    for (i, m) in c.markers.iter().enumerate() {
        let color = if m.error.is_some() { RED } else { BLACK };
        ch.draw_series(DashedLineSeries::new(
            vec![(m.t, 0.0), (m.t, y_max)],
            6,
            4,
            color.stroke_width(1),
        ))
        .map_err(e)?;
        let y = y_max * (0.95 - 0.07 * (i % 5) as f64);
        ch.draw_series(std::iter::once(Text::new(
            m.label.clone(),
            (m.t, y),
            ("sans-serif", 12).into_font().color(&color),
        )))
        .map_err(e)?;
    }
    if !c.lines.is_empty() {
        ch.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let chart = Chart {
            title: "t".into(),
            y_label: "y".into(),
            x: XAxis::Seconds,
            lines: vec![Line {
                label: "a".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
                color: palette(0),
            }],
            stacked: true,
            markers: vec![Marker {
                t: 0.5,
                label: "kill api.0".into(),
                error: None,
            }],
            x_max: 2.0,
        };
        write(&chart, &dir.path().join("c")).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert!(svg.contains("kill api.0"));
        assert!(std::fs::metadata(dir.path().join("c.png")).unwrap().len() > 1000);
        assert_eq!(pct_label(2.0), "99%");
        assert_eq!(pct_label(3.0), "99.9%");
    }
}
