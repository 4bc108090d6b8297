//! The pages the static module answers with headers of its own (301 with Location, 416 with
//! Content-Range, 403/404/405): nginx's error page, the headers in nginx's spelling and order,
//! an absolute Location, `add_header` and gzip.

use super::static_gzip::{self};
use crate::http::status::Status;
use crate::live::Shared;
use crate::request::Next;
use crate::request::client::Client;
use crate::request::ctx::Req;
use crate::request::reply::{absolute, gzip_answer, keepalive};
use crate::request::respond::Head;
use hyper::header::HeaderMap;

/// nginx's canonical spelling of a header name (HeaderMap keeps names lowercased): the
/// name as written in `add_header`, else the usual Title-Case.
pub(super) fn canonical(req: &Req<'_>, name: &str) -> std::borrow::Cow<'static, [u8]> {
    use std::borrow::Cow;
    if let Some(a) = req
        .loc
        .add_headers
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
        return Cow::Owned(a.name.as_bytes().to_vec());
    }
    match name {
        "etag" => Cow::Borrowed(b"ETag"),
        "accept-ranges" => Cow::Borrowed(b"Accept-Ranges"),
        "content-range" => Cow::Borrowed(b"Content-Range"),
        "www-authenticate" => Cow::Borrowed(b"WWW-Authenticate"),
        _ => {
            let mut up = true;
            Cow::Owned(
                name.bytes()
                    .map(|b| {
                        let c = if up { b.to_ascii_uppercase() } else { b };
                        up = b == b'-';
                        c
                    })
                    .collect(),
            )
        }
    }
}

/// An error page (or the slash redirect) with the module's extra headers.
pub(super) async fn send_page(
    client: &mut Client,
    req: &mut Req<'_>,
    shared: &Shared,
    code: Status,
    extra: HeaderMap,
) -> Next {
    let body = code.error_page(req.loc.server_tokens);
    let mut ka = keepalive(req, shared, code);
    let mut special_location = None;
    let mut list: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (n, v) in extra.iter() {
        if n == hyper::header::LOCATION {
            let l = v.as_bytes();
            if l.first() == Some(&b'/') && req.loc.absolute_redirect {
                special_location = Some(absolute(req, l));
                continue;
            }
        }
        list.push((
            canonical(req, n.as_str()).into_owned(),
            v.as_bytes().to_vec(),
        ));
    }
    // add_header entries the module did not already apply (it applies them only to 200/304/416).
    if code.code() != 416 {
        list.extend(crate::request::reply::added_headers(req, code));
    }
    let content_type = (!body.is_empty()).then_some(&b"text/html"[..]);
    let (gz, packed) = gzip_answer(req, code, content_type, &body, &mut list, &mut ka);
    let body = packed.unwrap_or(body);
    let mut out = Vec::with_capacity(256 + body.len());
    client.put_head(
        &mut out,
        &Head {
            status: code,
            content_type,
            content_length: (!gz.gzip).then_some(body.len() as u64),
            location: special_location.as_deref(),
            chunked: gz.gzip && static_gzip::facts(req).chunked(),
            ka: Some(ka),
            vary: gz.vary,
            ..Head::default()
        },
        list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    crate::request::reply::write_answer(client, req, out, &body, code, ka).await
}
