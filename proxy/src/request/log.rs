//! A request's error-log and access-log lines.

use super::ctx::Req;
use crate::conf::model::LogLevel;
use crate::live::Live;

/// Error-log context suffix: `, client: IP, server: NAME, request: "…", host: "…"`.
pub fn log_ctx(req: &Req<'_>) -> String {
    let mut s = format!(
        ", client: {}, server: {}, request: \"{}\"",
        req.conn.peer.ip(),
        req.server.first_name,
        String::from_utf8_lossy(req.head.request_line())
    );
    if let Some(h) = req.head.header(b"host") {
        s.push_str(&format!(", host: \"{}\"", String::from_utf8_lossy(h)));
    }
    s
}

/// Logs an error-log line for this request.
pub fn log_error(live: &Live, req: &Req<'_>, level: LogLevel, msg: &str) {
    if live.error_log.enabled(level) {
        live.error_log
            .log(level, &format!("*{} {msg}{}", req.conn.id, log_ctx(req)));
    }
}

/// Writes the access log lines of the request.
pub fn access_log(live: &Live, req: &Req<'_>) {
    for l in req.loc.access_logs.iter() {
        let Some(w) = live.access.get(&(std::sync::Arc::as_ptr(l) as usize)) else {
            continue;
        };
        let mut line = Vec::with_capacity(256);
        let mut val = Vec::new();
        for p in &l.format.template.parts {
            match p {
                crate::vars::Part::Lit(b) => line.extend_from_slice(b),
                crate::vars::Part::Var(v) => {
                    val.clear();
                    let found = crate::vars::VarSource::append_var(req, v, &mut val);
                    if !found || val.is_empty() {
                        line.push(b'-');
                    } else {
                        crate::logs::escape_into(&val, l.format.escape, &mut line);
                    }
                }
            }
        }
        line.push(b'\n');
        if let Some(msg) = w.write_line(&line) {
            log_error(
                live,
                req,
                LogLevel::Alert,
                &format!("{msg} while logging request"),
            );
        }
    }
}
