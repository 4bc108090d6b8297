//! Sending a stored response (a cache entry, or a response just read whole to be stored)
//! through nginx's header rules, keeping its framing: a body that came with a Content-Length
//! is sent with it, any other chunked (HTTP/1.1) or until close; and the check that a stored
//! head matches its body.

use super::framer::{Framer, Framing};
use crate::cache::file::Entry;
use crate::conf::model::ProxyPass;
use crate::http::response;
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::respond::Ka;

/// A stored head parses and its Content-Length (when given) matches the body: anything else
/// is a truncated or corrupt file, never served.
pub fn head_matches_body(e: &Entry) -> bool {
    let mut head = e.head.clone();
    match response::parse(&mut head, usize::MAX) {
        Ok(Some((up, rest))) => {
            rest.is_empty()
                && (up.chunked || up.content_length.is_none_or(|n| n == e.body.len() as u64))
        }
        _ => false,
    }
}

/// Sends a stored response (`head` as the upstream sent it, `body` decoded) through nginx's
/// header rules; `truncated` closes the connection after it.
pub async fn send_stored(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    pass: &ProxyPass,
    head: &[u8],
    body: &[u8],
    truncated: bool,
) -> Next {
    let mut raw = head.to_vec();
    let Ok(Some((up, _))) = response::parse(&mut raw, usize::MAX) else {
        return crate::request::reply::send_error(
            client,
            req,
            shared,
            Status::INTERNAL_SERVER_ERROR,
        )
        .await;
    };
    let plan = super::relay::plan(req, shared, &up);
    let mut out = Vec::with_capacity(512 + body.len());
    super::relay::client_head(client, req, pass, &up, &plan, &mut out);
    let head_len = out.len() as u64;
    let framing = match plan.framing {
        Framing::Chunked | Framing::Close => Framing::Close,
        f => f,
    };
    let mut framer = Framer::new(framing, plan.client_chunked);
    if plan.gzip.gzip && framing != Framing::None {
        // the gzip filter runs on a stored response as on a relayed one
        let length = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        framer = framer.gzip(super::gzip::encoder(&req.loc.gzip, length), false);
    }
    let _ = framer.feed(body, &mut out);
    if framing == Framing::Close && !truncated {
        let _ = framer.eof(&mut out);
    }
    req.status = up.status;
    let r = client.write_all(&out, req.loc.send_timeout).await;
    req.bytes_sent = out.len() as u64;
    req.body_bytes_sent = req.bytes_sent - head_len;
    req.up.last_head = Some(up);
    match (r, plan.ka) {
        (Ok(()), Ka::KeepAlive(_)) if !truncated => Next::KeepAlive(req.loc.keepalive_timeout.0),
        _ => Next::Close,
    }
}
