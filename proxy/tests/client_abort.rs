//! A client that closes its connection before the upstream answers, side by side with
//! nginx (`proxy_ignore_client_abort off`, the default): nginx notices the close while it
//! waits (`ngx_http_upstream_check_broken_connection`), closes the upstream connection too,
//! logs the request as 499 and an info line; with `proxy_ignore_client_abort on` it waits for
//! the upstream and logs the upstream's status. The close is seen after a pipelined request
//! too (nginx's `EPOLLRDHUP`), and over HTTP/2 a reset stream ends the request the same way
//! (`client canceled stream N`, 499), and so does the end of its connection (`client
//! prematurely closed connection` for the connection, 499 for the stream).

mod common;

use common::{both, log_lines};
use proxylab_testkit::FakeUpstream;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends a request for a slow answer and closes the connection before it comes.
fn send_and_close(addr: SocketAddr, path: &str) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send request");
    // Long enough for the request to reach the upstream, well before it answers.
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
}

/// Sends a request for a slow answer, then, once it waits on the upstream, a second
/// (pipelined) request, and closes the connection.
fn send_pipelined_and_close(addr: SocketAddr, path: &str) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send request");
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .expect("send the pipelined request");
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
}

/// Sends a request for a slow answer on an HTTP/2 (prior knowledge) connection and resets
/// its stream (CANCEL) before the answer comes; the connection stays open a while after.
fn send_and_reset_stream(addr: SocketAddr, path: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.expect("h2 ready");
        let req = hyper::Request::get(format!("http://example.com{path}"))
            .body(())
            .expect("request");
        let (response, mut stream) = client.send_request(req, true).expect("send request");
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.send_reset(h2::Reason::CANCEL);
        drop(response);
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(client);
        conn.abort();
    });
}

/// Sends a request for a slow answer on an HTTP/2 (prior knowledge) connection and closes
/// the connection (no RST_STREAM, no GOAWAY) before the answer comes.
fn send_and_close_connection(addr: SocketAddr, path: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.expect("h2 ready");
        let req = hyper::Request::get(format!("http://example.com{path}"))
            .body(())
            .expect("request");
        let sent = client.send_request(req, true).expect("send request");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The connection task ends first: the socket closes without the stream being
        // cancelled (dropping the stream first would queue a RST_STREAM).
        conn.abort();
        let _ = conn.await;
        drop((sent, client));
    });
}

/// The lines of `log` that tell the client's close ended the upstream exchange.
fn abort_lines(log: &str) -> Vec<String> {
    lines_with(log, "so upstream connection is closed too")
}

/// The messages of the lines of `log` holding `needle`, without what differs between
/// servers (time, pid, connection number, client context).
fn lines_with(log: &str, needle: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(needle))
        .map(|l| {
            // From the message on: time, pid and connection numbers differ.
            let at = l.find("] ").map_or(0, |i| i + 2);
            let rest = &l[at..];
            // `PID#TID: *CONN message`: the message alone.
            let msg = rest.splitn(3, ' ').nth(2).unwrap_or(rest);
            msg.split(", client:").next().unwrap_or(msg).to_string()
        })
        .collect()
}

/// Sends with `send` to nginx, then to ours; for each, its access log once it has `lines`
/// lines, and the error-log lines `pick` keeps.
fn on_each(
    nginx: &proxylab_testkit::Nginx,
    ours: &common::Ours,
    lines: usize,
    pick: impl Fn(&str) -> Vec<String>,
    send: impl Fn(SocketAddr),
) -> [(Vec<String>, Vec<String>); 2] {
    send(nginx.addr());
    let n = (
        log_lines(|| nginx.access_log(), lines),
        pick(&nginx.error_log()),
    );
    send(ours.addr());
    let o = (
        log_lines(|| ours.access_log(), lines),
        pick(&ours.error_log()),
    );
    [n, o]
}

#[test]
fn client_closing_before_the_upstream_answers_is_logged_499_as_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let up = FakeUpstream::start(&[]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location / {{ proxy_pass http://{up}; }}\n\
           location /ignore/ {{ proxy_pass http://{up}/; proxy_ignore_client_abort on; }} }}",
        up = up.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let seen = on_each(&nginx, &ours, 3, abort_lines, |addr| {
        send_and_close(addr, "/sleep?ms=1500");
        send_and_close(addr, "/ignore/sleep?ms=1500");
        send_pipelined_and_close(addr, "/sleep?ms=1500&pipelined=1");
    });
    let up_addr = up.addr().to_string();
    let (n, o) = (&seen[0], &seen[1]);
    assert_eq!(n.0, o.0, "access logs: nginx vs ours");
    assert!(
        n.0.iter()
            .any(|l| l.starts_with(&format!("499 {up_addr} "))),
        "nginx logs 499 for the abandoned request: {:#?}",
        n.0
    );
    assert!(
        n.0.iter()
            .any(|l| l.starts_with(&format!("200 {up_addr} 200 "))),
        "ignore_client_abort waits for the answer: {:#?}",
        n.0
    );
    assert_eq!(n.1, o.1, "error-log lines of the close: nginx vs ours");
    assert!(!n.1.is_empty(), "nginx logs the close");
}

#[test]
fn http2_stream_reset_before_the_upstream_answers_is_logged_499_as_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let up = FakeUpstream::start(&[]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}} http2;\n\
           location / {{ proxy_pass http://{up}; }} }}",
        up = up.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let seen = on_each(
        &nginx,
        &ours,
        1,
        |log| lines_with(log, "stream 1"),
        |addr| send_and_reset_stream(addr, "/sleep?ms=1500"),
    );
    let (n, o) = (&seen[0], &seen[1]);
    assert_eq!(n.0, o.0, "access logs: nginx vs ours");
    assert!(
        n.0.iter()
            .any(|l| l.starts_with(&format!("499 {} - ", up.addr()))),
        "nginx logs 499 for the reset stream: {:#?}",
        n.0
    );
    assert_eq!(n.1, o.1, "error-log lines of the reset: nginx vs ours");
    assert!(!n.1.is_empty(), "nginx logs the reset");
}

#[test]
fn http2_connection_closed_before_the_upstream_answers_is_logged_499_as_nginx() {
    if proxylab_testkit::require("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let up = FakeUpstream::start(&[]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}} http2;\n\
           location / {{ proxy_pass http://{up}; }} }}",
        up = up.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let seen = on_each(
        &nginx,
        &ours,
        1,
        |log| lines_with(log, "closed connection"),
        |addr| send_and_close_connection(addr, "/sleep?ms=1500"),
    );
    let (n, o) = (&seen[0], &seen[1]);
    assert_eq!(n.0, o.0, "access logs: nginx vs ours");
    assert!(
        n.0.iter()
            .any(|l| l.starts_with(&format!("499 {} - ", up.addr()))),
        "nginx logs 499 for the stream of the closed connection: {:#?}",
        n.0
    );
    assert_eq!(n.1, o.1, "error-log lines of the close: nginx vs ours");
    assert!(!n.1.is_empty(), "nginx logs the close");
}
