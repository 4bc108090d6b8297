//! The prepared request mix: weights, path templates (`{seq}`, `{rand}`), bodies with their
//! SHA-256, and HTTP/1.1 request heads rendered once per target when the path is static.

use crate::plan::{PlanError, Population, RequestSpec};
use crate::transport::Endpoint;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Bodies up to this size are held in memory; larger ones are streamed from a pattern.
pub const INLINE_BODY_MAX: u64 = 1 << 20;

/// A request body.
#[derive(Clone, Debug)]
pub struct Body {
    /// Length in bytes.
    pub len: u64,
    /// The bytes when `len <= INLINE_BODY_MAX` (or from a file); else `None` (pattern).
    pub inline: Option<Bytes>,
    /// Hex SHA-256 of the whole body.
    pub sha256: String,
}

impl Body {
    /// `len` bytes of the repeating pattern.
    pub fn pattern(len: u64) -> Body {
        let chunk = pattern_chunk();
        let mut h = Sha256::new();
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            h.update(&chunk[..n]);
            left -= n as u64;
        }
        let inline = (len <= INLINE_BODY_MAX).then(|| {
            let mut v = Vec::with_capacity(len as usize);
            while (v.len() as u64) < len {
                let n = ((len - v.len() as u64) as usize).min(chunk.len());
                v.extend_from_slice(&chunk[..n]);
            }
            Bytes::from(v)
        });
        Body {
            len,
            inline,
            sha256: hex::encode(h.finalize()),
        }
    }
}

/// 64 KiB of the body pattern (printable, so captures stay readable).
pub fn pattern_chunk() -> Bytes {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Bytes::from(
        (0..65536)
            .map(|i| alphabet[i % alphabet.len()])
            .collect::<Vec<u8>>(),
    )
}

#[derive(Clone, Debug)]
enum Part {
    Lit(String),
    Seq,
    Rand,
}

/// One entry of the mix, ready to send.
#[derive(Debug)]
pub struct Prepared {
    /// Method.
    pub method: http::Method,
    parts: Vec<Part>,
    /// Extra headers, validated.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Body, if any.
    pub body: Option<Body>,
    /// Whether to send `x-body-sha256`.
    pub checksum: bool,
    /// Pre-rendered HTTP/1.1 request (head + inline body) per endpoint, for static paths.
    static_h1: Vec<Bytes>,
}

impl Prepared {
    /// True for HEAD requests (responses have no body).
    pub fn is_head(&self) -> bool {
        self.method == http::Method::HEAD
    }

    /// The `Host` / `:authority` to send: the mix entry's own `Host` header when it has one
    /// (a remote target reached by address but named otherwise), else the target's authority.
    pub fn authority<'a>(&'a self, ep: &'a Endpoint) -> &'a str {
        self.headers
            .iter()
            .find(|(k, _)| k == http::header::HOST)
            .and_then(|(_, v)| v.to_str().ok())
            .unwrap_or(&ep.target.authority)
    }

    /// The path with `{seq}` / `{rand}` substituted, prefixed by the endpoint's base path.
    pub fn path(&self, ep: &Endpoint, seq: u64, rand: u64) -> String {
        let mut s = ep.target.base_path.clone();
        for p in &self.parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Seq => {
                    let _ = write!(s, "{seq}");
                }
                Part::Rand => {
                    let _ = write!(s, "{rand}");
                }
            }
        }
        s
    }

    /// The HTTP/1.1 request bytes (head, plus the body when inline and `with_body`).
    pub fn h1_bytes(
        &self,
        ep_index: usize,
        ep: &Endpoint,
        seq: u64,
        rand: u64,
        close: bool,
    ) -> Bytes {
        if let Some(b) = self.static_h1.get(ep_index * 2 + usize::from(close)) {
            return b.clone();
        }
        Bytes::from(self.render_h1(ep, &self.path(ep, seq, rand), close, true))
    }

    /// Renders an HTTP/1.1 request head (and inline body when `with_body`).
    pub fn render_h1(&self, ep: &Endpoint, path: &str, close: bool, with_body: bool) -> Vec<u8> {
        let mut s = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            self.method,
            path,
            self.authority(ep)
        );
        for (k, v) in self.headers.iter().filter(|(k, _)| k != http::header::HOST) {
            s.push_str(k.as_str());
            s.push_str(": ");
            s.push_str(v.to_str().unwrap_or(""));
            s.push_str("\r\n");
        }
        if let Some(b) = &self.body {
            let _ = write!(s, "Content-Length: {}\r\n", b.len);
            if self.checksum {
                let _ = write!(s, "x-body-sha256: {}\r\n", b.sha256);
            }
        }
        if close {
            s.push_str("Connection: close\r\n");
        }
        s.push_str("\r\n");
        let mut v = s.into_bytes();
        if with_body
            && let Some(Body {
                inline: Some(b), ..
            }) = &self.body
        {
            v.extend_from_slice(b);
        }
        v
    }

    /// An HTTP/2 request (`:scheme`, `:authority`, path, headers, checksum header).
    pub fn h2_request(
        &self,
        ep: &Endpoint,
        seq: u64,
        rand: u64,
    ) -> Result<http::Request<()>, http::Error> {
        let scheme = if ep.target.tls { "https" } else { "http" };
        let uri = format!(
            "{scheme}://{}{}",
            self.authority(ep),
            self.path(ep, seq, rand)
        );
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(uri);
        for (k, v) in self.headers.iter().filter(|(k, _)| k != http::header::HOST) {
            b = b.header(k, v);
        }
        if let Some(body) = &self.body {
            b = b.header(http::header::CONTENT_LENGTH, body.len);
            if self.checksum {
                b = b.header("x-body-sha256", body.sha256.as_str());
            }
        }
        b.body(())
    }

    /// True when the path has no `{seq}` / `{rand}`.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }
}

