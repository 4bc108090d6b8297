//! `proxy_buffering` with a slow client, nginx vs ours, against the fake upstream: with
//! buffering on, the proxy reads the whole (large) response into memory and a temp file and
//! releases the upstream connection while the client has not read anything; with
//! `proxy_buffering off` the upstream connection stays busy until the client reads.

mod common;

use common::{both, get, wait_until};
use proxylab_testkit::FakeUpstream;
use std::io::{Read, Write};
use std::time::Duration;

fn open_connections(f: &FakeUpstream) -> i64 {
    let r = get(f.admin_addr().expect("admin"), "/counters");
    let text = String::from_utf8_lossy(&r.body).to_string();
    let i = text.find("\"connections\":").expect("connections counter");
    text[i + 14..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect::<String>()
        .parse()
        .expect("number")
}

const SIZE: usize = 24 << 20;

#[test]
fn slow_client_holds_upstream_only_without_buffering() {
    let f = FakeUpstream::start(&["--admin-port", "0"]);
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}};\n\
           location /on/ {{ proxy_pass http://{0}/; }}\n\
           location /off/ {{ proxy_pass http://{0}/; proxy_buffering off; }} }}",
        f.addr()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for addr in [nginx.addr(), ours.addr()] {
        let mut row = Vec::new();
        for mode in ["on", "off"] {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            write!(
                s,
                "GET /{mode}/bytes/{SIZE} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            .expect("write");
            // The client reads nothing for a while.
            let released = wait_until(Duration::from_secs(6), || open_connections(&f) == 0);
            row.push(released);
            let mut all = Vec::new();
            s.read_to_end(&mut all).expect("read");
            let head_end = all
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |i| i + 4);
            row.push(all.len() - head_end == SIZE);
            assert!(wait_until(Duration::from_secs(10), || open_connections(&f) == 0));
        }
        seen.push(row);
    }
    assert_eq!(
        seen[0], seen[1],
        "nginx vs ours: [on released, on complete, off released, off complete]"
    );
    assert_eq!(seen[1], vec![true, true, false, true]);
}
