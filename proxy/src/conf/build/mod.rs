//! Validation of the parsed tree into [`Config`]: walks directives in file order (so the first
//! error nginx would report is the one we report), applies the directive table checks, records
//! each level's settings, then runs nginx's post-parse checks (upstreams, merges, locations,
//! variables) and merges inherited values.

mod cache_conf;
mod chain;
mod gzip_conf;
mod loc_conf;
mod location;
mod merge;
mod misc;
mod proxy_conf;
mod raw;
mod server;
mod setting;
mod upstream;

use super::error::ConfError;
use super::lexer::{Directive, Item, parse_file};
use super::model::{Config, Http, LogLevel};
use super::table::{check, ctx};
use super::values::parse_number;
use raw::RawLevel;
use std::path::{Path, PathBuf};

pub use setting::parse_cidr;

/// Builds a located error for directive `d`.
pub(crate) fn err(d: &Directive, msg: impl Into<String>) -> ConfError {
    ConfError::at(msg, &d.file, d.line)
}

/// A loaded configuration plus the warnings nginx would print (`[warn]` lines).
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings such as `load balancing method redefined in FILE:LINE`.
    pub warnings: Vec<String>,
}

/// State while walking the tree.
pub(crate) struct Builder {
    pub prefix: PathBuf,
    pub worker_processes: Option<usize>,
    pub worker_connections: Option<usize>,
    pub error_log: Option<(String, LogLevel)>,
    pub seen_events: bool,
    pub seen_http: bool,
    pub http: RawLevel,
    pub servers: Vec<server::RawServer>,
    pub upstreams: upstream::Upstreams,
    pub misc: misc::HttpMisc,
    pub listens: server::Listens,
    pub warnings: Vec<String>,
    /// The `http` directive with `line` set to its closing brace (merge errors point there).
    pub http_end: Option<Directive>,
    /// `health_check` / `match` collected for the health module.
    pub health: crate::conf::health::HealthConf,
    /// `proxy_cache_path` zones in config order.
    pub cache_paths: Vec<std::sync::Arc<crate::conf::cache::CachePath>>,
}

/// Reads `path` and validates it. `prefix` is nginx's `-p` (default: the config's directory);
/// `include` paths are relative to the config file's directory, as nginx's conf prefix.
pub fn load(path: &Path, prefix: Option<&Path>) -> Result<Loaded, ConfError> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let conf_dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let prefix = prefix
        .map(Path::to_path_buf)
        .unwrap_or_else(|| conf_dir.clone());
    let items = parse_file(&path, &conf_dir)?;
    let mut b = Builder {
        prefix: prefix.clone(),
        worker_processes: None,
        worker_connections: None,
        error_log: None,
        seen_events: false,
        seen_http: false,
        http: RawLevel::default(),
        servers: Vec::new(),
        upstreams: upstream::Upstreams::default(),
        misc: misc::HttpMisc::new(),
        listens: server::Listens::default(),
        warnings: Vec::new(),
        http_end: None,
        health: Default::default(),
        cache_paths: Vec::new(),
    };
    b.walk_main(&items)?;
    let http = b.finish_http()?;
    if !b.seen_events {
        return Err(ConfError::global("no \"events\" section in configuration"));
    }
    Ok(Loaded {
        config: Config {
            file: path,
            prefix,
            worker_processes: b.worker_processes.unwrap_or(1),
            worker_connections: b.worker_connections.unwrap_or(512),
            error_log: b.error_log.clone(),
            http,
        },
        warnings: b.warnings,
    })
}

/// Iterates a block's items, turning syntax errors into `Err` in order.
pub(crate) fn dirs(items: &[Item]) -> impl Iterator<Item = Result<&Directive, ConfError>> {
    items.iter().map(|it| match it {
        Item::Dir(d) => Ok(d),
        Item::Error(e) => Err(e.clone()),
    })
}