/// The weighted mix of a population.
#[derive(Debug)]
pub struct Mix {
    /// Entries in plan order.
    pub entries: Vec<Prepared>,
    cumulative: Vec<u64>,
}

impl Mix {
    /// Prepares `pop`'s request mix for `endpoints`; `body_override` replaces bodies
    /// (large uploads).
    pub fn prepare(
        pop: &Population,
        endpoints: &[Endpoint],
        body_override: Option<Body>,
    ) -> Result<Mix, PlanError> {
        let mut entries = Vec::new();
        let mut cumulative = Vec::new();
        let mut acc = 0u64;
        for spec in &pop.requests {
            let mut p = prepare_one(spec, body_override.clone())?;
            if p.is_static() {
                for ep in endpoints {
                    let path = p.path(ep, 0, 0);
                    for close in [false, true] {
                        let inline = p.body.as_ref().is_none_or(|b| b.inline.is_some());
                        p.static_h1
                            .push(Bytes::from(p.render_h1(ep, &path, close, inline)));
                    }
                }
                if p.body.as_ref().is_some_and(|b| b.inline.is_none()) {
                    p.static_h1.clear();
                }
            }
            acc += u64::from(spec.weight);
            cumulative.push(acc);
            entries.push(p);
        }
        Ok(Mix {
            entries,
            cumulative,
        })
    }

    /// Picks an entry; `r` is a uniform random u64.
    pub fn pick(&self, r: u64) -> &Prepared {
        if self.entries.len() == 1 {
            return &self.entries[0];
        }
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = r % total.max(1);
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.entries[i.min(self.entries.len() - 1)]
    }
}

fn prepare_one(spec: &RequestSpec, body_override: Option<Body>) -> Result<Prepared, PlanError> {
    let inv = |m: String| PlanError::Invalid(m);
    let method = http::Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| inv(format!("bad method {:?}", spec.method)))?;
    let mut headers = Vec::new();
    for (k, v) in &spec.headers {
        headers.push((
            http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| inv(format!("bad header {k:?}")))?,
            http::HeaderValue::from_str(v)
                .map_err(|_| inv(format!("bad header value for {k:?}")))?,
        ));
    }
    let body = match (body_override, spec.body_size, &spec.body_file) {
        (Some(b), _, _) => Some(b),
        (None, Some(n), _) => Some(Body::pattern(n)),
        (None, None, Some(f)) => {
            let bytes =
                std::fs::read(f).map_err(|e| inv(format!("body_file {}: {e}", f.display())))?;
            Some(Body {
                len: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
                inline: Some(Bytes::from(bytes)),
            })
        }
        (None, None, None) => None,
    };
    let mut parts = Vec::new();
    let mut rest = spec.path.as_str();
    while !rest.is_empty() {
        let next = [("{seq}", Part::Seq), ("{rand}", Part::Rand)]
            .into_iter()
            .filter_map(|(pat, part)| rest.find(pat).map(|i| (i, pat.len(), part)))
            .min_by_key(|(i, _, _)| *i);
        match next {
            Some((i, len, part)) => {
                if i > 0 {
                    parts.push(Part::Lit(rest[..i].to_string()));
                }
                parts.push(part);
                rest = &rest[i + len..];
            }
            None => {
                parts.push(Part::Lit(rest.to_string()));
                rest = "";
            }
        }
    }
    Ok(Prepared {
        method,
        parts,
        headers,
        body,
        checksum: spec.body_checksum,
        static_h1: Vec::new(),
    })
}
