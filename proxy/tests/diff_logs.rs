//! Logs through both proxies: the combined access-log line (time masked), `access_log off`
//! per location, a `log_format` with upstream variables, and the error-log message of a
//! refused upstream connection (timestamp, pid and connection number masked). Also runs our
//! proxy with `worker_processes 2`.

mod common;

use common::{Ours, both, get, log_lines, request, wait_until};
use std::time::Duration;

fn mask_time(l: &str) -> String {
    match (l.find('['), l.find(']')) {
        (Some(a), Some(b)) if a < b => format!("{}[TIME]{}", &l[..a], &l[b + 1..]),
        _ => l.to_string(),
    }
}

fn error_messages(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("[error]"))
        .filter_map(|l| l.split_once(": *").map(|(_, rest)| rest))
        .map(|rest| rest.split_once(' ').map_or(rest, |(_, m)| m).to_string())
        .collect()
}

#[test]
fn access_and_error_logs_match_nginx() {
    let dead = proxylab_testkit::free_port();
    let http = format!(
        "log_format up '$remote_addr $status $body_bytes_sent \"$request\" $upstream_addr $upstream_status \"$http_user_agent\" $request_length';\n\
         server {{ listen 127.0.0.1:{{PORT}}; server_name example.com;\n\
           access_log {{DIR}}/combined.log;\n\
           location / {{ return 200 \"hello\"; }}\n\
           location /quiet {{ access_log off; return 200; }}\n\
           location /up/ {{ access_log {{DIR}}/up.log up; proxy_pass http://127.0.0.1:{dead}; }} }}"
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut runs = Vec::new();
    for (addr, dir, errlog) in [
        (
            nginx.addr(),
            nginx.dir().to_path_buf(),
            Box::new(|| nginx.error_log()) as Box<dyn Fn() -> String>,
        ),
        (
            ours.addr(),
            ours.dir().to_path_buf(),
            Box::new(|| ours.error_log()),
        ),
    ] {
        request(
            addr,
            "GET",
            "/a?b=c",
            "User-Agent: t/1.0\r\nReferer: http://r/\r\n",
            b"",
        );
        request(addr, "GET", "/quiet", "", b"");
        request(addr, "POST", "/x", "User-Agent: \"quoted\" ü\r\n", b"body");
        request(addr, "GET", "/up/z", "User-Agent: u\r\n", b"");
        let combined = log_lines(
            || std::fs::read_to_string(dir.join("combined.log")).unwrap_or_default(),
            2,
        );
        let up = log_lines(
            || std::fs::read_to_string(dir.join("up.log")).unwrap_or_default(),
            1,
        );
        wait_until(Duration::from_secs(5), || {
            !error_messages(&errlog()).is_empty()
        });
        runs.push((
            combined.iter().map(|l| mask_time(l)).collect::<Vec<_>>(),
            up,
            error_messages(&errlog()),
        ));
    }
    let fix = |v: &Vec<String>, port: u16| {
        v.iter()
            .map(|s| s.replace(&port.to_string(), "PORT"))
            .collect::<Vec<_>>()
    };
    assert_eq!(runs[0].0, runs[1].0, "combined access log");
    assert_eq!(runs[0].1, runs[1].1, "log_format with upstream variables");
    assert_eq!(
        fix(&runs[0].2, nginx.port()),
        fix(&runs[1].2, ours.addr().port()),
        "error log messages"
    );
    assert_eq!(
        runs[1].0.len(),
        2,
        "access_log off in /quiet: {:?}",
        runs[1].0
    );
}

#[test]
fn several_worker_threads_serve() {
    let c = common::conf("server { listen 127.0.0.1:{PORT}; return 200 \"w\"; }")
        .replace("worker_processes 1;", "worker_processes 2;");
    let ours = Ours::start_full(&c);
    let addr = ours.addr();
    let handles: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || (0..20).all(|_| get(addr, "/").body == b"w")))
        .collect();
    for h in handles {
        assert!(h.join().expect("thread"));
    }
    let threads = std::fs::read_dir(format!("/proc/{}/task", ours.proc.pid()))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(threads >= 3, "main thread + 2 workers, found {threads}");
}
