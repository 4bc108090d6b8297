//! proxy_cache after the upstream answered, as nginx's `ngx_http_upstream_test_next` and
//! `ngx_http_upstream_send_response` order it: a final error status answered from the stale
//! entry (`proxy_cache_use_stale http_500 …`), a 304 to a revalidation (REVALIDATED, the
//! entry's validity renewed), `proxy_no_cache`, then the storing decision (`cache::policy`); a
//! response to store is read whole, written to its file and served from memory, any other is
//! relayed as without a cache. Stored responses keep their framing: a body that came with a
//! Content-Length is sent with it, any other chunked (HTTP/1.1) or until close.

use super::Got;
use super::cache_filters::Source;
use super::cache_flow::{CacheState, fail, predicates, unix_now};
use super::cache_send::{Stored, send_stored};
use super::exchange::Sent;
use super::framer::{Framer, Framing};
use crate::balance::PeerOutcome;
use crate::cache::Status;
use crate::cache::file;
use crate::cache::policy;
use crate::conf::model::LogLevel;
use crate::http::response;
use crate::http::status::Status as HttpStatus;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::error::{Cause, Error, Stage};
use crate::request::log::log_error;
use std::time::Instant;
use tokio::io::AsyncReadExt;

/// Responses larger than this are relayed, not stored (they would be held in memory): a
/// Content-Length above it, or a body without one that grows past it.
const MAX_STORED: u64 = 64 << 20;

/// Why a body was not read whole.
enum Short {
    /// The upstream failed: the error, and the body read so far.
    Failed(Error, Vec<u8>),
    /// No Content-Length and more than [`MAX_STORED`] bytes so far: the raw bytes read, to be
    /// relayed as they came.
    TooBig(Vec<u8>),
}

/// Ends the try: the connection back to the pool when `reusable`, the peer released.
fn release(req: &mut Req<'_>, got: Got<'_>, reusable: bool) {
    let end = Instant::now();
    let sent = got.sent;
    if reusable && sent.head.http11 && !sent.head.conn_close && got.pool.enabled() {
        got.pool.put(sent.conn, end);
    }
    got.attempt.finish(PeerOutcome::Ok, end);
    if let Some(t) = req.up.tries.last_mut() {
        t.time = end - got.started;
    }
}

/// The response of the try that got one, for a request with a cache state.
pub(super) async fn respond(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    got: Got<'_>,
    mut st: CacheState,
) -> Next {
    let code = got.sent.head.status;
    let pass = got.pass;
    if st.status == Status::Expired && st.stale.is_some() {
        let bit = crate::conf::model::next_upstream::of_status(code);
        if bit != 0 && st.conf.use_stale & bit != 0 {
            release(req, got, false);
            let mut cache = Some(st);
            return fail(client, req, shared, pass, &mut cache, bit, code).await;
        }
        if code == HttpStatus::NOT_MODIFIED && st.conf.revalidate {
            return revalidated(client, req, shared, got, st).await;
        }
    }
    let now = unix_now();
    let d = policy::decide(&st.conf, code, got.sent.head.headers(), now);
    let small = got.sent.head.content_length.is_none_or(|n| n <= MAX_STORED);
    let stored = st.cacheable && d.cacheable && !predicates(&st.conf.no_cache, req) && small;
    if !stored && st.as_get && small {
        // The GET's body is read and dropped; the HEAD gets the head.
        if st.updating {
            st.zone.end_update(&st.key, None);
            st.updating = false;
        }
        return store(client, req, shared, got, st, None).await;
    }
    if !stored {
        return pass_unstored(client, req, shared, got, st).await;
    }
    store(client, req, shared, got, st, Some(d.meta)).await
}

/// Reads the whole body of `sent` (decoded); Err when the upstream failed before its end or
/// the body outgrew [`MAX_STORED`].
async fn read_body(req: &Req<'_>, sent: &mut Sent) -> Result<Vec<u8>, Short> {
    let up = &sent.head;
    let framing = if up.status.has_no_body() {
        Framing::None
    } else if up.chunked {
        Framing::Chunked
    } else if let Some(n) = up.content_length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    let mut framer = Framer::new(framing, false);
    let mut body = Vec::with_capacity(up.content_length.unwrap_or(0).min(MAX_STORED) as usize);
    let mut raw = std::mem::take(&mut sent.leftover);
    if let Err(e) = framer.feed(&raw, &mut body) {
        return Err(Short::Failed(e, body));
    }
    let timeout = req.loc.proxy.read_timeout;
    let mut buf = Vec::with_capacity(16384);
    for _ in 0..10_000_000 {
        // The size first: the read that crosses the limit may also complete the body.
        if body.len() as u64 > MAX_STORED {
            return Err(Short::TooBig(raw));
        }
        if framer.complete {
            return Ok(body);
        }
        buf.clear();
        let r = tokio::time::timeout(timeout, sent.conn.stream.read_buf(&mut buf)).await;
        let step = match r {
            Err(_) => Err(Error::at(Stage::ReadingUpstream, Cause::TimedOut)),
            Ok(Err(e)) => Err(Error::at(Stage::ReadingUpstream, Cause::Os("recv", e))),
            Ok(Ok(0)) => framer.eof(&mut body),
            Ok(Ok(_)) => {
                raw.extend_from_slice(&buf);
                framer.feed(&buf, &mut body)
            }
        };
        if let Err(e) = step {
            return Err(Short::Failed(e, body));
        }
    }
    Err(Short::Failed(
        Error::at(Stage::ReadingUpstream, Cause::Closed),
        body,
    ))
}

