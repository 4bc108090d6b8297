//! A level's `proxy_*` settings ([`ProxyConf`]) from its inheritance chain, with nginx's
//! merge-time checks of the buffer sizes (reported at the http block's closing brace, as
//! nginx reports them).

use super::super::error::ConfError;
use super::super::lexer::Directive;
use super::super::model::{ProxyConf, next_upstream};
use super::Builder;
use super::chain::Chain;
use super::err;

/// The buffer settings after the merge-time checks.
struct Buffers {
    /// `proxy_buffer_size`.
    buffer_size: usize,
    /// `proxy_buffers`.
    buffers: (usize, usize),
    /// `proxy_busy_buffers_size` (default twice the larger buffer).
    busy: usize,
    /// `proxy_temp_file_write_size` (default twice the larger buffer).
    write_size: usize,
    /// `proxy_max_temp_file_size` (default 1g).
    max_temp: u64,
}

/// The merged `proxy_*` settings; `at` is the level's declaration, used when the http block
/// has no closing brace recorded.
pub(super) fn build_proxy(
    c: &Chain<'_>,
    b: &Builder,
    at: &Directive,
) -> Result<ProxyConf, ConfError> {
    // nginx compiles proxy_set_header values and checks buffers at merge time: errors point
    // at the closing brace of the http block.
    let at = b.http_end.as_ref().unwrap_or(at);
    let mut set_headers = Vec::new();
    for d in c.list(&["proxy_set_header"]) {
        set_headers.push((d.args[0].clone(), super::misc::template(at, &d.args[1])?));
    }
    let buffers = buffers(c, at)?;
    let lower = |n: &str| -> Vec<String> {
        c.list(&[n])
            .iter()
            .map(|d| d.args[0].to_ascii_lowercase())
            .collect()
    };
    Ok(ProxyConf {
        set_headers,
        http11: c.http11(),
        connect_timeout: c.time("proxy_connect_timeout", 60),
        read_timeout: c.time("proxy_read_timeout", 60),
        send_timeout: c.time("proxy_send_timeout", 60),
        next_upstream: c.next_upstream(next_upstream::ERROR | next_upstream::TIMEOUT),
        next_upstream_tries: c.number("proxy_next_upstream_tries", 0) as u32,
        next_upstream_timeout: c.time("proxy_next_upstream_timeout", 0),
        buffering: c.flag("proxy_buffering", true),
        request_buffering: c.flag("proxy_request_buffering", true),
        buffer_size: buffers.buffer_size,
        buffers: buffers.buffers,
        busy_buffers_size: buffers.busy,
        max_temp_file_size: buffers.max_temp,
        temp_file_write_size: buffers.write_size,
        temp_path: super::loc_conf::temp_path(c, b, "proxy_temp_path"),
        hide_headers: lower("proxy_hide_header"),
        pass_headers: lower("proxy_pass_header"),
        intercept_errors: c.flag("proxy_intercept_errors", false),
        pass_request_body: c.flag("proxy_pass_request_body", true),
        pass_request_headers: c.flag("proxy_pass_request_headers", true),
        ignore_client_abort: c.flag("proxy_ignore_client_abort", false),
        cache: super::cache_conf::build_cache(c, &b.cache_paths, at)?,
    })
}

/// The buffer sizes, checked against each other as nginx's proxy merge does.
fn buffers(c: &Chain<'_>, at: &Directive) -> Result<Buffers, ConfError> {
    let buffer_size = c.size("proxy_buffer_size", 4096) as usize;
    let buffers = c.buffers("proxy_buffers", (8, 4096));
    if buffers.0 < 2 {
        return Err(err(at, "there must be at least 2 \"proxy_buffers\""));
    }
    let size = buffer_size.max(buffers.1);
    let busy = c.size("proxy_busy_buffers_size", 2 * size as u64) as usize;
    if busy < size {
        return Err(err(
            at,
            "\"proxy_busy_buffers_size\" must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    if busy > (buffers.0 - 1) * buffers.1 {
        return Err(err(
            at,
            "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" minus one buffer",
        ));
    }
    let write_size = c.size("proxy_temp_file_write_size", 2 * size as u64) as usize;
    if write_size < size {
        return Err(err(
            at,
            "\"proxy_temp_file_write_size\" must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    let max_temp = c.size("proxy_max_temp_file_size", 1024 * 1024 * 1024);
    if max_temp != 0 && (max_temp as usize) < size {
        return Err(err(
            at,
            "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files usage or must be equal to or greater than the maximum of the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"",
        ));
    }
    Ok(Buffers {
        buffer_size,
        buffers,
        busy,
        write_size,
        max_temp,
    })
}
