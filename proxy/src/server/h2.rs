//! HTTP/2 (ALPN `h2` on `listen … ssl http2`, prior-knowledge h2c on `listen … http2`):
//! hyper's HTTP/2 server, each stream bridged through an in-process pipe into the same
//! HTTP/1.1 request pipeline as every other request (phases, locations, proxying, logs), so
//! the behaviour is identical; connection-specific headers are removed on the way back.

use super::shared::Shared;
use super::stream::Stream;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;

type Body = BoxBody<Bytes, hyper::Error>;

/// Serves one HTTP/2 connection.
pub async fn serve(
    stream: Stream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) {
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(bridge(req, peer, local, shared, https).await) }
    });
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn bad_gateway() -> Response<Body> {
    let mut r = Response::new(http_body_util::Empty::new().map_err(|e| match e {}).boxed());
    *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    r
}

async fn bridge(
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) -> Response<Body> {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(super::conn::serve_stream(
        Stream::Mem(theirs),
        peer,
        local,
        shared,
        https,
    ));
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(ours)).await
    else {
        return bad_gateway();
    };
    tokio::spawn(conn);
    let (parts, body) = req.into_parts();
    let mut b = Request::builder()
        .method(parts.method)
        .uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .version(hyper::Version::HTTP_11);
    let mut has_host = false;
    for (n, v) in &parts.headers {
        has_host |= n == hyper::header::HOST;
        b = b.header(n, v);
    }
    if !has_host && let Some(a) = parts.uri.authority() {
        b = b.header(hyper::header::HOST, a.as_str());
    }
    b = b.header(hyper::header::CONNECTION, "close");
    let Ok(h1) = b.body(body) else {
        return bad_gateway();
    };
    match sender.send_request(h1).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            for h in [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "upgrade",
                "proxy-connection",
            ] {
                parts.headers.remove(h);
            }
            parts.version = hyper::Version::HTTP_2;
            Response::from_parts(parts, body.boxed())
        }
        Err(_) => bad_gateway(),
    }
}
