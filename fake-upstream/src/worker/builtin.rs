//! Request dispatch: the route table first, then the built-in httpbin-style app (`/`, `/health`,
//! `/sleep`, `/block`, `/thread`, `/db`, `/status/{code}`, `/bytes/{n}`, `POST /echo`), answering
//! with the bytes FastAPI would produce (JSON bodies, 404/405/422 details).

use super::Worker;
use super::exec::{Plan, Reply};
use crate::app::{Kind, Route};
use crate::bytes_body;
use crate::wire::request::RequestHead;
use crate::wire::response::Response;
use bytes::Bytes;
use rand::RngExt;
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const HELLO: &[u8] = b"{\"message\":\"Hello World\"}";

/// Counter names of the built-in routes, after the table routes' names.
pub(crate) const BUILTIN_NAMES: [&str; 12] = [
    "GET /",
    "GET /health",
    "GET /sleep",
    "GET /block",
    "GET /thread",
    "GET /db",
    "POST /echo",
    "GET /status/{code}",
    "GET /bytes/{n}",
    "GET /ws",
    "404",
    "405",
];
const ROOT: usize = 0;
const HEALTH: usize = 1;
const SLEEP: usize = 2;
const BLOCK: usize = 3;
const THREAD: usize = 4;
const DB: usize = 5;
const ECHO: usize = 6;
const STATUS: usize = 7;
const BYTES: usize = 8;
/// Counter slot of `GET /ws` among the built-ins.
pub(crate) const WS: usize = 9;
const NOT_FOUND: usize = 10;
const NOT_ALLOWED: usize = 11;

/// Counter slot of built-in route `b` (after the table's routes).
pub(crate) fn slot(w: &Worker, b: usize) -> usize {
    w.app.routes.len() + b
}

/// Decides how to answer `head`.
pub(crate) fn dispatch(w: &Worker, head: &RequestHead) -> Plan {
    if let Some(i) = w.app.find(&head.method, &head.path) {
        return match unmet_requirements(&w.app.routes[i], head) {
            Some(resp) => Plan::ready(i, resp),
            None => table_plan(w, i),
        };
    }
    if w.app.include_default_routes
        && let Some(plan) = builtin(w, head)
    {
        return plan;
    }
    if w.app.path_known(&head.path) || (w.app.include_default_routes && builtin_path(&head.path)) {
        let mut r = Response::json(405, &b"{\"detail\":\"Method Not Allowed\"}"[..]);
        r.headers.insert(
            0,
            (Cow::Borrowed("allow"), Cow::Borrowed(allowed(&head.path))),
        );
        return Plan::ready(slot(w, NOT_ALLOWED), r);
    }
    Plan::ready(
        slot(w, NOT_FOUND),
        Response::json(404, &b"{\"detail\":\"Not Found\"}"[..]),
    )
}

/// The 412 of a route whose `require_headers` the request does not meet (None: met).
fn unmet_requirements(r: &Route, head: &RequestHead) -> Option<Response> {
    if r.require.is_empty() {
        return None;
    }
    let [host, xff, xfp] = &head.forwarded;
    let seen = crate::app::require::Seen {
        host: host.as_deref(),
        x_forwarded_for: xff.as_deref(),
        x_forwarded_proto: xfp.as_deref(),
    };
    let missing = crate::app::require::unmet(&r.require, &seen);
    (!missing.is_empty()).then(|| {
        let body = format!(
            "{{\"detail\":\"missing or wrong: {}\"}}",
            missing.join(", ")
        );
        Response::json(412, body.into_bytes())
    })
}

fn allowed(path: &str) -> &'static str {
    if path == "/echo" { "POST" } else { "GET" }
}

fn builtin_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/health" | "/sleep" | "/block" | "/thread" | "/db" | "/echo" | "/ws"
    ) || path
        .strip_prefix("/status/")
        .is_some_and(|s| !s.is_empty() && !s.contains('/'))
        || path
            .strip_prefix("/bytes/")
            .is_some_and(|s| !s.is_empty() && !s.contains('/'))
}

fn scaled(w: &Worker, d: Duration) -> Duration {
    let m = w.latency_multiplier();
    if m == 1.0 || d.is_zero() {
        d
    } else {
        crate::latency::clamp_ms(d.as_secs_f64() * 1000.0 * m)
    }
}

