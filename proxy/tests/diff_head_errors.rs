//! The info line a refused request head gets in the error log, side by side with nginx 1.22:
//! the request-line refusals (invalid method, invalid request, invalid version: 505, invalid
//! host in the request line), TRACE and CONNECT (405), header lines nginx cannot read (quoted
//! up to the byte its parser stopped at, that byte in hex), and the Host, Content-Length and
//! Transfer-Encoding refusals, too many header lines; and the line of a header dropped as
//! invalid. The messages are compared up to `, client:`, with nginx's `while reading client
//! request line` / `headers` (time, pid and connection number left out).

mod common;

use common::{both, log_lines, raw};
use std::time::Duration;

/// Heads nginx refuses, one reason each.
const HEADS: &[&[u8]] = &[
    b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET / HTTP/10.1\r\nHost: a\r\n\r\n",
    b"GET http://a..b/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rZ\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b  \rZ\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n Folded: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n",
    b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    // dropped as invalid (`ignore_invalid_headers on`) and logged; the request is answered
    b"GET / HTTP/1.1\r\nHost: a\r\nX.A: 1\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX_A:  v  \r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX@Y\r\nConnection: close\r\n\r\n",
];

/// A head with more header lines than nginx reads.
fn many_lines() -> Vec<u8> {
    let mut h = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..1001 {
        h.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    h.extend_from_slice(b"\r\n");
    h
}

/// The `client sent …` messages of `log`, without the time, pid, connection number and the
/// client context after the message.
fn refusals(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": *").map(|(_, m)| m))
        .map(|m| m.split_once(' ').map_or(m, |(_, msg)| msg))
        .filter(|m| m.starts_with("client sent"))
        .map(|m| m.split(", client:").next().unwrap_or(m).to_string())
        .collect()
}

#[test]
fn refused_heads_are_logged_in_nginx_words() {
    let Some((nginx, ours)) = both(
        // nginx lingers after the CL+TE refusal, waiting for the body: a second, not five
        "server { listen 127.0.0.1:{PORT}; server_name example.com; lingering_timeout 1s;\n\
           location / { return 200 \"ok\"; } }",
    ) else {
        return;
    };
    let mut seen = Vec::new();
    for (addr, log) in [
        (
            nginx.addr(),
            Box::new(|| nginx.error_log()) as Box<dyn Fn() -> String>,
        ),
        (ours.addr(), Box::new(|| ours.error_log())),
    ] {
        let many = many_lines();
        for head in HEADS.iter().copied().chain([&many[..]]) {
            let answer = raw(addr, head, Duration::from_secs(5));
            assert!(answer.starts_with(b"HTTP/1.1 "), "{head:?}: an answer");
        }
        // the lines are written before the answers; wait for the last one all the same
        let lines = log_lines(|| refusals(&log()).join("\n"), HEADS.len() + 1);
        seen.push(lines);
    }
    assert_eq!(
        seen[0].len(),
        HEADS.len() + 1,
        "nginx logs a line per refused head: {:#?}",
        seen[0]
    );
    assert_eq!(seen[0], seen[1], "the lines: nginx vs ours");
}
