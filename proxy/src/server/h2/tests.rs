//! End-to-end tests of the HTTP/2 glue: a real proxy (the server, started in this process)
//! serving prior-knowledge h2c, and a real HTTP/2 client (the `h2` crate) sending many concurrent streams on one
//! connection: each stream gets its own response (multiplexed streams run together), request
//! heads larger than one read, bodies with and without a length (the latter sent on chunked),
//! heads the HTTP/1.1 rules reject (answered by the connection loop's error path), and response
//! bodies small (inline payloads) and large.

use crate::server::{Handle, Server};
use bytes::Bytes;
use hyper::http::{Method, Request, StatusCode};
use proxylab_testkit::free_port;
use std::time::Duration;

/// Length of the `/big` response body (bytes; larger than an inline payload).
const BIG: usize = 3000;
/// Headers added to the `/many` response (more than the glue's short header array).
const MANY: usize = 40;

fn start_proxy(dir: &std::path::Path) -> (Handle, u16) {
    let port = free_port();
    let big = "b".repeat(BIG);
    let many: String = (0..MANY)
        .map(|i| format!("add_header x-h{i} v{i}; "))
        .collect();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/cb;\n  server {{\n    listen 127.0.0.1:{port} http2;\n    \
         location / {{ return 200 \"$request_method $request_uri\\n\"; }}\n    \
         location /big {{ return 200 \"{big}\"; }}\n    \
         location /many {{ {many}return 200 \"m\"; }}\n  }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write conf");
    // In this process: the server is a library (no binary to build or spawn).
    let loaded = crate::conf::load(&path, Some(dir)).expect("config loads");
    let server = Server {
        file: path,
        prefix: Some(dir.to_path_buf()),
    };
    (server.start(loaded).expect("server starts"), port)
}

/// Sends `req` (with `body` in DATA frames, no length) and returns status and body.
async fn exchange(
    mut send: h2::client::SendRequest<Bytes>,
    req: Request<()>,
    body: Option<&'static [u8]>,
) -> (StatusCode, Vec<u8>) {
    send = send.ready().await.expect("ready");
    let (resp, mut stream) = send.send_request(req, body.is_none()).expect("send");
    if let Some(b) = body {
        stream
            .send_data(Bytes::from_static(&b[..b.len() / 2]), false)
            .expect("data");
        stream
            .send_data(Bytes::from_static(&b[b.len() / 2..]), true)
            .expect("data");
    }
    let resp = tokio::time::timeout(Duration::from_secs(30), resp)
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status();
    let mut recv = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.expect("body");
        let _ = recv.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    (status, out)
}

fn get(path: &str) -> Request<()> {
    Request::builder()
        .uri(format!("http://localhost{path}"))
        .body(())
        .expect("request")
}

#[tokio::test]
async fn concurrent_streams_heads_and_bodies_through_the_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("cb")).expect("cb dir");
    let (_proxy, port) = start_proxy(dir.path());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (send, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });

    // Many streams at once: each answer names its own request.
    let mut all = Vec::new();
    for i in 0..40 {
        all.push(tokio::spawn(exchange(
            send.clone(),
            get(&format!("/s?i={i}")),
            None,
        )));
    }
    for (i, h) in all.into_iter().enumerate() {
        let (status, body) = h.await.expect("join");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("GET /s?i={i}\n").into_bytes());
    }

    // A response head with many headers, all passed on in order.
    let mut send2 = send.clone().ready().await.expect("ready");
    let (resp, _) = send2.send_request(get("/many"), true).expect("send");
    let resp = resp.await.expect("response");
    let names: Vec<String> = resp
        .headers()
        .keys()
        .filter(|n| n.as_str().starts_with("x-h"))
        .map(|n| n.to_string())
        .collect();
    let want: Vec<String> = (0..MANY).map(|i| format!("x-h{i}")).collect();
    assert_eq!(names, want);
    assert_eq!(resp.headers()["x-h7"], "v7");

    // A large body (shared payload) and a HEAD (no body).
    let (status, body) = exchange(send.clone(), get("/big"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, vec![b'b'; BIG]);
    let mut head = get("/h");
    *head.method_mut() = Method::HEAD;
    let (status, body) = exchange(send.clone(), head, None).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));

    // A request head larger than the pipeline's first read (6 KB header).
    let mut long = get("/long");
    long.headers_mut()
        .insert("x-long", "v".repeat(6000).parse().expect("header value"));
    let (status, body) = exchange(send.clone(), long, None).await;
    assert_eq!((status, body), (StatusCode::OK, b"GET /long\n".to_vec()));

    // A body without a length reaches the pipeline chunked.
    let mut post = get("/p");
    *post.method_mut() = Method::POST;
    let (status, body) = exchange(send.clone(), post, Some(b"hello, body")).await;
    assert_eq!((status, body), (StatusCode::OK, b"POST /p\n".to_vec()));

    // A body with a length (read after the head was handed over without the read path).
    let mut sized = get("/sized");
    *sized.method_mut() = Method::PUT;
    sized
        .headers_mut()
        .insert("content-length", "11".parse().expect("length"));
    let (status, body) = exchange(send.clone(), sized, Some(b"hello, body")).await;
    assert_eq!((status, body), (StatusCode::OK, b"PUT /sized\n".to_vec()));

    // A head the HTTP/1.1 rules reject (two Host headers) gets their 400 answer, and the
    // connection goes on serving streams.
    let mut twice = get("/twice");
    twice
        .headers_mut()
        .append("host", "a.example".parse().expect("host"));
    twice
        .headers_mut()
        .append("host", "b.example".parse().expect("host"));
    let (status, body) = exchange(send.clone(), twice, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&body).contains("400 Bad Request"),
        "{body:?}"
    );
    let (status, body) = exchange(send.clone(), get("/after"), None).await;
    assert_eq!((status, body), (StatusCode::OK, b"GET /after\n".to_vec()));

    drop(send);
    driver.abort();
}
