//! `junit.xml`: one test case per assertion, for CI systems.

use super::summary::RunSummary;
use crate::results::assertions::fmt_value;

/// XML-escapes text for element content and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The JUnit XML document of a run.
pub fn render(s: &RunSummary, report_path: &str) -> String {
    let suite = format!("{}[{}]", s.scenario, s.variant);
    let failures = s.assertions.iter().filter(|v| !v.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"proxylab\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n",
        s.assertions.len(),
        s.wall_s,
        esc(&suite),
        s.assertions.len(),
        s.wall_s
    ));
    for v in &s.assertions {
        x.push_str(&format!(
            "    <testcase classname=\"proxylab.{}\" name=\"{}\" time=\"0\">",
            esc(&suite),
            esc(&v.name)
        ));
        if !v.passed {
            let actual = v
                .actual
                .map_or("no data".to_string(), |a| fmt_value(a, &v.unit));
            let msg = format!(
                "{} = {actual}, expected {} {} (scenario line {})",
                v.metric,
                v.op,
                fmt_value(v.limit, &v.unit),
                v.line
            );
            x.push_str(&format!(
                "\n      <failure message=\"{}\" type=\"assertion\">{}{}</failure>\n    ",
                esc(&msg),
                esc(&msg),
                esc(&if v.note.is_empty() {
                    String::new()
                } else {
                    format!("\n{}", v.note)
                })
            ));
        }
        x.push_str("</testcase>\n");
    }
    x.push_str(&format!(
        "    <system-out>report: {}</system-out>\n  </testsuite>\n</testsuites>\n",
        esc(report_path)
    ));
    x
}
