//! `index.html`: one self-contained page (images inlined as data URIs, no external resource):
//! verdict, summary table, assertion results, every plot, faults, the scenario and the config.

use super::interactive;
use super::junit::esc;
use super::plots::Chart;
use super::summary::RunSummary;
use super::table;
use base64::Engine as _;
use std::path::Path;

/// Shared page style.
pub const STYLE: &str = "body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}\
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}.pass{color:#1a7f37;font-weight:bold}\
.fail{color:#c62828;font-weight:bold}pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}\
img{max-width:100%;border:1px solid #ddd;margin:6px 0}#assertions td{text-align:left}h2{margin-top:28px}";

/// `<img>` with the PNG at `path` inlined.
pub fn img(path: &Path, id: &str, alt: &str) -> String {
    match std::fs::read(path) {
        Ok(b) => format!(
            "<img id=\"{}\" alt=\"{}\" src=\"data:image/png;base64,{}\">",
            esc(id),
            esc(alt),
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        Err(e) => format!(
            "<p class=\"fail\">plot {} missing: {}</p>",
            esc(alt),
            esc(&e.to_string())
        ),
    }
}

/// An HTML table; cell ids are `<prefix>-<row key>-<column key>` when `keys` is given.
pub fn html_table(
    id: &str,
    headers: &[&str],
    rows: &[Vec<String>],
    keys: Option<&[&str]>,
) -> String {
    let mut h = format!("<table id=\"{}\"><tr>", esc(id));
    for c in headers {
        h.push_str(&format!("<th>{}</th>", esc(c)));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let cls = match c.as_str() {
                "PASS" => " class=\"pass\"",
                "FAIL" => " class=\"fail\"",
                _ => "",
            };
            match keys {
                Some(k) if i < k.len() => h.push_str(&format!(
                    "<td id=\"{}-{}-{}\"{cls}>{}</td>",
                    esc(id),
                    esc(&r[0]),
                    k[i],
                    esc(c)
                )),
                _ => h.push_str(&format!("<td{cls}>{}</td>", esc(c))),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

/// Plots of a run: (file stem, title).
pub const PLOTS: [(&str, &str); 5] = [
    ("status", "Responses per second by status"),
    ("latency", "Latency over time"),
    ("cpu", "CPU per component"),
    ("connections", "Connections and in-flight"),
    ("distribution", "Latency percentile distribution"),
];

/// The page of one run.
pub fn render(
    s: &RunSummary,
    dir: &Path,
    scenario_text: &str,
    proxy_config: &str,
    description: &str,
    charts: &[(&str, Chart)],
) -> String {
    let verdict = if s.assertions.is_empty() {
        "<span>no assertions</span>".to_string()
    } else if s.passed {
        "<span class=\"pass\" id=\"verdict\">PASS</span>".to_string()
    } else {
        "<span class=\"fail\" id=\"verdict\">FAIL</span>".to_string()
    };
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>proxylab: {name} [{variant}]</title><style>{STYLE}</style>\n{interactive}</head><body>\n\
         <h1>{name} <small>[{variant}]</small> {verdict}</h1>\n<p>{desc}</p>\n\
         <p>proxy: <b>{proxy}</b> &middot; duration {dur:.0} s &middot; wall time {wall:.1} s</p>\n",
        name = esc(&s.scenario),
        variant = esc(&s.variant),
        desc = esc(description).replace('\n', "<br>"),
        proxy = esc(&s.proxy),
        dur = s.duration_s,
        wall = s.wall_s,
        interactive = interactive::head(),
    );
    h.push_str(&tables_of(s));
    h.push_str(&plots_of(dir, charts));
    h.push_str(&components_and_faults(s));
    h.push_str(&format!(
        "<h2>Scenario</h2>\n<pre id=\"scenario\">{}</pre>\n",
        esc(scenario_text)
    ));
    if !proxy_config.is_empty() {
        h.push_str(&format!(
            "<h2>Proxy config (as run)</h2>\n<pre id=\"proxy-config\">{}</pre>\n",
            esc(proxy_config)
        ));
    }
    h.push_str(
        "<h2>Files</h2>\n<p><a href=\"summary.json\">summary.json</a> &middot; <a href=\"timeseries.csv\">timeseries.csv</a> &middot; \
         <a href=\"junit.xml\">junit.xml</a> &middot; <a href=\"loadgen.hlog\">loadgen.hlog</a> &middot; \
         <a href=\"loadgen-series.csv\">loadgen-series.csv</a> &middot; <a href=\"plan.toml\">plan.toml</a> &middot; <a href=\"logs/\">logs/</a></p>\n</body></html>\n",
    );
    h
}

/// The summary, phase, per-header and assertion tables.
fn tables_of(s: &RunSummary) -> String {
    let mut h = String::new();
    h.push_str("<h2>Summary</h2>\n");
    h.push_str(&html_table(
        "summary",
        &table::HEADERS,
        &table::rows(s),
        Some(&table::KEYS),
    ));
    if !s.phases.is_empty() {
        let mut hd = table::HEADERS;
        hd[0] = "phase";
        h.push_str("<h2>Phases</h2>\n");
        h.push_str(&html_table(
            "phases",
            &hd,
            &table::phase_rows(s),
            Some(&table::KEYS),
        ));
    }
    for (head, rows) in table::header_tables(s) {
        h.push_str(&format!("<h2>Responses by {}</h2>\n", esc(&head[0])));
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        h.push_str(&html_table(&format!("by-{}", head[0]), &head, &rows, None));
    }
    h.push_str("<h2>Assertions</h2>\n");
    if s.assertions.is_empty() {
        h.push_str("<p>none</p>\n");
    } else {
        h.push_str(&html_table(
            "assertions",
            &["result", "assertion", "actual", "limit", "line"],
            &table::verdict_rows(s),
            None,
        ));
    }
    h
}

/// The plots: each chart's figure (interactive where the chart's data is known) with its
/// SVG and PNG links.
fn plots_of(dir: &Path, charts: &[(&str, Chart)]) -> String {
    let mut h = String::new();
    h.push_str("<h2>Plots</h2>\n");
    h.push_str(interactive::HELP);
    let split = charts
        .iter()
        .filter(|(stem, _)| stem.starts_with("status-by-"))
        .map(|(stem, c)| (*stem, c.title.as_str()));
    let plots: Vec<(&str, &str)> = PLOTS.iter().copied().chain(split).collect();
    for (stem, title) in plots {
        let image = img(
            &dir.join(format!("{stem}.png")),
            &format!("plot-{stem}"),
            title,
        );
        let fig = match charts.iter().find(|(s, _)| *s == stem) {
            Some((_, c)) => interactive::figure(stem, c, &image),
            None => image,
        };
        h.push_str(&format!(
            "<h3>{}</h3>\n{fig}\n<p><a href=\"{stem}.svg\">SVG</a> &middot; <a href=\"{stem}.png\">PNG</a></p>\n",
            esc(title),
        ));
    }
    h
}

/// The components' CPU and RSS, and the faults with their results.
fn components_and_faults(s: &RunSummary) -> String {
    let mut h = String::new();
    h.push_str("<h2>Components</h2>\n");
    let comp: Vec<Vec<String>> = s
        .components
        .iter()
        .map(|(n, u)| {
            vec![
                n.clone(),
                format!("{:.1}", u.cpu_avg),
                format!("{:.1}", u.cpu_max),
                format!("{:.1}", u.rss_max_mib),
            ]
        })
        .collect();
    h.push_str(&html_table(
        "components",
        &["component", "CPU avg %", "CPU max %", "RSS max MiB"],
        &comp,
        None,
    ));
    h.push_str("<h2>Faults</h2>\n");
    if s.faults.is_empty() {
        h.push_str("<p>none</p>\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .faults
            .iter()
            .map(|m| {
                vec![
                    format!("{:.2}", m.t),
                    m.label.clone(),
                    m.error.clone().unwrap_or_else(|| "ok".into()),
                ]
            })
            .collect();
        h.push_str(&html_table(
            "faults",
            &["t (s)", "fault", "result"],
            &rows,
            None,
        ));
    }
    h
}
