//! Response body filters, between the content handlers (proxy_pass, static files, error pages,
//! `return`) and the client: [`gzip`] decides as nginx's gzip header filter and
//! `ngx_http_gzip_ok` do whether a response is compressed and what its head becomes, and
//! [`deflate`] compresses (flate2, zlib-rs backend) into nginx's gzip framing. Depends only on
//! `conf` and `http`, so every handler (and the request layer's own answers) can use it.

pub mod deflate;
pub mod gzip;
