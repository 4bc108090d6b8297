//! proxy_cache before and around the upstream exchange, as nginx's
//! `ngx_http_upstream_cache` and `ngx_http_file_cache_open` order it: the methods and
//! `proxy_cache_bypass` checks, the lookup (with `proxy_cache_min_uses` and the
//! `proxy_cache_lock` wait), fresh entries served (HIT), expired ones either fetched again
//! (EXPIRED), served while another request updates them (UPDATING, `use_stale updating`) or
//! served while a background update runs (STALE, `proxy_cache_background_update`), and stale
//! answers when the upstream fails (`proxy_cache_use_stale error timeout …`).

use super::cache_filters::range_beyond;
use super::cache_send::{Stored, send_stored};
use crate::cache::file::{Entry, decode};
use crate::cache::key::Key;
use crate::cache::{Status, Zone};
use crate::conf::cache::{CacheLoc, ZoneRef, stale};
use crate::conf::model::{LogLevel, ProxyPass};
use crate::http::status::Status as HttpStatus;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::log::log_error;
use crate::request::reply::send_error;
use crate::vars::Template;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cache side of one proxied request.
pub struct CacheState {
    /// The zone.
    pub zone: Arc<Zone>,
    /// The location's settings.
    pub conf: Arc<CacheLoc>,
    /// The key (its MD5: the main one, or a Vary variant's).
    pub key: Key,
    /// The MD5 of the key text.
    pub main: [u8; 16],
    /// Looking at a Vary variant's secondary file.
    pub secondary: bool,
    /// `$upstream_cache_status` so far.
    pub status: Status,
    /// The response may be stored (not when `min_uses` is not reached or the lock timed out).
    pub cacheable: bool,
    /// This request holds the key's update flag (released when it ends).
    pub updating: bool,
    /// The expired entry (stale answers, revalidation).
    pub stale: Option<Entry>,
    /// A background update: nothing goes to the client.
    pub background: bool,
    /// A HEAD sent upstream as GET: the body is read, not relayed.
    pub as_get: bool,
}

impl Drop for CacheState {
    fn drop(&mut self) {
        if self.updating {
            self.zone.end_update(&self.key, None);
        }
    }
}

/// What the lookup decided.
pub enum Lookup {
    /// No caching for this request.
    Off,
    /// Answered from the cache.
    Served(Next),
    /// Go upstream with this state.
    Go(CacheState),
    /// A stale entry was served; now update it in the background.
    Background(Next, CacheState),
}

/// nginx's `ngx_http_test_predicates`: a value that is not empty and not "0".
pub fn predicates(list: &[Template], req: &Req<'_>) -> bool {
    list.iter().any(|t| {
        let v = t.render(req);
        !v.is_empty() && v != b"0"
    })
}

/// The Vary variant hash of this request for an entry with `Vary: vary`.
pub fn variant_of(req: &Req<'_>, main: &[u8; 16], vary: &[u8]) -> [u8; 16] {
    let headers: Vec<(&[u8], &[u8])> = req.head.headers().collect();
    crate::cache::key::variant(main, vary, headers.iter().copied())
}

/// nginx's key without `proxy_cache_key`: `http://` or `https://`, the proxy_pass host, and
/// the URI sent upstream.
fn default_key(req: &Req<'_>, pass: &ProxyPass) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(if pass.https { b"https://" } else { b"http://" });
    k.extend_from_slice(pass.proxy_host.as_bytes());
    super::request::upstream_uri(req, pass, &mut k);
    k
}

pub use crate::cache::unix_now;

/// Reads the entry file of `st.key`; None when missing or refused (logged as nginx does).
fn read_entry(req: &Req<'_>, st: &CacheState) -> Result<Entry, bool> {
    let path = st.zone.file(&st.key);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(false),
        Err(e) => {
            let msg = format!(
                "open() \"{}\" failed ({})",
                path.display(),
                crate::logs::os_error(&e)
            );
            log_error(req.live, req, LogLevel::Crit, &msg);
            return Err(true);
        }
    };
    let words = match decode(&st.key, bytes) {
        Ok(e) if super::cache_send::head_matches_body(&e) => return Ok(e),
        Ok(_) => "contains invalid header",
        Err(r) => r.words(),
    };
    let msg = format!("cache file \"{}\" {words}", path.display());
    log_error(req.live, req, LogLevel::Crit, &msg);
    st.zone
        .stats
        .refused
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Err(true)
}

/// Serves `entry` answered with `status`.
async fn serve(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
    st: &CacheState,
    entry: &Entry,
    status: Status,
) -> Next {
    st.zone.stats.count(status);
    req.up.cache_status = Some(status.as_str());
    send_stored(client, req, shared, pass, Stored::cached(entry)).await
}