/// A body without Content-Length that outgrew [`MAX_STORED`]: relayed from its first byte
/// (`raw`) as a response that is not stored.
async fn relay_unstored(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    mut got: Got<'_>,
    st: CacheState,
    raw: Vec<u8>,
) -> Next {
    got.sent.leftover = raw;
    pass_unstored(client, req, shared, got, st).await
}

/// A response that is not stored: the update this request held (if any) ends, a background
/// update closes, anything else is counted and relayed to the client.
async fn pass_unstored(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    got: Got<'_>,
    mut st: CacheState,
) -> Next {
    if st.updating {
        st.zone.end_update(&st.key, None);
        st.updating = false;
    }
    if st.background {
        release(req, got, false);
        return Next::Close;
    }
    st.zone.stats.count(st.status);
    super::respond(client, req, shared, got).await
}

/// Reads the whole response, writes it to the entry file when `meta` is given (else it is
/// only read: a HEAD sent as GET), and serves it.
async fn store(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    mut got: Got<'_>,
    mut st: CacheState,
    meta: Option<file::Meta>,
) -> Next {
    let pass = got.pass;
    let head = got.sent.head.raw.clone();
    let source = match meta {
        Some(_) => Source::Storing,
        None => Source::Passing,
    };
    let (body, complete) = match read_body(req, &mut got.sent).await {
        Ok(b) => (b, true),
        Err(Short::Failed(e, b)) => {
            if let Some(level) = e.outcome().level {
                log_error(req.live, req, level, &e.to_string());
            }
            (b, false)
        }
        Err(Short::TooBig(raw)) => {
            return relay_unstored(client, req, shared, got, st, raw).await;
        }
    };
    let framing_close = !got.sent.head.chunked && got.sent.head.content_length.is_none();
    release(req, got, complete && !framing_close);
    if complete && let Some(meta) = meta {
        write_entry(req, &mut st, meta, &head, &body);
    }
    if st.background {
        return Next::Close;
    }
    st.zone.stats.count(st.status);
    req.up.cache_status = Some(st.status.as_str());
    let stored = Stored {
        head: &head,
        body: &body,
        truncated: !complete,
        source,
    };
    send_stored(client, req, shared, pass, stored).await
}

/// Writes the entry file (under the main key or the Vary variant's, as nginx's
/// `update_variant` picks) and marks the key as stored.
fn write_entry(req: &Req<'_>, st: &mut CacheState, mut meta: file::Meta, head: &[u8], body: &[u8]) {
    if !meta.vary.is_empty() {
        meta.variant = super::cache_flow::variant_of(req, &st.main, &meta.vary);
    }
    if st.secondary && (meta.vary.is_empty() || meta.variant != st.key.md5) {
        if st.updating {
            st.zone.end_update(&st.key, None);
            st.updating = false;
        }
        st.key = st.key.with_md5(st.main);
    }
    let prefix = file::encode(&st.key, &meta, head);
    let path = st.zone.file(&st.key);
    let temp = st
        .zone
        .path
        .use_temp_path
        .then(|| req.loc.proxy.temp_path.dir.clone());
    match file::store(&path, temp.as_deref(), &prefix, body) {
        Ok(size) => {
            st.zone.end_update(&st.key, Some(size));
            st.updating = false;
            st.zone
                .stats
                .stored
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Err(e) => {
            let msg = format!(
                "cache file \"{}\" write failed ({})",
                path.display(),
                crate::logs::os_error(&e)
            );
            log_error(req.live, req, LogLevel::Crit, &msg);
        }
    }
}

/// A 304 to a revalidation: the entry served as REVALIDATED, its validity renewed as nginx
/// does: from the 304's headers, else from the stored response's headers, else
/// `proxy_cache_valid` for the stored response's status.
async fn revalidated(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    got: Got<'_>,
    mut st: CacheState,
) -> Next {
    let now = unix_now();
    let pass = got.pass;
    let mut times = policy::from_headers(&st.conf, got.sent.head.headers(), now)
        .0
        .meta;
    release(req, got, true);
    let Some(mut entry) = st.stale.take() else {
        return Next::Close;
    };
    let mut raw = entry.head.clone();
    if let Ok(Some((stored, _))) = response::parse(&mut raw, usize::MAX) {
        if times.valid_sec == 0 {
            times = policy::from_headers(&st.conf, stored.headers(), now).0.meta;
        }
        if times.valid_sec == 0 {
            times.valid_sec = st
                .conf
                .valid_for(stored.status)
                .filter(|t| !t.is_zero())
                .map_or(0, |t| now + t.as_secs() as i64);
        }
    }
    if times.valid_sec != 0 {
        entry.meta.valid_sec = times.valid_sec;
        entry.meta.updating_sec = times.updating_sec;
        entry.meta.error_sec = times.error_sec;
        entry.meta.date = now;
        let _ = file::update_meta(&st.zone.file(&st.key), &st.key, &entry.meta);
    }
    if st.background {
        return Next::Close;
    }
    st.status = Status::Revalidated;
    st.zone.stats.count(st.status);
    req.up.cache_status = Some(st.status.as_str());
    send_stored(client, req, shared, pass, Stored::cached(&entry)).await
}
