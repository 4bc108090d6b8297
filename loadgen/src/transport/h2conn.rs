//! HTTP/2 client connections on the `h2` crate (over TLS+ALPN or h2c prior knowledge): one
//! handle per connection, cloned per stream; the body is read with flow-control release and
//! verified against `x-body-sha256`.

use super::{ErrorKind, Stream, h1::Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A live HTTP/2 connection (cheap to clone: one stream per request).
#[derive(Clone, Debug)]
pub struct H2Handle {
    send: h2::client::SendRequest<Bytes>,
}

/// Performs the HTTP/2 handshake and drives the connection on the current `LocalSet`.
pub async fn handshake(stream: Stream) -> Result<H2Handle, ErrorKind> {
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 24)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(|e| ErrorKind::from_h2(&e))?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(H2Handle { send })
}

impl H2Handle {
    /// Sends `req` (with `body`, if any) and reads the whole response. The error says whether
    /// the server never processed the request (connection closing, REFUSED_STREAM, graceful
    /// GOAWAY), so that it may be retried on a new connection as browsers do.
    pub async fn exchange(
        &self,
        req: http::Request<()>,
        body: Option<Bytes>,
    ) -> Result<Response, (ErrorKind, bool)> {
        let retryable = |e: &h2::Error| {
            e.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (e.is_go_away() && e.reason() == Some(h2::Reason::NO_ERROR))
        };
        let fail = |e: h2::Error| (ErrorKind::from_h2(&e), retryable(&e));
        let unsent = |e: h2::Error| (ErrorKind::from_h2(&e), true);
        let mut send = self.send.clone().ready().await.map_err(unsent)?;
        let (resp, mut out) = send.send_request(req, body.is_none()).map_err(unsent)?;
        if let Some(b) = body {
            out.send_data(b, true).map_err(fail)?;
        }
        let resp = resp.await.map_err(fail)?;
        read_body(resp).await.map_err(|k| (k, false))
    }
}

/// Reads and verifies a response body.
async fn read_body(resp: http::Response<h2::RecvStream>) -> Result<Response, ErrorKind> {
    let status = resp.status().as_u16();
    let mut want = None;
    if let Some(v) = resp.headers().get("x-body-sha256") {
        let mut sha = [0u8; 32];
        hex::decode_to_slice(v.as_bytes().trim_ascii(), &mut sha)
            .map_err(|_| ErrorKind::Protocol)?;
        want = Some(sha);
    }
    let announced: Option<u64> = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut hasher = want.map(|_| Sha256::new());
    let mut body = resp.into_body();
    let mut len = 0u64;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| match ErrorKind::from_h2(&e) {
            // The stream ended early (RST or a short body against content-length).
            ErrorKind::Reset | ErrorKind::Protocol if announced.is_some() || want.is_some() => {
                ErrorKind::Truncated
            }
            k => k,
        })?;
        len += chunk.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    if announced.is_some_and(|n| n != len) {
        return Err(ErrorKind::Truncated);
    }
    let verified = match (want, hasher) {
        (Some(w), Some(h)) => {
            if h.finalize().as_slice() != w {
                return Err(ErrorKind::Corrupt);
            }
            true
        }
        _ => false,
    };
    Ok(Response {
        status,
        keep_alive: true,
        body_len: len,
        verified,
    })
}
