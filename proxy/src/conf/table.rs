//! The directive table: every directive we accept, the contexts nginx allows it in and its
//! arity, with nginx's generic checks (`unknown directive`, `is not allowed here`, `invalid
//! number of arguments`, `has no opening "{"`, `is not terminated by ";"`, on/off flags).

use super::error::ConfError;
use super::lexer::Directive;

/// Context bits (nginx's `NGX_*_CONF`).
pub mod ctx {
    /// Top level of nginx.conf.
    pub const MAIN: u32 = 1;
    /// `events {}`.
    pub const EVENTS: u32 = 2;
    /// `http {}`.
    pub const HTTP: u32 = 4;
    /// `server {}` inside http.
    pub const SRV: u32 = 8;
    /// `location {}`.
    pub const LOC: u32 = 16;
    /// `upstream {}`.
    pub const UPS: u32 = 32;
    /// `if {}` inside server.
    pub const SIF: u32 = 64;
    /// `if {}` inside location.
    pub const LIF: u32 = 128;
    /// `limit_except {}`.
    pub const LMT: u32 = 256;
    /// Any context (`include`).
    pub const ANY_CTX: u32 = 0xffff;
}

/// Arity bits (nginx's `NGX_CONF_*`).
pub mod ar {
    /// No arguments.
    pub const NOARGS: u32 = 1;
    /// Exactly one argument.
    pub const TAKE1: u32 = 2;
    /// Exactly two.
    pub const TAKE2: u32 = 4;
    /// Exactly three.
    pub const TAKE3: u32 = 8;
    /// Exactly four.
    pub const TAKE4: u32 = 16;
    /// One or two.
    pub const TAKE12: u32 = TAKE1 | TAKE2;
    /// One or three.
    pub const TAKE13: u32 = TAKE1 | TAKE3;
    /// Two or three.
    pub const TAKE23: u32 = TAKE2 | TAKE3;
    /// One to three.
    pub const TAKE123: u32 = TAKE1 | TAKE2 | TAKE3;
    /// One to four.
    pub const TAKE1234: u32 = TAKE123 | TAKE4;
    /// Opens a block.
    pub const BLOCK: u32 = 0x100;
    /// `on` or `off`.
    pub const FLAG: u32 = 0x200;
    /// Any number of arguments.
    pub const ANY: u32 = 0x400;
    /// One or more.
    pub const MORE1: u32 = 0x800;
    /// Two or more.
    pub const MORE2: u32 = 0x1000;
}

use ar::*;
use ctx::*;

const HSL: u32 = HTTP | SRV | LOC;
const HS: u32 = HTTP | SRV;
const HSLI: u32 = HTTP | SRV | LOC | LIF;

