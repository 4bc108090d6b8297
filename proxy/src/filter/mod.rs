//! Response body filters, between the content handlers (proxy_pass, static files, error pages,
//! `return`) and the client: [`gzip`] decides as nginx's gzip header filter and
//! `ngx_http_gzip_ok` do whether a response is compressed and what its head becomes, and
//! [`deflate`] compresses into nginx's gzip framing with [`zlib`] (the C zlib nginx links, with
//! nginx's parameters: the same bytes). Depends only on `conf` and `http`, so every handler
//! (and the request layer's own answers) can use it.

pub mod deflate;
pub mod gzip;
pub mod zlib;
