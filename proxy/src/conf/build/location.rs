//! `location {}` blocks as written: modifiers, nesting rules, location-only directives
//! (`alias`, `proxy_pass`, `return`, `stub_status`), and the nginx checks between parent and
//! child locations.

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::{Handler, Return};
use super::super::table::{check, ctx};
use super::raw::RawLevel;
use super::server::parse_return;
use super::upstream::ProxyPassRaw;
use super::{Builder, dirs, err};

/// Match kind as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawKind {
    Exact,
    Prefix,
    NoRegex,
    Regex { caseless: bool },
    Named,
}

/// A location block as written.
pub(crate) struct RawLocation {
    pub name: String,
    pub kind: RawKind,
    pub level: RawLevel,
    pub ret: Option<Return>,
    pub handler: Handler,
    pub proxy_pass: Option<ProxyPassRaw>,
    pub children: Vec<RawLocation>,
    pub decl: Directive,
    pub regex: Option<regex::Regex>,
}

fn split_modifier(d: &Directive) -> Result<(RawKind, String), ConfError> {
    let a = &d.args;
    if a.len() == 2 {
        let kind = match a[0].as_str() {
            "=" => RawKind::Exact,
            "^~" => RawKind::NoRegex,
            "~" => RawKind::Regex { caseless: false },
            "~*" => RawKind::Regex { caseless: true },
            m => return Err(err(d, format!("invalid location modifier \"{m}\""))),
        };
        return Ok((kind, a[1].clone()));
    }
    let v = &a[0];
    Ok(if let Some(r) = v.strip_prefix('=') {
        (RawKind::Exact, r.to_string())
    } else if let Some(r) = v.strip_prefix("^~") {
        (RawKind::NoRegex, r.to_string())
    } else if let Some(r) = v.strip_prefix("~*") {
        (RawKind::Regex { caseless: true }, r.to_string())
    } else if let Some(r) = v.strip_prefix('~') {
        (RawKind::Regex { caseless: false }, r.to_string())
    } else if v.starts_with('@') {
        (RawKind::Named, v.clone())
    } else {
        (RawKind::Prefix, v.clone())
    })
}

/// nginx's rules for a location inside `parent` (name and kind): none inside an exact or a
/// named location, no named location nested, a prefix inside its parent's prefix.
fn check_nesting(
    d: &Directive,
    name: &str,
    kind: RawKind,
    parent: Option<(&str, RawKind)>,
) -> Result<(), ConfError> {
    let Some((pname, pkind)) = parent else {
        return Ok(());
    };
    let refused = if pkind == RawKind::Exact {
        format!("location \"{name}\" cannot be inside the exact location \"{pname}\"")
    } else if pkind == RawKind::Named {
        format!("location \"{name}\" cannot be inside the named location \"{pname}\"")
    } else if kind == RawKind::Named {
        format!("named location \"{name}\" can be on the server level only")
    } else if !matches!(kind, RawKind::Regex { .. }) && !name.starts_with(pname) {
        format!("location \"{name}\" is outside location \"{pname}\"")
    } else {
        return Ok(());
    };
    Err(err(d, refused))
}

/// The compiled regex of a regex location (its error worded as nginx's PCRE2 one).
fn compile(d: &Directive, name: &str, kind: RawKind) -> Result<Option<regex::Regex>, ConfError> {
    let RawKind::Regex { caseless } = kind else {
        return Ok(None);
    };
    let re = regex::RegexBuilder::new(name)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            err(d, format!("pcre2_compile() failed: {first} in \"{name}\""))
        })?;
    Ok(Some(re))
}

impl Builder {
    /// A `location` block (inside `parent`, if nested): its settings, handler, `return` and
    /// nested locations.
    pub(crate) fn walk_location(
        &mut self,
        d: &Directive,
        parent: Option<(&str, RawKind)>,
    ) -> Result<RawLocation, ConfError> {
        let (kind, name) = split_modifier(d)?;
        check_nesting(d, &name, kind, parent)?;
        let regex = compile(d, &name, kind)?;
        let mut loc = RawLocation {
            name,
            kind,
            level: RawLevel::default(),
            ret: None,
            handler: Handler::Static,
            proxy_pass: None,
            children: Vec::new(),
            decl: d.clone(),
            regex,
        };
        for c in dirs(d.block.as_deref().unwrap_or_default()) {
            let c = c?;
            check(c, ctx::LOC)?;
            self.location_directive(c, &mut loc)?;
        }
        Ok(loc)
    }

    /// One directive inside location `loc`.
    fn location_directive(
        &mut self,
        c: &Directive,
        loc: &mut RawLocation,
    ) -> Result<(), ConfError> {
        match c.name.as_str() {
            "location" => {
                let child = self.walk_location(c, Some((&loc.name, loc.kind)))?;
                loc.children.push(child);
            }
            "proxy_pass" => {
                if loc.proxy_pass.is_some() {
                    return Err(err(c, "\"proxy_pass\" directive is duplicate"));
                }
                let no_uri = matches!(loc.kind, RawKind::Regex { .. } | RawKind::Named);
                loc.proxy_pass = Some(self.upstreams.proxy_pass(c, no_uri)?);
            }
            "return" => {
                let r = parse_return(c)?;
                if loc.ret.is_none() {
                    loc.ret = Some(r);
                }
            }
            "stub_status" => loc.handler = Handler::StubStatus,
            "proxylab_status" => loc.handler = Handler::ProxylabStatus,
            "if" => self.walk_if(c, ctx::LIF)?,
            "limit_except" => {
                for x in dirs(c.block.as_deref().unwrap_or_default()) {
                    check(x?, ctx::LMT)?;
                }
            }
            "set" => self.set_variable(c)?,
            "rewrite" | "break" | "internal" | "try_files" => {}
            "health_check" => {
                self.health.check(c)?;
                loc.level.keep(c);
            }
            _ => {
                self.pre_check_loc_directive(c)?;
                loc.level.add(c)?;
            }
        }
        Ok(())
    }
}
