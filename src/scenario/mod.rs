//! Scenario files: TOML → raw serde structs ([`raw`]) → checked domain types ([`model`]).
//!
//! [`load`] reads one file and applies a selection of variants and a `--proxy` override; every
//! error is a [`ScenarioError`] naming the file, the line and the key (exit code 2). The format
//! is documented key by key in `docs/scenario-format.md`.

pub mod error;
pub mod metric;
pub mod model;
pub mod raw;
pub mod schema;
pub mod template;
mod validate;
pub mod variant;

pub use error::ScenarioError;
pub use model::*;
pub use validate::population;

use std::path::{Path, PathBuf};

/// What to apply on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Variants applied in order (`["nginx", "ci"]`); empty = the base scenario.
    pub variants: Vec<String>,
    /// `--proxy`: replaces `[proxy] kind`.
    pub proxy: Option<ProxyKind>,
}

impl Overrides {
    /// The display name of the combination (`base`, `nginx+ci`).
    pub fn label(&self) -> String {
        if self.variants.is_empty() {
            "base".to_string()
        } else {
            self.variants.join("+")
        }
    }
}

fn parse_raw(path: &Path, text: &str) -> Result<raw::RawScenario, ScenarioError> {
    toml::from_str(text).map_err(|e| error::from_toml(path, text, &e))
}

/// The text of `path` and its directory (canonical when it can be).
fn read(path: &Path) -> Result<(String, PathBuf), ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        key: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Ok((text, dir))
}

/// A scenario file read and its base validated: the text, its directory, the raw variants.
struct Parsed {
    text: String,
    dir: PathBuf,
    variants: Vec<toml::Spanned<raw::RawVariant>>,
    base: Scenario,
}

fn parse(path: &Path) -> Result<Parsed, ScenarioError> {
    let (text, dir) = read(path)?;
    let ctx = validate::Ctx {
        file: path,
        text: &text,
        dir: dir.clone(),
    };
    let base_raw = parse_raw(path, &text)?;
    let variants = base_raw.variant.clone();
    let base = validate::validate(&ctx, base_raw, None)?;
    Ok(Parsed {
        text,
        dir,
        variants,
        base,
    })
}

/// The base scenario of `path` and each variant applied alone, labelled like
/// [`Overrides::label`], each validated once (`load` per variant would validate every variant
/// each time).
pub fn load_each_variant(path: &Path) -> Result<Vec<(String, Scenario)>, ScenarioError> {
    let p = parse(path)?;
    let mut out = Vec::with_capacity(p.variants.len() + 1);
    for v in &p.variants {
        let name = v.get_ref().name.get_ref().clone();
        let s = derived(
            path,
            &p.text,
            &p.dir,
            &p.variants,
            std::slice::from_ref(&name),
            None,
        )?;
        out.push((name, s));
    }
    out.insert(0, ("base".to_string(), p.base));
    Ok(out)
}

/// Reads and checks `path` with `overrides` applied; with none, every variant is checked too.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    if overrides.variants.is_empty() && overrides.proxy.is_none() {
        // Loading the base validates every variant on its own, so that a bad one fails now,
        // with its line (`run` loads the base before the combinations it runs; loading a
        // combination does not check the variants again).
        return Ok(load_each_variant(path)?.swap_remove(0).1);
    }
    let Parsed {
        text,
        dir,
        variants: variants_raw,
        base,
    } = parse(path)?;
    let mut s = derived(
        path,
        &text,
        &dir,
        &variants_raw,
        &overrides.variants,
        overrides.proxy,
    )?;
    // Lines refer to the file as written, not to the re-serialized document.
    if s.asserts.len() == base.asserts.len() {
        for (a, b) in s.asserts.iter_mut().zip(&base.asserts) {
            a.line = b.line;
        }
    } else {
        for a in &mut s.asserts {
            a.line = 0;
        }
    }
    Ok(s)
}

fn derived(
    path: &Path,
    text: &str,
    dir: &Path,
    variants: &[toml::Spanned<raw::RawVariant>],
    names: &[String],
    proxy: Option<ProxyKind>,
) -> Result<Scenario, ScenarioError> {
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|e| error::from_toml(path, text, &e))?;
    let (line, what) = apply_variants(path, text, &mut doc, variants, names, proxy)?;
    let doc_text = toml::to_string(&doc).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line,
        key: String::new(),
        message: format!("cannot apply {}: {e}", what.join(", ")),
    })?;
    let wrap = |e: ScenarioError| {
        let key = if e.key.is_empty() {
            String::new()
        } else {
            format!("key `{}`: ", e.key)
        };
        let file_note = if e.file != path {
            format!("{}:{}: ", e.file.display(), e.line)
        } else {
            String::new()
        };
        ScenarioError {
            file: path.to_path_buf(),
            line,
            key: String::new(),
            message: format!("with {}: {file_note}{key}{}", what.join(", "), e.message),
        }
    };
    let ctx = validate::Ctx {
        file: path,
        text: &doc_text,
        dir: dir.to_path_buf(),
    };
    let raw = parse_raw(path, &doc_text).map_err(wrap)?;
    let mut s = validate::validate(&ctx, raw, Some(names.join("+"))).map_err(wrap)?;
    s.text = text.to_string();
    if names.is_empty() {
        s.variant = None;
    }
    Ok(s)
}

/// Applies the `set` tables of the variants `names` (in order), then `--proxy KIND`, to
/// `doc`; returns the line of the last variant (where errors point) and what was applied.
fn apply_variants(
    path: &Path,
    text: &str,
    doc: &mut toml::Table,
    variants: &[toml::Spanned<raw::RawVariant>],
    names: &[String],
    proxy: Option<ProxyKind>,
) -> Result<(usize, Vec<String>), ScenarioError> {
    let mut line = 0;
    let mut what = Vec::new();
    for n in names {
        let Some(v) = variants.iter().find(|v| v.get_ref().name.get_ref() == n) else {
            let known: Vec<&str> = variants
                .iter()
                .map(|v| v.get_ref().name.get_ref().as_str())
                .collect();
            return Err(ScenarioError {
                file: path.to_path_buf(),
                line: 0,
                key: "variant".into(),
                message: format!("no variant {n:?} (defined: {known:?})"),
            });
        };
        line = error::line_of(text, v.span().start);
        variant::apply(doc, &v.get_ref().set).map_err(|m| ScenarioError {
            file: path.to_path_buf(),
            line,
            key: format!("variant.{n}.set"),
            message: m,
        })?;
        what.push(format!("variant {n:?}"));
    }
    if let Some(k) = proxy {
        let mut set = toml::Table::new();
        set.insert(
            "proxy.kind".into(),
            toml::Value::try_from(k).unwrap_or(toml::Value::String("none".into())),
        );
        variant::apply(doc, &set).map_err(|m| ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            key: "proxy.kind".into(),
            message: m,
        })?;
        what.push(format!("--proxy {}", kind_name(k)));
    }
    Ok((line, what))
}

/// The scenario files of a directory: every `*.toml` directly in it but the claims ledger
/// (`claims.toml`), sorted; an error when there is none.
pub fn files_in(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "claims.toml"))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(format!(
            "{}: no *.toml scenario in this directory",
            dir.display()
        ));
    }
    Ok(v)
}

/// `proxylab`, `nginx`, `none`.
pub fn kind_name(k: ProxyKind) -> &'static str {
    match k {
        ProxyKind::Proxylab => "proxylab",
        ProxyKind::Nginx => "nginx",
        ProxyKind::None => "none",
    }
}
