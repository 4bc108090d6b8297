//! http-level definitions and small value parsers: `log_format`, `access_log`, `error_log`,
//! `limit_req_zone`, `map`, `expires`, template compilation with nginx's wording, and the
//! post-parse `unknown "x" variable` check.

use super::super::error::ConfError;
use super::super::lexer::{Directive, Item};
use super::super::model::{
    AccessLog, Http, LimitReqZone, LogEscape, LogFormat, LogLevel, MapBlock,
};
use super::super::values::{parse_number, parse_size, parse_time};
use super::err;
use crate::vars::{Part, Template, Var};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The predefined `combined` format.
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// http-level named things.
pub(crate) struct HttpMisc {
    pub formats: Vec<Arc<LogFormat>>,
    pub zones: Vec<LimitReqZone>,
    pub maps: Vec<Arc<MapBlock>>,
    pub custom_vars: Vec<String>,
}

impl HttpMisc {
    pub fn new() -> HttpMisc {
        HttpMisc {
            formats: vec![Arc::new(LogFormat {
                name: "combined".into(),
                template: Template::compile(COMBINED).unwrap_or_default(),
                escape: LogEscape::Default,
            })],
            zones: Vec::new(),
            maps: Vec::new(),
            custom_vars: Vec::new(),
        }
    }

    pub fn log_format(&mut self, d: &Directive) -> Result<(), ConfError> {
        let name = &d.args[0];
        if self.formats.iter().any(|f| &f.name == name) {
            return Err(err(d, format!("duplicate \"log_format\" name \"{name}\"")));
        }
        let mut rest = &d.args[1..];
        let mut escape = LogEscape::Default;
        if let Some(e) = rest.first().and_then(|a| a.strip_prefix("escape=")) {
            escape = match e {
                "default" => LogEscape::Default,
                "json" => LogEscape::Json,
                "none" => LogEscape::None,
                _ => return Err(err(d, format!("unknown log format escaping \"{e}\""))),
            };
            rest = &rest[1..];
        }
        let text: String = rest.concat();
        self.formats.push(Arc::new(LogFormat {
            name: name.clone(),
            template: template(d, &text)?,
            escape,
        }));
        Ok(())
    }

    pub fn limit_req_zone(&mut self, d: &Directive) -> Result<(), ConfError> {
        let key = template(d, &d.args[0])?;
        let (mut zone, mut size, mut rate) = (None, 0u64, None);
        for a in &d.args[1..] {
            if let Some(v) = a.strip_prefix("zone=") {
                let (name, sz) = v
                    .split_once(':')
                    .ok_or_else(|| err(d, format!("invalid zone size \"{a}\"")))?;
                let sz = parse_size(sz)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| err(d, format!("invalid zone size \"{a}\"")))?;
                if sz < 8 * 4096 {
                    return Err(err(d, format!("zone \"{a}\" is too small")));
                }
                zone = Some(name.to_string());
                size = sz;
            } else if let Some(v) = a.strip_prefix("rate=") {
                let (num, scale) = if let Some(n) = v.strip_suffix("r/s") {
                    (n, 1)
                } else if let Some(n) = v.strip_suffix("r/m") {
                    (n, 60)
                } else {
                    (v, 1)
                };
                let n = parse_number(num)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err(d, format!("invalid rate \"{a}\"")))?;
                rate = Some(n * 1000 / scale);
            } else {
                return Err(err(d, format!("invalid parameter \"{a}\"")));
            }
        }
        let Some(name) = zone else {
            return Err(err(d, "\"limit_req_zone\" must have \"zone\" parameter"));
        };
        let Some(rate_m) = rate else {
            return Err(err(
                d,
                format!("no rate is defined for limit_req_zone \"{name}\""),
            ));
        };
        if let Some(z) = self.zones.iter().find(|z| z.name == name) {
            let _ = z;
            return Err(err(
                d,
                format!(
                    "limit_req_zone \"{name}\" is already bound to key \"{}\"",
                    d.args[0]
                ),
            ));
        }
        self.zones.push(LimitReqZone {
            name,
            key,
            size,
            rate_m,
        });
        Ok(())
    }

    pub fn map(&mut self, d: &Directive) -> Result<(), ConfError> {
        let source = template(d, &d.args[0])?;
        let var = d.args[1]
            .strip_prefix('$')
            .ok_or_else(|| err(d, format!("invalid variable name \"{}\"", d.args[1])))?
            .to_string();
        let mut m = MapBlock {
            source,
            var: var.clone(),
            exact: Vec::new(),
            regex: Vec::new(),
            default: Template::default(),
        };
        for it in d.block.as_deref().unwrap_or_default() {
            let c = match it {
                Item::Dir(c) => c,
                Item::Error(e) => return Err(e.clone()),
            };
            if c.block.is_some() || c.args.len() != 1 {
                if c.name == "hostnames" || c.name == "volatile" {
                    continue;
                }
                return Err(err(c, "invalid number of the map parameters"));
            }
            let value = template(c, &c.args[0])?;
            match c.name.as_str() {
                "default" => m.default = value,
                k if k.starts_with('~') => {
                    let (ci, re) = match k.strip_prefix("~*") {
                        Some(r) => (true, r),
                        None => (false, &k[1..]),
                    };
                    let r = regex::bytes::RegexBuilder::new(re)
                        .case_insensitive(ci)
                        .build()
                        .map_err(|e| err(c, format!("pcre2_compile() failed: {e} in \"{re}\"")))?;
                    m.regex.push((r, value));
                }
                k => {
                    let key = k.strip_prefix('\\').unwrap_or(k);
                    m.exact.push((key.to_ascii_lowercase().into_bytes(), value));
                }
            }
        }
        self.custom_vars.push(var);
        self.maps.push(Arc::new(m));
        Ok(())
    }
}

