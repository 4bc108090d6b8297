//! Transport: connecting (TCP, TLS), HTTP/1.1 and HTTP/2 exchanges, error classification.

mod connect;
mod error;
pub mod h1;
pub mod h2attack;
pub mod h2conn;
pub mod h2raw;
mod stream;
pub mod tls;

pub use connect::{Connector, Endpoint, resolve};
pub use error::ErrorKind;
pub use stream::Stream;
