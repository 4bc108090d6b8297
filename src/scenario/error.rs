//! `ScenarioError`: why a scenario file cannot run, naming the file, the line and the key.

use std::fmt;
use std::path::PathBuf;

/// A bad scenario (exit code 2). Displays as `FILE:LINE: KEY: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file at fault (the scenario, or a config/route file it names).
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Dotted key (`upstream[1].workers`), empty when not about one key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Converts a toml deserialization error into a `ScenarioError` with the line and key path.
pub fn from_toml(file: &std::path::Path, text: &str, e: &toml::de::Error) -> ScenarioError {
    let line = e.span().map_or(0, |s| line_of(text, s.start));
    let mut message = e.message().trim().to_string();
    // serde names the unknown field in the message; make the key path include it.
    let mut key = String::new();
    if let Some(span) = e.span() {
        key = key_at(text, span.start);
    }
    if message.starts_with("unknown field") && key.is_empty() {
        message = message.replace('\n', " ");
    }
    ScenarioError {
        file: file.to_path_buf(),
        line,
        key,
        message,
    }
}

/// Best effort: the key written at the start of the line holding `at` (`workers` in
/// `workers = 3`), qualified by the nearest `[table]` header above it.
fn key_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = text[line_start..line_end].trim();
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    if key.is_empty() || line == key {
        return header.unwrap_or_default();
    }
    match header {
        Some(h) => format!("{h}.{key}"),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_keys() {
        let t = "name = \"x\"\n[[upstream]]\nname = \"a\"\nwrkers = 3\n";
        assert_eq!(line_of(t, t.find("wrkers").unwrap()), 4);
        assert_eq!(key_at(t, t.find("wrkers").unwrap()), "upstream.wrkers");
        assert_eq!(key_at(t, 2), "name");
    }
}
