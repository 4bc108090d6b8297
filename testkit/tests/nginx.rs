//! testkit's own check: real nginx starts on a free port and answers; it is gone after drop.

use proxylab_testkit::{Nginx, raw_exchange};
use std::time::Duration;

#[test]
fn nginx_starts_answers_and_is_killed_on_drop() {
    let Some(nginx) =
        Nginx::start("server { listen 127.0.0.1:{PORT}; location / { return 200 \"hi\\n\"; } }")
    else {
        return;
    };
    let resp = raw_exchange(
        nginx.addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .expect("exchange");
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhi\n"), "{text}");
    let pid = nginx.proc().pid();
    drop(nginx);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "nginx master {pid} still running after drop"
    );
}
