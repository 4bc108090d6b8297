//! HTTP/1.1 on the wire as uvicorn speaks it: request parsing and byte-exact responses.

pub mod reason;
pub mod request;
pub mod response;
