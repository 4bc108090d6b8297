//! HTTP/2 framing of one request stream: [`session::H2Stream`] is the stream as a client
//! session (the request head stored once, the body read as DATA payloads, the response head
//! sent as HEADERS from the pipeline's structured head, body bytes as DATA frames), with the
//! head conversions in [`head`] and response payloads in [`chunk`]. The connection itself
//! (the `h2` crate's server and the stream scheduler) is driven by the `server` layer.

pub mod chunk;
pub mod head;
pub mod session;
