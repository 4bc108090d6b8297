//! The report's interactive charts: uPlot (vendored in `assets/uplot/`, MIT) and a small script
//! (`assets/report/charts.js`) embedded in the page, and each chart's data as JSON next to its
//! static PNG. Hover shows the values at a time, dragging zooms, the legend toggles series; the
//! PNG stays for printing and for readers without scripts. The page stays one file.

use super::junit::esc;
use super::plots::{Chart, XAxis};
use serde_json::json;
use std::collections::HashMap;

const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
/// uPlot's MIT licence, carried in every page that embeds a copy of it.
const UPLOT_LICENSE: &str = include_str!("../../assets/uplot/LICENSE");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
const CHARTS_JS: &str = include_str!("../../assets/report/charts.js");

/// Page style for the figures: the PNG hides once its chart is drawn, and comes back in print.
const FIGURE_CSS: &str = "figure.plot{margin:0 0 12px}figure.plot.live img.static{display:none}\
.plot-help{color:#555;font-size:13px}\
@media print{figure.plot .iplot{display:none}figure.plot img.static{display:block!important}}";

/// What goes in `<head>`: uPlot with its licence, its style, and the script that draws every
/// figure.
pub fn head() -> String {
    format!(
        "<style>{UPLOT_CSS}{FIGURE_CSS}</style>\n<script>/*! uPlot licence:\n{}*/\n{UPLOT_JS}</script>\n<script>{CHARTS_JS}</script>\n",
        UPLOT_LICENSE.replace("*/", "* /")
    )
}

/// One line under the plots' heading on how to use them.
pub const HELP: &str = "<p class=\"plot-help\">Hover a chart for the values at a time, drag \
to zoom into a window (double-click to reset), click a legend entry to hide or show its series. \
Without scripts (or printed), the static images show.</p>\n";

/// A figure: the chart's host, its data as JSON and the static image (`img_html`, with class
/// `static` added).
pub fn figure(stem: &str, chart: &Chart, img_html: &str) -> String {
    let data = serde_json::to_string(&data(chart))
        .unwrap_or_default()
        .replace("</", "<\\/");
    format!(
        "<figure class=\"plot\" data-chart=\"{s}\"><div class=\"iplot\" id=\"chart-{s}\"></div>\
         <script type=\"application/json\" id=\"chart-data-{s}\">{data}</script>\n{img}</figure>",
        s = esc(stem),
        img = img_html.replacen("<img ", "<img class=\"static\" ", 1),
    )
}

/// The chart as uPlot wants it: one x array shared by every series (the union of their x
/// values, `null` where a series has no point), colours as `#rrggbb`.
fn data(c: &Chart) -> serde_json::Value {
    let mut xs: Vec<f64> = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite())
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let series: Vec<serde_json::Value> = c
        .lines
        .iter()
        .map(|l| {
            let at: HashMap<u64, f64> = l.points.iter().map(|p| (p.0.to_bits(), p.1)).collect();
            let values: Vec<Option<f64>> = xs
                .iter()
                .map(|x| at.get(&x.to_bits()).copied().filter(|y| y.is_finite()))
                .collect();
            let (r, g, b) = (l.color.0, l.color.1, l.color.2);
            json!({ "label": l.label, "color": format!("#{r:02x}{g:02x}{b:02x}"), "values": values })
        })
        .collect();
    let markers: Vec<serde_json::Value> = c
        .markers
        .iter()
        .map(|m| json!({ "t": m.t, "label": m.label }))
        .collect();
    json!({
        "title": c.title,
        "y_label": c.y_label,
        "x_kind": if c.x == XAxis::Percentile { "percentile" } else { "seconds" },
        "x": xs,
        "series": series,
        "markers": markers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::Line;
    use plotters::style::RGBColor;

    #[test]
    fn series_share_one_x_array_with_gaps_as_null() {
        let line = |label: &str, points: Vec<(f64, f64)>| Line {
            label: label.into(),
            points,
            color: RGBColor(255, 0, 16),
        };
        let c = Chart {
            title: "t</script>".into(),
            y_label: "ms".into(),
            x: XAxis::Seconds,
            lines: vec![
                line("a", vec![(0.5, 1.0), (1.5, 2.0)]),
                line("b", vec![(1.5, 3.0), (2.5, 4.0)]),
            ],
            stacked: false,
            markers: vec![],
            x_max: 3.0,
        };
        let d = data(&c);
        assert_eq!(d["x"], json!([0.5, 1.5, 2.5]));
        assert_eq!(d["series"][0]["values"], json!([1.0, 2.0, null]));
        assert_eq!(d["series"][1]["values"], json!([null, 3.0, 4.0]));
        assert_eq!(d["series"][0]["color"], "#ff0010");
        let f = figure("latency", &c, "<img id=\"plot-latency\" src=\"data:,\">");
        assert!(!f.contains("t</script>") && f.contains("<img class=\"static\" id="));
    }
}