/// Looks the request up in its zone (after the request body was read, as nginx does).
pub async fn lookup(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
) -> Lookup {
    let Some(conf) = req.loc.proxy.cache.clone() else {
        return Lookup::Off;
    };
    if !conf
        .methods
        .iter()
        .any(|m| m.as_bytes() == req.head.method())
    {
        return Lookup::Off;
    }
    let zone = match zone_for(req, &conf.zone) {
        ZoneFor::Zone(zone) => zone,
        ZoneFor::Off => return Lookup::Off,
        ZoneFor::Missing => {
            let status = HttpStatus::INTERNAL_SERVER_ERROR;
            return Lookup::Served(send_error(client, req, shared, status).await);
        }
    };
    let key = Key::new(match &conf.key {
        Some(t) => t.render(req),
        None => default_key(req, pass),
    });
    let mut st = CacheState {
        zone,
        conf,
        main: key.md5,
        secondary: false,
        key,
        status: Status::Miss,
        cacheable: true,
        updating: false,
        stale: None,
        background: false,
        as_get: false,
    };
    st.as_get = req.head.method() == b"HEAD" && st.conf.convert_head;
    if predicates(&st.conf.bypass, req) {
        st.status = Status::Bypass;
        req.up.cache_status = Some(st.status.as_str());
        return Lookup::Go(st);
    }
    let entry = match find(req, &mut st).await {
        Got::Entry(e) => e,
        Got::Error(code) => {
            // a cached 502/504: nginx answers it as a HIT without contacting the upstream
            st.zone.stats.count(Status::Hit);
            req.up.cache_status = Some(Status::Hit.as_str());
            return Lookup::Served(send_error(client, req, shared, code).await);
        }
        Got::Nothing => {
            req.up.cache_status = Some(st.status.as_str());
            st.cacheable &= !range_beyond(req, st.conf.max_range_offset);
            return Lookup::Go(st);
        }
    };
    let now = unix_now();
    if entry.meta.valid_sec >= now {
        return Lookup::Served(serve(client, req, shared, pass, &st, &entry, Status::Hit).await);
    }
    expired(client, req, shared, pass, st, entry, now).await
}

/// The zone a request uses.
enum ZoneFor {
    /// No caching (the variables gave nothing or `off`).
    Off,
    /// This zone.
    Zone(Arc<Zone>),
    /// The variables named no zone: nginx's `cache "NAME" not found` (logged) and a 500.
    Missing,
}

/// The zone of `proxy_cache`: the one named, or the one its variables name for this request.
fn zone_for(req: &Req<'_>, zone: &ZoneRef) -> ZoneFor {
    let t = match zone {
        ZoneRef::Index(i) => {
            return req
                .live
                .caches
                .get(*i)
                .cloned()
                .map_or(ZoneFor::Off, ZoneFor::Zone);
        }
        ZoneRef::Var(t) => t,
    };
    let name = t.render(req);
    if name.is_empty() || name == b"off" {
        return ZoneFor::Off;
    }
    let found = req
        .live
        .caches
        .iter()
        .find(|z| z.path.name.as_bytes() == name.as_slice());
    match found {
        Some(z) => ZoneFor::Zone(z.clone()),
        None => {
            let msg = format!("cache \"{}\" not found", String::from_utf8_lossy(&name));
            log_error(req.live, req, LogLevel::Error, &msg);
            ZoneFor::Missing
        }
    }
}

/// What the index and the file gave.
enum Got {
    /// A readable file.
    Entry(Entry),
    /// A cached 502/504.
    Error(HttpStatus),
    /// Nothing: `st` says how to go upstream.
    Nothing,
}

/// The index and the file: the entry when a readable file exists, a cached error, or nothing
/// (`st` then says how to go upstream; the lock is waited for here, in steps of at most
/// 500 ms as nginx).
async fn find(req: &Req<'_>, st: &mut CacheState) -> Got {
    use crate::cache::zone::Found;
    let lock = st.conf.lock.then_some(st.conf.lock_age);
    let deadline = Instant::now() + st.conf.lock_timeout;
    for _ in 0..100_000 {
        match st.zone.find(&st.key, st.conf.min_uses, lock) {
            Found::Error(code) => return Got::Error(code),
            Found::Scarce => st.cacheable = false,
            Found::Miss => st.updating = lock.is_some(),
            Found::Locked(left) => {
                let now = Instant::now();
                if now >= deadline {
                    log_error(req.live, req, LogLevel::Info, "cache lock timeout");
                    st.cacheable = false;
                    return Got::Nothing;
                }
                let step = left.min(deadline - now).min(Duration::from_millis(500));
                tokio::time::sleep(step.max(Duration::from_millis(1))).await;
                continue;
            }
            Found::File => match read_entry(req, st) {
                Ok(e) if !e.meta.vary.is_empty() => {
                    let v = variant_of(req, &st.main, &e.meta.vary);
                    if v == e.meta.variant {
                        return Got::Entry(e);
                    }
                    if st.secondary {
                        let path = st.zone.file(&st.key);
                        let msg =
                            format!("cache file \"{}\" has incorrect vary hash", path.display());
                        log_error(req.live, req, LogLevel::Crit, &msg);
                        return Got::Nothing;
                    }
                    // nginx's reopen: the variant's own file.
                    st.secondary = true;
                    st.key = st.key.with_md5(v);
                    continue;
                }
                Ok(e) => return Got::Entry(e),
                Err(refused) => {
                    st.zone.forget_file(&st.key);
                    if refused {
                        return Got::Nothing;
                    }
                    continue;
                }
            },
        }
        return Got::Nothing;
    }
    Got::Nothing
}