impl Builder {
    fn walk_main(&mut self, items: &[Item]) -> Result<(), ConfError> {
        for d in dirs(items) {
            let d = d?;
            check(d, ctx::MAIN)?;
            match d.name.as_str() {
                "worker_processes" => {
                    if self.worker_processes.is_some() {
                        return Err(err(d, "\"worker_processes\" directive is duplicate"));
                    }
                    let n = if d.args[0] == "auto" {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    } else {
                        parse_number(&d.args[0])
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(|| err(d, "\"worker_processes\" directive invalid value"))?
                    };
                    self.worker_processes = Some(n.max(1));
                }
                "error_log" => self.error_log = Some(misc::parse_error_log(d)?),
                "events" => {
                    if self.seen_events {
                        return Err(err(d, "\"events\" directive is duplicate"));
                    }
                    self.seen_events = true;
                    self.walk_events(d.block.as_deref().unwrap_or_default())?;
                }
                "http" => {
                    if self.seen_http {
                        return Err(err(d, "\"http\" directive is duplicate"));
                    }
                    self.seen_http = true;
                    let mut end = d.clone();
                    end.line = d.end_line;
                    end.block = None;
                    self.http_end = Some(end);
                    self.walk_http(d.block.as_deref().unwrap_or_default())?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn walk_events(&mut self, items: &[Item]) -> Result<(), ConfError> {
        for d in dirs(items) {
            let d = d?;
            check(d, ctx::EVENTS)?;
            if d.name == "worker_connections" {
                if self.worker_connections.is_some() {
                    return Err(err(d, "\"worker_connections\" directive is duplicate"));
                }
                let n = parse_number(&d.args[0])
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| err(d, format!("invalid number \"{}\"", d.args[0])))?;
                self.worker_connections = Some(n);
            }
        }
        Ok(())
    }

    fn walk_http(&mut self, items: &[Item]) -> Result<(), ConfError> {
        for d in dirs(items) {
            let d = d?;
            check(d, ctx::HTTP)?;
            match d.name.as_str() {
                "server" => self.walk_server(d)?,
                "upstream" => self.walk_upstream(d)?,
                "log_format" => self.misc.log_format(d)?,
                "limit_req_zone" => self.misc.limit_req_zone(d)?,
                "map" => self.misc.map(d)?,
                "match" => self.health.add_match(d)?,
                "proxy_cache_path" => self.add_cache_path(d)?,
                "geo" | "split_clients" | "limit_conn_zone" => {}
                _ => {
                    self.pre_check_loc_directive(d)?;
                    self.http.add(d)?;
                }
            }
        }
        Ok(())
    }

    /// Checks that need builder state (log formats) for a level directive.
    pub(crate) fn pre_check_loc_directive(&mut self, d: &Directive) -> Result<(), ConfError> {
        match d.name.as_str() {
            "access_log" => {
                misc::parse_access_log(d, &self.misc.formats, &self.prefix)?;
            }
            "add_header" => {
                misc::template(d, d.args.get(1).map_or("", |s| s.as_str()))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `proxy_cache_path`: a zone name may be defined once.
    fn add_cache_path(&mut self, d: &Directive) -> Result<(), ConfError> {
        let p = crate::conf::cache::parse_path(d, &self.prefix)?;
        if self.cache_paths.iter().any(|z| z.name == p.name) {
            return Err(err(d, format!("duplicate zone \"{}\"", p.name)));
        }
        self.cache_paths.push(std::sync::Arc::new(p));
        Ok(())
    }

    fn finish_http(&mut self) -> Result<Http, ConfError> {
        let upstreams = self.upstreams.finish(&mut self.warnings)?;
        let mut http = Http {
            upstreams,
            limit_req_zones: self.misc.zones.clone(),
            maps: self.misc.maps.clone(),
            matches: self.health.finish()?,
            cache_paths: self.cache_paths.clone(),
            http2_recv_buffer_size: match self.http.value("http2_recv_buffer_size") {
                Some(setting::Value::Size(n)) => Some(*n as usize),
                _ => None,
            },
            ..Http::default()
        };
        let servers = std::mem::take(&mut self.servers);
        for s in servers {
            let server = merge::build_server(self, s, &http)?;
            http.servers.push(server);
        }
        http.listens = self.listens.finish(http.servers.len());
        misc::check_variables(&http)?;
        Ok(http)
    }
}