/// Compiles a template, worded as nginx's script compiler.
pub(crate) fn template(d: &Directive, s: &str) -> Result<Template, ConfError> {
    Template::compile(s).map_err(|e| err(d, e.to_string()))
}

/// `error_log FILE [LEVEL]`.
pub(crate) fn parse_error_log(d: &Directive) -> Result<(String, LogLevel), ConfError> {
    let level = match d.args.get(1) {
        Some(l) => {
            LogLevel::parse(l).ok_or_else(|| err(d, format!("invalid log level \"{l}\"")))?
        }
        None => LogLevel::Error,
    };
    Ok((d.args[0].clone(), level))
}

/// `access_log PATH [FORMAT [buffer=SIZE] [gzip[=L]] [flush=TIME] [if=COND]]` or `off`.
pub(crate) fn parse_access_log(
    d: &Directive,
    formats: &[Arc<LogFormat>],
    prefix: &Path,
) -> Result<Option<AccessLog>, ConfError> {
    let a = &d.args;
    if a[0] == "off" {
        if let Some(p) = a.get(1) {
            return Err(err(d, format!("invalid parameter \"{p}\"")));
        }
        return Ok(None);
    }
    let fname = a.get(1).map_or("combined", String::as_str);
    let format = formats
        .iter()
        .find(|f| f.name == fname)
        .cloned()
        .ok_or_else(|| err(d, format!("unknown log format \"{fname}\"")))?;
    let (mut buffer, mut flush, mut gzip) = (None, None, false);
    for p in a.iter().skip(2) {
        if let Some(v) = p.strip_prefix("buffer=") {
            buffer = Some(
                parse_size(v)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| err(d, format!("invalid buffer size \"{v}\"")))?
                    as usize,
            );
        } else if let Some(v) = p.strip_prefix("flush=") {
            flush = Some(
                parse_time(v, false)
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| err(d, format!("invalid flush time \"{v}\"")))?,
            );
        } else if p == "gzip" || p.starts_with("gzip=") {
            gzip = true;
        } else if p.starts_with("if=") {
        } else {
            return Err(err(d, format!("invalid parameter \"{p}\"")));
        }
    }
    if gzip && buffer.is_none() {
        buffer = Some(64 * 1024);
    }
    if flush.is_some() && buffer.is_none() {
        return Err(err(
            d,
            format!("no buffer is defined for access_log \"{}\"", a[0]),
        ));
    }
    let path = PathBuf::from(&a[0]);
    let path = if path.is_absolute() || a[0] == "stderr" {
        path
    } else {
        prefix.join(path)
    };
    Ok(Some(AccessLog {
        path,
        format,
        buffer,
        flush,
    }))
}

/// `unknown "x" variable` for names that are neither built in nor defined by map/set.
pub(crate) fn check_variables(http: &Http) -> Result<(), ConfError> {
    let known = |name: &str| http.maps.iter().any(|m| m.var == name);
    let check_t = |t: &Template| -> Result<(), ConfError> {
        for v in t.vars() {
            if let Var::Custom(n) = v
                && !known(n)
            {
                return Err(ConfError::global(format!("unknown \"{n}\" variable")));
            }
        }
        Ok(())
    };
    for s in &http.servers {
        let mut stack: Vec<&crate::conf::model::Loc> = vec![&s.base];
        stack.extend(s.locations.all().into_iter().map(|l| &*l.conf));
        for l in stack {
            for (_, t) in &l.proxy.set_headers {
                check_t(t)?;
            }
            for h in l.add_headers.iter() {
                check_t(&h.value)?;
            }
            if let Some(c) = &l.proxy.cache {
                for t in c.key.iter().chain(&c.bypass).chain(&c.no_cache) {
                    check_t(t)?;
                }
            }
            if let Some(r) = &l.ret
                && let Some(t) = &r.text
            {
                check_t(t)?;
            }
            for a in l.access_logs.iter() {
                check_t(&a.format.template)?;
            }
        }
        if let Some(r) = &s.ret
            && let Some(t) = &r.text
        {
            check_t(t)?;
        }
    }
    for z in &http.limit_req_zones {
        check_t(&z.key)?;
    }
    let _ = Part::Lit(Box::new([]));
    Ok(())
}
