//! The response head of an [`H2Io`]: the pipeline's HTTP/1.1 head (its plain form split
//! directly, anything else parsed by httparse as an HTTP/1.1 client would) sent as the
//! stream's HTTP/2 HEADERS, and the body framing it announces.

use super::super::head::{Line, hop, name_of, split_response, value_of};
use super::{H2Io, Out, closed};
use crate::http::chunked::Decoder;
use hyper::http::{HeaderMap, Response, StatusCode};
use std::io;

/// Most response headers parsed from the pipeline's head (as an HTTP/1.1 client would).
const MAX_HEADERS: usize = 100;
/// Response headers split or parsed without the full array (most heads have fewer).
const FEW_HEADERS: usize = 24;
/// Largest response head accepted from the pipeline (bytes).
const MAX_HEAD: usize = 400 * 1024;

impl H2Io {
    /// Parses the response head at the start of `input` and sends it; Ok(Some(n)) with the
    /// bytes used (informational heads before it included), Ok(None) when incomplete.
    pub(super) fn parse_head(&mut self, input: &[u8]) -> io::Result<Option<usize>> {
        let mut skipped = 0;
        loop {
            let buf = &input[skipped..];
            // The plain form the pipeline writes is split without httparse.
            let mut lines: [Line<'_>; FEW_HEADERS] = [(&[], &[]); FEW_HEADERS];
            if let Some((code, used, n)) = split_response(buf, &mut lines) {
                if informational(code) {
                    skipped += used;
                    continue;
                }
                self.send_head(code, lines[..n].iter().copied())?;
                return Ok(Some(skipped + used));
            }
            // A short header array first (filling the full one costs more than parsing a
            // typical head); the full one only for heads with more headers.
            let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
            let mut all;
            let mut resp = httparse::Response::new(&mut few);
            let mut parsed = resp.parse(buf);
            if let Err(httparse::Error::TooManyHeaders) = parsed {
                all = [httparse::EMPTY_HEADER; MAX_HEADERS];
                resp = httparse::Response::new(&mut all);
                parsed = resp.parse(buf);
            }
            let used = match parsed {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad head")),
            };
            let code = resp.code.unwrap_or(0);
            if informational(code) {
                skipped += used;
                continue;
            }
            let lines = resp.headers.iter().map(|h| (h.name.as_bytes(), h.value));
            self.send_head(code, lines)?;
            return Ok(Some(skipped + used));
        }
    }

    /// Sends the response head (`code`, the HTTP/1.1 header lines): connection-specific
    /// headers dropped, `Date` added when missing; the body framing noted from
    /// Transfer-Encoding and Content-Length.
    fn send_head<'b>(
        &mut self,
        code: u16,
        lines: impl Iterator<Item = Line<'b>>,
    ) -> io::Result<()> {
        let status = StatusCode::from_u16(code)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad status"))?;
        let mut headers = HeaderMap::with_capacity(lines.size_hint().0 + 1);
        let mut te: Option<bool> = None;
        let mut length: Option<u64> = None;
        let mut bad_length = false;
        let mut has_date = false;
        for (name, value) in lines {
            let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad header");
            let name = name_of(name).ok_or_else(bad)?;
            if name == hyper::header::TRANSFER_ENCODING {
                let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                te = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name == hyper::header::CONTENT_LENGTH {
                // Every value must parse and agree (else an HTTP/1.1 client rejects it).
                match std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                {
                    Some(n) if length.is_none_or(|l| l == n) => length = Some(n),
                    _ => bad_length = true,
                }
            }
            if hop(&name) {
                continue;
            }
            has_date |= name == hyper::header::DATE;
            headers.append(name, value_of(value).ok_or_else(bad)?);
        }
        if !has_date && let Some(v) = crate::request::respond::with_date(value_of) {
            headers.insert(hyper::header::DATE, v);
        }
        if bad_length {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad length"));
        }
        self.out = if self.head_method || code == 204 || code == 304 {
            Out::Length(0)
        } else {
            match (te, length) {
                (Some(true), _) => Out::Chunked(Box::new(Decoder::new(0))),
                (Some(false), _) | (None, None) => Out::Close,
                (None, Some(n)) => Out::Length(n),
            }
        };
        let mut r = Response::new(());
        *r.status_mut() = status;
        *r.headers_mut() = headers;
        let end = matches!(self.out, Out::Length(0));
        let respond = self.respond.as_mut().ok_or_else(closed)?;
        let send = respond.send_response(r, end).map_err(|_| closed())?;
        self.respond = None;
        if end {
            self.finish();
        } else {
            self.send = Some(send);
        }
        Ok(())
    }
}

/// A 1xx head other than 101 (skipped: HTTP/2 responses carry none of ours).
fn informational(code: u16) -> bool {
    (100..200).contains(&code) && code != 101
}
