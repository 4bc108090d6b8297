//! Turns upstream body bytes into client body bytes: Content-Length, chunked (decoded and
//! re-chunked for HTTP/1.1 clients) or close-delimited framing, with nginx's error wording;
//! the body filter (gzip) sits between the decoded body and the client framing.

use crate::filter::deflate::GzipEncoder;
use crate::http::chunked::{Decoder, encode_chunk};
use crate::request::error::{Cause, Error, Stage};

/// The upstream's body breaks its framing: `upstream sent WHAT while reading upstream`.
fn invalid(what: &'static str) -> Error {
    Error::at(Stage::ReadingUpstream, Cause::InvalidBody(what))
}

/// How the upstream delimits its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Content-Length.
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
    /// Until the upstream closes.
    Close,
}

/// Body conversion state.
#[derive(Debug)]
pub struct Framer {
    framing: Framing,
    remaining: u64,
    dec: Decoder,
    client_chunked: bool,
    decoded: Vec<u8>,
    /// The whole upstream body was seen.
    pub complete: bool,
    /// Body bytes (decoded) seen so far.
    pub body: u64,
    /// The gzip filter, and whether each upstream read is flushed to the client.
    gzip: Option<(Box<GzipEncoder>, bool)>,
    /// The gzip stream's counts once it ended (`$gzip_ratio`).
    pub gzip_counts: Option<(u64, u64)>,
    /// Compressed bytes of the current piece.
    zbuf: Vec<u8>,
}

impl Framer {
    /// A framer for `framing`; `client_chunked` re-encodes the body as chunks.
    pub fn new(framing: Framing, client_chunked: bool) -> Framer {
        Framer {
            framing,
            remaining: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            dec: Decoder::new(0),
            client_chunked,
            decoded: Vec::new(),
            complete: matches!(framing, Framing::None | Framing::Length(0)),
            body: 0,
            gzip: None,
            gzip_counts: None,
            zbuf: Vec::new(),
        }
    }

    /// Gzips the body on its way (`flush_each`: every upstream read goes out at once, as
    /// nginx flushes unbuffered upstream data). Not for an empty body.
    pub fn gzip(mut self, enc: GzipEncoder, flush_each: bool) -> Framer {
        self.gzip = Some((Box::new(enc), flush_each));
        self
    }

    /// Decoded body bytes → client bytes (through the gzip filter when on).
    fn emit(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.body += data.len() as u64;
        if let Some((enc, flush)) = &mut self.gzip {
            let mut z = std::mem::take(&mut self.zbuf);
            z.clear();
            enc.write(data, *flush, &mut z);
            self.put(&z, out);
            self.zbuf = z;
        } else {
            self.put(data, out);
        }
    }

    fn put(&self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if self.client_chunked {
            encode_chunk(data, out);
        } else {
            out.extend_from_slice(data);
        }
    }

    /// The body is complete: the gzip trailer, then the last chunk for a chunked client.
    fn end(&mut self, out: &mut Vec<u8>) {
        if let Some((mut enc, _)) = self.gzip.take() {
            let mut z = Vec::with_capacity(64);
            enc.finish(&mut z);
            self.gzip_counts = Some(enc.counts());
            self.put(&z, out);
        }
        if self.client_chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }

    /// Converts `data` read from the upstream, appending client bytes to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        match self.framing {
            Framing::None => {
                self.complete = true;
                Ok(())
            }
            Framing::Length(_) => {
                let n = (self.remaining as usize).min(data.len());
                if self.gzip.is_some() {
                    self.emit(&data[..n], out);
                } else {
                    out.extend_from_slice(&data[..n]);
                    self.body += n as u64;
                }
                self.remaining -= n as u64;
                self.complete = self.remaining == 0;
                // an empty body still gets its (empty) gzip stream, once
                if self.complete && (n > 0 || self.gzip.is_some()) {
                    self.end(out);
                }
                if n < data.len() {
                    return Err(invalid(
                        "more data than specified in \"Content-Length\" header",
                    ));
                }
                Ok(())
            }
            Framing::Chunked => {
                let mut decoded = std::mem::take(&mut self.decoded);
                decoded.clear();
                let r = self.dec.decode(data, &mut decoded);
                self.emit(&decoded, out);
                self.decoded = decoded;
                let was = self.complete;
                self.complete = self.dec.done();
                if self.complete && !was {
                    self.end(out);
                }
                match r {
                    Ok(used) if used < data.len() => Err(invalid("data after final chunk")),
                    Ok(_) => Ok(()),
                    Err(_) => Err(invalid("invalid chunked response")),
                }
            }
            Framing::Close => {
                self.emit(data, out);
                Ok(())
            }
        }
    }

    /// The upstream closed: fine for close-delimited bodies (the final chunk is appended for
    /// chunked clients), an error otherwise.
    pub fn eof(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.framing == Framing::Close {
            self.complete = true;
            self.end(out);
            return Ok(());
        }
        if self.complete {
            return Ok(());
        }
        Err(Error::at(Stage::ReadingUpstream, Cause::Closed))
    }
}
