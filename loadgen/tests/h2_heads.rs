//! HTTP/2 request heads whose field order or duplicate Host nginx 1.22 treats specially, sent
//! frame by frame (h2c) to nginx and to ours with the same config: two servers on one
//! address, the default one (`a.test`) with `merge_slashes on`, `b.test` with it off and
//! `underscores_in_headers on`, each answering `return 200 "NAME $uri"` (and `NAME
//! u=$http_x_u` on `/u`). nginx handles the fields of a header block in the order they come:
//! `:authority` (a Host header to it) selects the server at once; `:path` is normalised with
//! the `merge_slashes` of the server selected at that moment, and each regular field is
//! checked with that server's `underscores_in_headers`; a `host` field beside `:authority` is
//! a second Host (400); regular fields before pseudo-header fields are accepted. Each case's answer (the body's first line or an error
//! page's title, or the RST_STREAM code) must be nginx's, or, for a difference listed with
//! its reason in docs/hardening.md, the listed one: a listed difference that disappears fails
//! too, so the list stays true.

mod proxies;

use proxies::h2wire;
use proxies::start_ours;
use proxylab_loadgen::transport::h2raw::{self, END_HEADERS, END_STREAM, kind};
use proxylab_testkit::Nginx;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

fn conf() -> String {
    let user = if proxies::proc_uid() == 0 {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes 1;\npid {{DIR}}/nginx.pid;\nerror_log {{DIR}}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {{DIR}}/cb;\n  proxy_temp_path {{DIR}}/pt;\n  \
         server {{ listen 127.0.0.1:{{PORT}} http2; server_name a.test; merge_slashes on;\n    \
           location / {{ return 200 \"a $uri\\n\"; }}\n    \
           location /u {{ return 200 \"a u=$http_x_u\\n\"; }} }}\n  \
         server {{ listen 127.0.0.1:{{PORT}} http2; server_name b.test; merge_slashes off;\n    \
           underscores_in_headers on;\n    \
           location / {{ return 200 \"b $uri\\n\"; }}\n    \
           location /u {{ return 200 \"b u=$http_x_u\\n\"; }} }}\n}}\n"
    )
}

/// A header block of GET with `fields` in this order after `:method` and `:scheme`.
fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    h2raw::indexed(&mut b, 2); // :method GET
    h2raw::indexed(&mut b, 6); // :scheme http
    for (n, v) in fields {
        h2raw::literal(&mut b, n.as_bytes(), v.as_bytes());
    }
    b
}

/// What the server answered to `block` on stream 1 of a new connection.
fn answer(addr: SocketAddr, block: &[u8]) -> String {
    let mut s = h2wire::open(addr);
    let mut f = Vec::new();
    h2raw::frame(&mut f, kind::HEADERS, END_HEADERS | END_STREAM, 1, block);
    s.write_all(&f).expect("write");
    let mut body = Vec::new();
    let got = h2wire::read_until(
        &mut s,
        Duration::from_secs(5),
        |(k, flags, stream, p)| match *k {
            kind::DATA if *stream == 1 => {
                body.extend_from_slice(p);
                (flags & END_STREAM != 0).then(|| summary(&body))
            }
            kind::HEADERS if *stream == 1 && flags & END_STREAM != 0 => Some("no body".into()),
            kind::RST_STREAM if *stream == 1 => Some(format!("RST_STREAM {:?}", p)),
            kind::GOAWAY => Some(format!("GOAWAY {:?}", h2wire::goaway(p))),
            _ => None,
        },
    );
    got.unwrap_or_else(|| "no answer".into())
}

/// The body's first line, or an error page's title.
fn summary(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Some(t) = text
        .split_once("<title>")
        .and_then(|(_, r)| r.split_once("</title>"))
    {
        return t.0.to_string();
    }
    text.lines().next().unwrap_or("").to_string()
}

/// One case: its fields after `:method` and `:scheme`, nginx's answer, and ours when it is a
/// listed difference.
struct Case {
    name: &'static str,
    fields: &'static [(&'static str, &'static str)],
    nginx: &'static str,
    ours: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "path-then-authority",
        fields: &[(":path", "//x//y"), (":authority", "b.test")],
        nginx: "b /x/y",
        ours: None,
    },
    Case {
        // Listed: the `h2` crate gives the pseudo-header fields without their order, so ours
        // always normalises with the connection's server (docs/hardening.md).
        name: "authority-then-path",
        fields: &[(":authority", "b.test"), (":path", "//x//y")],
        nginx: "b //x//y",
        ours: Some("b /x/y"),
    },
    Case {
        name: "authority-then-path-same-server",
        fields: &[(":authority", "a.test"), (":path", "//x//y")],
        nginx: "a /x/y",
        ours: None,
    },
    Case {
        name: "authority-and-host",
        fields: &[(":path", "/"), (":authority", "a.test"), ("host", "b.test")],
        nginx: "400 Bad Request",
        ours: None,
    },
    Case {
        name: "host-without-authority",
        fields: &[(":path", "//p"), ("host", "b.test")],
        nginx: "b /p",
        ours: None,
    },
    Case {
        name: "underscore-named-server-allows",
        fields: &[(":path", "/u"), (":authority", "b.test"), ("x_u", "1")],
        nginx: "b u=1",
        ours: None,
    },
    Case {
        name: "underscore-default-server-drops",
        fields: &[(":path", "/u"), (":authority", "a.test"), ("x_u", "1")],
        nginx: "a u=",
        ours: None,
    },
    Case {
        name: "underscore-after-host-field",
        fields: &[(":path", "/u"), ("host", "b.test"), ("x_u", "1")],
        nginx: "b u=1",
        ours: None,
    },
    Case {
        name: "no-host",
        fields: &[(":path", "/")],
        nginx: "400 Bad Request",
        ours: None,
    },
    Case {
        // Listed: the `h2` crate refuses a regular field before a pseudo-header field
        // (RFC 9113 8.3: malformed), nginx 1.22 takes it (docs/hardening.md).
        name: "regular-before-pseudo",
        fields: &[("x-a", "1"), (":path", "/"), (":authority", "a.test")],
        nginx: "a /",
        ours: Some("RST_STREAM [0, 0, 0, 1]"),
    },
];

#[test]
fn http2_field_order_and_duplicate_host_as_nginx_or_listed() {
    let Some(nginx) = Nginx::start_full(&conf()) else {
        return;
    };
    let (_ours, _dir, oaddr) = start_ours(&conf());
    let mut failures = Vec::new();
    for c in CASES {
        let b = block(c.fields);
        let theirs = answer(nginx.addr(), &b);
        let ours = answer(oaddr, &b);
        println!("{:<32} nginx {theirs:<20} ours {ours}", c.name);
        if theirs != c.nginx {
            failures.push(format!("{}: nginx {theirs}, expected {}", c.name, c.nginx));
        }
        let want = c.ours.unwrap_or(c.nginx);
        if ours != want {
            failures.push(format!("{}: ours {ours}, expected {want}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
