//! A small YAML writer for manifests built as JSON values: block style, plain scalars where
//! they cannot be misread, double-quoted (JSON escapes, valid YAML) otherwise, multi-line text
//! (a scenario file) as a literal block.

use serde_json::Value;

/// One YAML document for `v` (a mapping at the top).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    node(&mut out, v, 0);
    out
}

fn node(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) => {
            for (k, val) in ordered(m) {
                pad(out, indent);
                out.push_str(&scalar_str(k));
                out.push(':');
                value_after_key(out, val, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                pad(out, indent);
                out.push('-');
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        // The first key shares the dash's line; the rest line up under it.
                        let mut first = true;
                        for (k, val) in ordered(m) {
                            if first {
                                out.push(' ');
                                first = false;
                            } else {
                                pad(out, indent + 2);
                            }
                            out.push_str(&scalar_str(k));
                            out.push(':');
                            value_after_key(out, val, indent + 2);
                        }
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        node(out, item, indent + 2);
                    }
                    other => {
                        out.push(' ');
                        inline(out, other, indent + 2);
                    }
                }
            }
        }
        other => {
            pad(out, indent);
            inline(out, other, indent);
        }
    }
}

/// Keys in manifest order: `apiVersion`, `kind`, `metadata`, `name`, `spec`, `data`, then
/// the rest alphabetically.
fn ordered(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    const FIRST: [&str; 6] = ["apiVersion", "kind", "metadata", "name", "spec", "data"];
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by_key(|(k, _)| (FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()), *k));
    v
}

fn value_after_key(out: &mut String, val: &Value, indent: usize) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            node(out, val, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            node(out, val, indent);
        }
        other => {
            out.push(' ');
            inline(out, other, indent + 2);
        }
    }
}

/// A scalar (or empty collection) after `key: ` or `- `, ending the line.
fn inline(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::String(s) if block_ok(s) => {
            out.push_str(if s.ends_with('\n') { "|\n" } else { "|-\n" });
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    pad(out, indent);
                    out.push_str(line);
                }
                out.push('\n');
            }
            return;
        }
        Value::String(s) => out.push_str(&scalar_str(s)),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&other.to_string()),
    }
    out.push('\n');
}

/// Multi-line text that a literal block keeps exactly: no tabs or carriage returns, no
/// leading space on the first line, at most one trailing newline.
fn block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.contains(['\t', '\r'])
        && !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && s.chars()
            .all(|c| (!c.is_control() || c == '\n') && !odd_break(c))
}

/// Characters YAML 1.1 parsers (Kubernetes' among them) read as line breaks or a byte-order
/// mark: never left raw in the output.
fn odd_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A string as a plain scalar when nothing could misread it, else double-quoted.
fn scalar_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+@".contains(c))
        && !s.starts_with(['-', '.', '@', '='])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.to_string()
    } else {
        // JSON escapes control characters but leaves U+2028/2029 and the BOM raw.
        let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        quoted
            .chars()
            .map(|c| match c {
                c if odd_break(c) => format!("\\u{:04x}", c as u32),
                c => c.to_string(),
            })
            .collect()
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml() {
        let v = json!({
            "apiVersion": "v1",
            "metadata": { "name": "x", "labels": { "app": "proxylab" } },
            "data": { "scenario.toml": "name = \"a\"\n\n[x]\nk = 1\n" },
            "args": ["run", "--shards", "4", "-q", "true", "1.5"],
            "containers": [{ "name": "c", "ports": [{ "containerPort": 9090 }] }],
            "empty": {},
            "none": []
        });
        let y = to_yaml(&v);
        let want = "apiVersion: v1\n\
metadata:\n  name: x\n  labels:\n    app: proxylab\n\
data:\n  scenario.toml: |\n    name = \"a\"\n\n    [x]\n    k = 1\n\
args:\n- run\n- \"--shards\"\n- \"4\"\n- \"-q\"\n- \"true\"\n- \"1.5\"\n\
containers:\n- name: c\n  ports:\n  - containerPort: 9090\n\
empty: {}\n\
none: []\n";
        assert_eq!(y, want, "{y}");
    }

    #[test]
    fn line_separators_are_escaped_not_written_raw() {
        let v = json!({ "a": "x\u{2028}y\nz\n", "b": "p\u{feff}q" });
        let y = to_yaml(&v);
        assert_eq!(y, "a: \"x\\u2028y\\nz\\n\"\nb: \"p\\ufeffq\"\n", "{y}");
    }
}
