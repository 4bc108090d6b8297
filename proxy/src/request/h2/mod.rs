//! HTTP/2 framing of one request stream: [`io::H2Io`] presents the stream to the request
//! layer as the byte stream of an HTTP/1.1 connection carrying one request (the head
//! conversions in [`head`], response payloads in [`chunk`]). The connection itself (the
//! `h2` crate's server and the stream scheduler) is driven by the `server` layer.

pub mod chunk;
pub mod head;
pub mod io;
