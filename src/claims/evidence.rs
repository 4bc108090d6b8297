//! The evidence a ledger cites, committed under `docs/claims/<scenario>/<run>/`: the summary as
//! compact JSON, the scenario file as run and the plots the page shows; and the rows a new page
//! changes against the one on disk, printed before it is overwritten.

use super::judge::{Judged, Judgement};
use super::render::Layout;
use super::runs::Run;
use std::collections::BTreeMap;
use std::path::Path;

fn cited(js: &[Judgement]) -> Vec<(&Judged, Option<&str>)> {
    let mut out = Vec::new();
    for j in js {
        out.push((&j.judged, j.claim.plot.as_deref()));
        if let Some(o) = &j.ours {
            out.push((o, j.claim.plot.as_deref()));
        }
        out.extend(j.points.iter().map(|p| (&p.judged, None)));
    }
    out
}

fn cited_refs(js: &[Judgement]) -> Vec<&Run> {
    js.iter()
        .flat_map(|j| j.refs.iter().filter_map(|r| r.run.as_ref()))
        .collect()
}

fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if from == to || !from.exists() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
}

/// Copies every cited run's summary (compact), scenario and shown plot into the evidence
/// directory; returns how many run directories it wrote.
pub fn copy(js: &[Judgement], lay: &Layout) -> Result<usize, String> {
    let mut written = std::collections::BTreeSet::new();
    let runs = cited(js)
        .into_iter()
        .filter_map(|(j, plot)| Some((j.run.as_ref()?, plot)))
        .chain(cited_refs(js).into_iter().map(|r| (r, None)));
    for (r, plot) in runs {
        let dest = lay.evidence_dir(r);
        std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let same = std::fs::canonicalize(&dest).ok() == std::fs::canonicalize(&r.dir).ok();
        if !same && !written.contains(&dest) {
            let json = serde_json::to_string(&r.summary).map_err(|e| e.to_string())?;
            std::fs::write(dest.join("summary.json"), json)
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            copy_file(&r.dir.join("scenario.toml"), &dest.join("scenario.toml"))?;
            written.insert(dest.clone());
        }
        if let Some(p) = plot {
            let f = format!("{p}.png");
            copy_file(&r.dir.join(&f), &dest.join(&f))?;
        }
    }
    Ok(written.len())
}

/// The cells of a table line (`\\|` is a `|` inside a cell); cell 0 is before the first `|`.
fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The verdict cell of each row of a page: claim id → verdict text.
pub fn rows(page: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in page.lines().filter(|l| l.starts_with("| [")) {
        let Some(id) = line
            .split_once("](#")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(id, _)| id.to_string())
        else {
            continue;
        };
        if let Some(v) = cells(line).get(5) {
            out.insert(id, v.trim().trim_matches('*').to_string());
        }
    }
    out
}

/// The rows whose verdict differs between two pages: `id: old -> new`.
pub fn changed(old: &str, new: &str) -> Vec<String> {
    let (a, b) = (rows(old), rows(new));
    let mut out = Vec::new();
    for (id, v) in &b {
        match a.get(id) {
            Some(o) if o == v => {}
            Some(o) => out.push(format!("{id}: {o} -> {v}")),
            None => out.push(format!("{id}: new row: {v}")),
        }
    }
    out.extend(
        a.keys()
            .filter(|id| !b.contains_key(*id))
            .map(|id| format!("{id}: row removed")),
    );
    out
}

/// Rows measured on the old page that the new page no longer measures (a partial set of runs).
pub fn lost(old: &str, new: &str) -> Vec<String> {
    let measured = |v: &str| !v.starts_with("not measured") && !v.starts_with("not measurable");
    let b = rows(new);
    rows(old)
        .into_iter()
        .filter(|(id, v)| measured(v) && b.get(id).is_some_and(|n| !measured(n)))
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_rows_are_named() {
        let old = "| [a](#a) | x | s | m | **holds** | | |\n| [b](#b) | x | s | m | **depends on x \\| y** | | |\n";
        let new = "| [a](#a) | x | s | m | **not measured (no run)** | | |\n| [b](#b) | x | s | m | **depends on x \\| y** | | |\n| [c](#c) | | | | **holds** | | |\n";
        assert_eq!(
            changed(old, new),
            vec![
                "a: holds -> not measured (no run)".to_string(),
                "c: new row: holds".to_string()
            ]
        );
        assert_eq!(lost(old, new), vec!["a".to_string()]);
        assert!(changed(new, new).is_empty());
    }
}