/// An expired entry: served while another request updates it, served while a background
/// update runs, or fetched again (its entry kept for stale answers and revalidation).
async fn expired(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
    mut st: CacheState,
    entry: Entry,
    now: i64,
) -> Lookup {
    let stale_updating = entry.meta.valid_sec + entry.meta.updating_sec >= now;
    let use_updating = st.conf.use_stale & stale::UPDATING != 0 || stale_updating;
    if !st.zone.start_update(&st.key) {
        if use_updating {
            let next = serve(client, req, shared, pass, &st, &entry, Status::Updating).await;
            return Lookup::Served(next);
        }
    } else {
        st.updating = true;
        if use_updating && st.conf.background_update {
            let next = serve(client, req, shared, pass, &st, &entry, Status::Stale).await;
            st.background = true;
            st.status = Status::Expired;
            return Lookup::Background(next, st);
        }
    }
    st.status = Status::Expired;
    req.up.cache_status = Some(st.status.as_str());
    st.cacheable &= !range_beyond(req, st.conf.max_range_offset);
    st.stale = Some(entry);
    Lookup::Go(st)
}

/// The upstream failed with condition `mask` (nginx's `ft_type`) and no other try follows:
/// the expired entry when `proxy_cache_use_stale` (or `stale-if-error`) allows it, else the
/// error page `status`. A background update writes nothing.
pub async fn fail(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
    cache: &mut Option<CacheState>,
    mask: u32,
    status: HttpStatus,
) -> Next {
    if let Some(st) = cache.as_mut() {
        if st.background {
            return Next::Close;
        }
        let allowed = |e: &Entry| {
            st.conf.use_stale & mask != 0 || e.meta.valid_sec + e.meta.error_sec >= unix_now()
        };
        if st.status == Status::Expired
            && let Some(entry) = st.stale.take_if(|e| allowed(e))
        {
            st.status = Status::Stale;
            return serve(client, req, shared, pass, st, &entry, Status::Stale).await;
        }
        st.zone.stats.count(st.status);
        keep_error(st, status);
    }
    send_error(client, req, shared, status).await
}

/// nginx's `ngx_http_upstream_finalize_request` with 502 or 504 for a cacheable request: the
/// answer is kept in the index while `proxy_cache_valid` for it allows (an expired entry's
/// own time when there was one: that one has passed, so the next request starts anew).
fn keep_error(st: &mut CacheState, status: HttpStatus) {
    if !matches!(
        status,
        HttpStatus::BAD_GATEWAY | HttpStatus::GATEWAY_TIME_OUT
    ) || !st.cacheable
    {
        return;
    }
    let until = match &st.stale {
        Some(e) if e.meta.valid_sec != 0 => Some(e.meta.valid_sec),
        _ => st
            .conf
            .valid_for(status)
            .filter(|t| !t.is_zero())
            .map(|t| unix_now() + t.as_secs() as i64),
    };
    if let Some(until) = until {
        st.zone.set_error(&st.key, status, until);
        st.updating = false;
    }
}

/// `proxy_cache_use_stale` bit of "no live upstreams".
pub const NOLIVE: u32 = stale::NOLIVE;

/// The conditional headers of a request revalidating its expired entry
/// (`proxy_cache_revalidate`): the entry's Last-Modified and ETag.
pub fn revalidation(st: &CacheState) -> super::request::CacheHeaders {
    let mut h = super::request::CacheHeaders {
        as_get: st.as_get,
        cacheable: st.cacheable,
        ..Default::default()
    };
    let Some(e) = st
        .stale
        .as_ref()
        .filter(|_| st.conf.revalidate && st.cacheable)
    else {
        return h;
    };
    if st.status != Status::Expired {
        return h;
    }
    if e.meta.last_modified != -1 {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(e.meta.last_modified.max(0) as u64);
        h.if_modified_since = Some(httpdate::fmt_http_date(t).into_bytes());
    }
    if !e.meta.etag.is_empty() {
        h.if_none_match = Some(e.meta.etag.clone());
    }
    h
}