/// `(name, contexts, arity)`. A name may appear more than once (e.g. `server` in http and in
/// upstream); the first entry whose contexts include the current one is used.
pub static DIRECTIVES: &[(&str, u32, u32)] = &[
    // core, main context
    ("daemon", MAIN, FLAG),
    ("master_process", MAIN, FLAG),
    ("timer_resolution", MAIN, TAKE1),
    ("pid", MAIN, TAKE1),
    ("lock_file", MAIN, TAKE1),
    ("worker_processes", MAIN, TAKE1),
    ("user", MAIN, TAKE12),
    ("worker_priority", MAIN, TAKE1),
    ("worker_cpu_affinity", MAIN, MORE1),
    ("worker_rlimit_nofile", MAIN, TAKE1),
    ("worker_rlimit_core", MAIN, TAKE1),
    ("worker_shutdown_timeout", MAIN, TAKE1),
    ("working_directory", MAIN, TAKE1),
    ("env", MAIN, TAKE1),
    ("load_module", MAIN, TAKE1),
    ("pcre_jit", MAIN, FLAG),
    ("thread_pool", MAIN, TAKE23),
    ("error_log", MAIN | HSL, MORE1),
    ("include", ANY_CTX, TAKE1),
    ("events", MAIN, BLOCK | NOARGS),
    ("http", MAIN, BLOCK | NOARGS),
    // events
    ("worker_connections", EVENTS, TAKE1),
    ("use", EVENTS, TAKE1),
    ("multi_accept", EVENTS, FLAG),
    ("accept_mutex", EVENTS, FLAG),
    ("accept_mutex_delay", EVENTS, TAKE1),
    ("worker_aio_requests", EVENTS, TAKE1),
    ("debug_connection", EVENTS, TAKE1),
    // http core
    ("server", HTTP, BLOCK | NOARGS),
    ("server", UPS, MORE1),
    ("location", SRV | LOC, BLOCK | TAKE12),
    ("listen", SRV, MORE1),
    ("server_name", SRV, MORE1),
    ("types", HSL, BLOCK | NOARGS),
    ("types_hash_max_size", HSL, TAKE1),
    ("types_hash_bucket_size", HSL, TAKE1),
    ("default_type", HSL, TAKE1),
    ("root", HSLI, TAKE1),
    ("alias", LOC, TAKE1),
    ("limit_except", LOC, BLOCK | MORE1),
    ("client_max_body_size", HSL, TAKE1),
    ("client_body_buffer_size", HSL, TAKE1),
    ("client_body_timeout", HSL, TAKE1),
    ("client_body_temp_path", HSL, TAKE1234),
    ("client_body_in_file_only", HSL, TAKE1),
    ("client_body_in_single_buffer", HSL, FLAG),
    ("client_header_timeout", HS, TAKE1),
    ("client_header_buffer_size", HS, TAKE1),
    ("large_client_header_buffers", HS, TAKE2),
    ("ignore_invalid_headers", HS, FLAG),
    ("underscores_in_headers", HS, FLAG),
    ("merge_slashes", HS, FLAG),
    ("server_names_hash_max_size", HTTP, TAKE1),
    ("server_names_hash_bucket_size", HTTP, TAKE1),
    ("variables_hash_max_size", HTTP, TAKE1),
    ("variables_hash_bucket_size", HTTP, TAKE1),
    ("sendfile", HSLI, FLAG),
    ("sendfile_max_chunk", HSL, TAKE1),
    ("tcp_nopush", HSL, FLAG),
    ("tcp_nodelay", HSL, FLAG),
    ("send_timeout", HSL, TAKE1),
    ("send_lowat", HSL, TAKE1),
    ("keepalive_timeout", HSL, TAKE12),
    ("keepalive_requests", HSL, TAKE1),
    ("keepalive_time", HSL, TAKE1),
    ("keepalive_disable", HSL, TAKE12),
    ("internal", LOC, NOARGS),
    ("satisfy", HSL, TAKE1),
    ("server_tokens", HSL, TAKE1),
    ("error_page", HSLI, MORE2),
    ("try_files", SRV | LOC, MORE2),
    ("resolver", HSL, MORE1),
    ("resolver_timeout", HSL, TAKE1),
    ("absolute_redirect", HSL, FLAG),
    ("port_in_redirect", HSL, FLAG),
    ("server_name_in_redirect", HSL, FLAG),
    ("log_not_found", HSL, FLAG),
    ("log_subrequest", HSL, FLAG),
    ("recursive_error_pages", HSL, FLAG),
    ("chunked_transfer_encoding", HSL, FLAG),
    ("etag", HSL, FLAG),
    ("msie_padding", HSL, FLAG),
    ("msie_refresh", HSL, FLAG),
    ("lingering_close", HSL, TAKE1),
    ("lingering_time", HSL, TAKE1),
    ("lingering_timeout", HSL, TAKE1),
    ("reset_timedout_connection", HSL, FLAG),
    ("open_file_cache", HSL, TAKE12),
    ("open_file_cache_valid", HSL, TAKE1),
    ("open_file_cache_min_uses", HSL, TAKE1),
    ("open_file_cache_errors", HSL, FLAG),
    ("directio", HSL, TAKE1),
    ("aio", HSL, TAKE1),
    ("output_buffers", HSL, TAKE2),
    ("postpone_output", HSL, TAKE1),
    ("if_modified_since", HSL, TAKE1),
    ("max_ranges", HSL, TAKE1),
    ("limit_rate", HSLI, TAKE1),
    ("limit_rate_after", HSLI, TAKE1),
    ("index", HSL, MORE1),
    ("autoindex", HSL, FLAG),
    ("allow", HSL | LMT, TAKE1),
    ("deny", HSL | LMT, TAKE1),
    ("access_log", HSLI | LMT, MORE1),
    ("log_format", HTTP, MORE2),
    ("open_log_file_cache", HSL, TAKE1234),
    // rewrite
    ("return", SRV | SIF | LOC | LIF, TAKE12),
    ("rewrite", SRV | SIF | LOC | LIF, TAKE23),
    ("set", SRV | SIF | LOC | LIF, TAKE2),
    ("if", SRV | LOC, BLOCK | MORE1),
    ("break", SRV | SIF | LOC | LIF, NOARGS),
    ("rewrite_log", HTTP | SRV | SIF | LOC | LIF, FLAG),
    (
        "uninitialized_variable_warn",
        HTTP | SRV | SIF | LOC | LIF,
        FLAG,
    ),
    // proxy
    ("proxy_pass", LOC | LIF | LMT, TAKE1),
    ("proxy_set_header", HSL, TAKE2),
    ("proxy_http_version", HSL, TAKE1),
    ("proxy_connect_timeout", HSL, TAKE1),
    ("proxy_send_timeout", HSL, TAKE1),
    ("proxy_read_timeout", HSL, TAKE1),
    ("proxy_buffering", HSL, FLAG),
    ("proxy_request_buffering", HSL, FLAG),
    ("proxy_buffer_size", HSL, TAKE1),
    ("proxy_buffers", HSL, TAKE2),
    ("proxy_busy_buffers_size", HSL, TAKE1),
    ("proxy_max_temp_file_size", HSL, TAKE1),
    ("proxy_temp_file_write_size", HSL, TAKE1),
    ("proxy_temp_path", HSL, TAKE1234),
    ("proxy_next_upstream", HSL, MORE1),
    ("proxy_next_upstream_tries", HSL, TAKE1),
    ("proxy_next_upstream_timeout", HSL, TAKE1),
    ("proxy_redirect", HSL, TAKE12),
    ("proxy_hide_header", HSL, TAKE1),
    ("proxy_pass_header", HSL, TAKE1),
    ("proxy_intercept_errors", HSL, FLAG),
    ("proxy_ignore_headers", HSL, MORE1),
    ("proxy_set_body", HSL, TAKE1),
    ("proxy_pass_request_headers", HSL, FLAG),
    ("proxy_pass_request_body", HSL, FLAG),
    ("proxy_ignore_client_abort", HSL, FLAG),
    ("proxy_socket_keepalive", HSL, FLAG),
    ("proxy_bind", HSL, TAKE12),
    ("proxy_cookie_domain", HSL, TAKE12),
    ("proxy_cookie_path", HSL, TAKE12),
    ("proxy_headers_hash_max_size", HSL, TAKE1),
    ("proxy_headers_hash_bucket_size", HSL, TAKE1),
    ("proxy_ssl_server_name", HSL, FLAG),
    ("proxy_ssl_verify", HSL, FLAG),
    ("proxy_ssl_protocols", HSL, MORE1),
    // proxy_cache (conf::cache)
    ("proxy_cache_path", HTTP, MORE2),
    ("proxy_cache", HSL, TAKE1),
    ("proxy_cache_key", HSL, TAKE1),
    ("proxy_cache_valid", HSL, MORE1),
    ("proxy_cache_methods", HSL, MORE1),
    ("proxy_cache_min_uses", HSL, TAKE1),
    ("proxy_cache_bypass", HSL, MORE1),
    ("proxy_no_cache", HSL, MORE1),
    ("proxy_cache_use_stale", HSL, MORE1),
    ("proxy_cache_background_update", HSL, FLAG),
    ("proxy_cache_lock", HSL, FLAG),
    ("proxy_cache_lock_timeout", HSL, TAKE1),
    ("proxy_cache_lock_age", HSL, TAKE1),
    ("proxy_cache_revalidate", HSL, FLAG),
    ("proxy_cache_convert_head", HSL, FLAG),
    ("proxy_cache_max_range_offset", HSL, TAKE1),
    // upstream
    ("upstream", HTTP, BLOCK | TAKE1),
    ("keepalive", UPS, TAKE1),
    ("keepalive_timeout", UPS, TAKE1),
    ("keepalive_requests", UPS, TAKE1),
    ("keepalive_time", UPS, TAKE1),
    ("least_conn", UPS, NOARGS),
    ("ip_hash", UPS, NOARGS),
    ("hash", UPS, TAKE12),
    ("random", UPS, NOARGS | TAKE12),
    ("zone", UPS, TAKE12),
    // limit_req / limit_conn
    ("limit_req_zone", HTTP, TAKE3),
    ("limit_req", HSL, TAKE123),
    ("limit_req_status", HSL, TAKE1),
    ("limit_req_log_level", HSL, TAKE1),
    ("limit_req_dry_run", HSL, FLAG),
    ("limit_conn_zone", HTTP, TAKE2),
    ("limit_conn", HSL, TAKE2),
    ("limit_conn_status", HSL, TAKE1),
    ("limit_conn_log_level", HSL, TAKE1),
    // headers
    ("expires", HSLI, TAKE12),
    ("add_header", HSLI, TAKE23),
    ("add_trailer", HSLI, TAKE23),
    // ssl / http2
    ("ssl", HS, FLAG),
    ("ssl_certificate", HS, TAKE1),
    ("ssl_certificate_key", HS, TAKE1),
    ("ssl_password_file", HS, TAKE1),
    ("ssl_protocols", HS, MORE1),
    ("ssl_ciphers", HS, TAKE1),
    ("ssl_prefer_server_ciphers", HS, FLAG),
    ("ssl_session_cache", HS, TAKE12),
    ("ssl_session_timeout", HS, TAKE1),
    ("ssl_session_tickets", HS, FLAG),
    ("ssl_dhparam", HS, TAKE1),
    ("ssl_ecdh_curve", HS, TAKE1),
    ("ssl_stapling", HS, FLAG),
    ("ssl_stapling_verify", HS, FLAG),
    ("ssl_trusted_certificate", HS, TAKE1),
    ("ssl_buffer_size", HS, TAKE1),
    ("ssl_early_data", HS, FLAG),
    ("http2_max_concurrent_streams", HS, TAKE1),
    ("http2_recv_buffer_size", HTTP, TAKE1),
    ("http2_chunk_size", HSL, TAKE1),
    ("http2_body_preread_size", HS, TAKE1),
    ("http2_idle_timeout", HS, TAKE1),
    ("http2_max_field_size", HS, TAKE1),
    ("http2_max_header_size", HS, TAKE1),
    ("http2_max_requests", HS, TAKE1),
    ("http2_push", HSL, TAKE1),
    // misc modules
    ("stub_status", SRV | LOC, NOARGS | TAKE1),
    ("gzip", HSLI, FLAG),
    ("gzip_types", HSL, MORE1),
    ("gzip_comp_level", HSL, TAKE1),
    ("gzip_min_length", HSL, TAKE1),
    ("gzip_proxied", HSL, MORE1),
    ("gzip_vary", HSL, FLAG),
    ("gzip_disable", HSL, MORE1),
    ("gzip_http_version", HSL, TAKE1),
    ("gzip_buffers", HSL, TAKE2),
    ("gzip_window", HSL, TAKE1),
    ("gzip_hash", HSL, TAKE1),
    ("gzip_no_buffer", HSL, FLAG),
    ("postpone_gzipping", HSL, TAKE1),
    ("gzip_static", HSL, TAKE1),
    ("charset", HSLI, TAKE1),
    ("source_charset", HSLI, TAKE1),
    ("map", HTTP, BLOCK | TAKE2),
    ("map_hash_max_size", HTTP, TAKE1),
    ("map_hash_bucket_size", HTTP, TAKE1),
    ("geo", HTTP, BLOCK | TAKE12),
    ("split_clients", HTTP, BLOCK | TAKE2),
    ("real_ip_header", HSL, TAKE1),
    ("set_real_ip_from", HSL, TAKE1),
    ("real_ip_recursive", HSL, FLAG),
    ("auth_basic", HSL | LMT, TAKE1),
    ("auth_basic_user_file", HSL | LMT, TAKE1),
    // nginx Plus only (documented as such), and proxylab's own
    ("health_check", LOC | UPS, ANY),
    ("match", HTTP, BLOCK | TAKE1),
    ("proxylab_status", LOC, NOARGS),
    ("proxylab_cache_status", LOC, NOARGS),
];