fn table_plan(w: &Worker, index: usize) -> Plan {
    let r: &Route = &w.app.routes[index];
    let (latency, fault) = {
        let mut rng = w.rng.borrow_mut();
        let l = if r.latency.is_zero() {
            Duration::ZERO
        } else {
            r.latency.sample(&mut rng)
        };
        let f = if r.faults.none() {
            None
        } else {
            r.faults.pick(rng.random())
        };
        (l, f)
    };
    let resp = if r.health && w.shared.faults.unhealthy.load(Relaxed) {
        Response::json(503, &b"{\"status\":\"unhealthy\"}"[..])
    } else {
        let headers = r
            .headers
            .iter()
            .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
            .collect();
        if r.chunked {
            let mut resp = Response::streamed(
                r.status,
                r.body.clone(),
                r.content_type.as_deref().unwrap_or("text/plain"),
            );
            let mut h: Vec<_> = headers;
            h.append(&mut resp.headers);
            resp.headers = h;
            resp
        } else {
            Response::starlette(r.status, headers, r.body.clone(), r.content_type.as_deref())
        }
    };
    Plan {
        counter: index,
        kind: r.kind,
        table: r.table.clone(),
        latency: scaled(w, latency),
        cpu: r.cpu,
        reply: Reply::Ready(resp),
        fault,
        trickle: (r.faults.trickle_bytes, r.faults.trickle_interval),
    }
}

/// FastAPI/pydantic's 422 for a parameter that is not an integer.
fn int_422(loc: &str, name: &str, input: &str) -> Response {
    let input = serde_json::to_string(input).unwrap_or_else(|_| "\"\"".to_string());
    let body = format!(
        "{{\"detail\":[{{\"type\":\"int_parsing\",\"loc\":[\"{loc}\",\"{name}\"],\"msg\":\"Input should be a valid integer, unable to parse string as an integer\",\"input\":{input}}}]}}"
    );
    Response::json(422, body)
}

fn query_ms(head: &RequestHead) -> Result<u64, Response> {
    for pair in head.query.split('&') {
        if let Some(v) = pair.strip_prefix("ms=") {
            return match v.parse::<i64>() {
                Ok(n) => Ok(n.clamp(0, 86_400_000) as u64),
                Err(_) => Err(int_422("query", "ms", v)),
            };
        }
    }
    Ok(0)
}

fn timed(w: &Worker, head: &RequestHead, counter: usize, kind: Kind, key: &str) -> Plan {
    let counter = slot(w, counter);
    match query_ms(head) {
        Ok(ms) => {
            let body = format!("{{\"{key}\":{ms}}}");
            let mut p = Plan::ready(counter, Response::json(200, body));
            p.kind = kind;
            p.latency = scaled(w, Duration::from_millis(ms));
            p
        }
        Err(resp) => Plan::ready(counter, resp),
    }
}

fn builtin(w: &Worker, head: &RequestHead) -> Option<Plan> {
    let get = head.method == "GET";
    let plan = match head.path.as_str() {
        "/" if get => Plan::ready(
            slot(w, ROOT),
            Response::json(200, Bytes::from_static(HELLO)),
        ),
        "/health" if get => {
            let r = if w.shared.faults.unhealthy.load(Relaxed) {
                Response::json(503, &b"{\"status\":\"unhealthy\"}"[..])
            } else {
                Response::json(200, &b"{\"status\":\"ok\"}"[..])
            };
            Plan::ready(slot(w, HEALTH), r)
        }
        "/sleep" if get => timed(w, head, SLEEP, Kind::Async, "slept_ms"),
        "/block" if get => timed(w, head, BLOCK, Kind::Blocking, "blocked_ms"),
        "/thread" if get => timed(w, head, THREAD, Kind::Threadpool, "thread_ms"),
        "/db" if get => timed(w, head, DB, Kind::Db, "db_ms"),
        "/echo" if head.method == "POST" => {
            let mut p = Plan::ready(slot(w, ECHO), Response::json(200, Bytes::new()));
            p.reply = Reply::Echo;
            p
        }
        p if get && p.starts_with("/status/") && builtin_path(p) => {
            let raw = &p["/status/".len()..];
            let r = match raw.parse::<u16>() {
                Ok(code) if (200..=599).contains(&code) => {
                    Response::starlette(code, Vec::new(), Bytes::new(), None)
                }
                Ok(_) => Response::fastapi_500(),
                Err(_) => int_422("path", "code", raw),
            };
            Plan::ready(slot(w, STATUS), r)
        }
        p if get && p.starts_with("/bytes/") && builtin_path(p) => {
            let raw = &p["/bytes/".len()..];
            let r = match raw.parse::<u64>() {
                Ok(n) if n <= 1 << 30 => {
                    let body = bytes_body::pattern(n as usize);
                    let sum = bytes_body::sha256_hex(&body);
                    let h = vec![(Cow::Borrowed("x-body-sha256"), Cow::Owned(sum))];
                    Response::starlette(200, h, Bytes::from(body), Some("application/octet-stream"))
                }
                Ok(_) => Response::fastapi_500(),
                Err(_) => int_422("path", "n", raw),
            };
            Plan::ready(slot(w, BYTES), r)
        }
        _ => return None,
    };
    Some(plan)
}

/// The JSON answer of `POST /echo` for a received body.
pub(crate) fn echo_response(body: &[u8]) -> Response {
    let json = format!(
        "{{\"sha256\":\"{}\",\"length\":{}}}",
        bytes_body::sha256_hex(body),
        body.len()
    );
    Response::json(200, json)
}
