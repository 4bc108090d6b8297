//! HTTP/1.x pieces written for nginx fidelity: request head parsing and limits ([`head`],
//! with nginx's grammar for the request line ([`reqline`]) and header lines ([`hline`])),
//! chunked coding ([`chunked`]), request bodies without a length over either protocol
//! ([`body`]), URI normalization ([`uri`]), status lines and error pages
//! ([`status`]), why a request head is refused ([`reject`]), discarded bodies and lingering close ([`linger`]), upstream response heads
//! ([`response`]).

pub mod body;
pub mod chunked;
pub mod head;
pub mod hline;
pub mod linger;
pub mod reject;
pub mod reqline;
pub mod response;
pub mod status;
pub mod uri;