/// Blocks whose bodies are not directives (`types`, `map`, `geo`, `split_clients`): their
/// lines are handled by the block's own parser.
pub fn is_opaque_block(name: &str) -> bool {
    matches!(name, "types" | "map" | "geo" | "split_clients" | "match")
}

/// nginx's generic checks for directive `d` in context `here`. Returns the arity bits of the
/// matching table entry.
pub fn check(d: &Directive, here: u32) -> Result<u32, ConfError> {
    let mut found_name = false;
    let mut entry = None;
    for &(name, ctxs, arity) in DIRECTIVES {
        if name != d.name {
            continue;
        }
        found_name = true;
        if ctxs & here != 0 {
            entry = Some(arity);
            break;
        }
    }
    let err = |m: String| ConfError::at(m, &d.file, d.line);
    let Some(arity) = entry else {
        return Err(err(if found_name {
            format!("\"{}\" directive is not allowed here", d.name)
        } else {
            format!("unknown directive \"{}\"", d.name)
        }));
    };
    if arity & BLOCK == 0 && d.block.is_some() {
        return Err(err(format!(
            "directive \"{}\" is not terminated by \";\"",
            d.name
        )));
    }
    if arity & BLOCK != 0 && d.block.is_none() {
        return Err(err(format!(
            "directive \"{}\" has no opening \"{{\"",
            d.name
        )));
    }
    let n = d.args.len();
    let ok = if arity & ANY != 0 {
        true
    } else if arity & FLAG != 0 {
        n == 1
    } else if arity & MORE1 != 0 {
        n >= 1
    } else if arity & MORE2 != 0 {
        n >= 2
    } else if n > 7 {
        false
    } else {
        arity & (1 << n) != 0
    };
    if !ok {
        return Err(err(format!(
            "invalid number of arguments in \"{}\" directive",
            d.name
        )));
    }
    if arity & FLAG != 0 && !matches!(d.args[0].to_ascii_lowercase().as_str(), "on" | "off") {
        return Err(err(format!(
            "invalid value \"{}\" in \"{}\" directive, it must be \"on\" or \"off\"",
            d.args[0], d.name
        )));
    }
    Ok(arity)
}
