//! Differential tests of uvicorn's limits and connection handling (`--limit-concurrency`,
//! `--limit-max-requests`, `--timeout-keep-alive`, `--backlog`): the same checks run against the
//! fake and against real uvicorn serving `tests/fastapi_app/app.py` with the same flags.
//! Timing tolerances are generous (2 shared cores); the point is the shape.

mod common;

use common::*;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

#[test]
fn limit_concurrency_sends_uvicorns_exact_503_and_closes() {
    both(&Opts::args(&["--limit-concurrency", "3"]), |s| {
        // 1 idle connection + the request's own = 2 < 3 → served, kept alive.
        let _idle1 = s.connect();
        let mut c = s.connect();
        send(&mut c, &get("/"));
        let r = read_response(&mut c, T).expect("200 with one idle connection");
        assert_eq!(r.status, 200, "{:?}", s.flavor);
        // 2 idle connections + the request's own = 3 ≥ 3 → 503, byte-exact, then FIN.
        let _idle2 = s.connect();
        let mut c3 = s.connect();
        send(&mut c3, &get("/"));
        let r = read_response(&mut c3, T).expect("503");
        assert_eq!(
            r.raw_without_date(),
            "HTTP/1.1 503 Service Unavailable\r\ndate: X\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 19\r\nconnection: close\r\n\r\nService Unavailable",
            "{:?}",
            s.flavor
        );
        assert_eq!(
            wait_end(&mut c3, Duration::from_secs(3)).0,
            End::Eof(0),
            "{:?}: 503 then FIN",
            s.flavor
        );
    });
}

#[test]
fn limit_concurrency_counts_in_flight_requests() {
    both(&Opts::args(&["--limit-concurrency", "3"]), |s| {
        let mut slow: Vec<TcpStream> = (0..2).map(|_| s.connect()).collect();
        for c in &mut slow {
            send(c, &get("/sleep?ms=1500"));
        }
        thread::sleep(Duration::from_millis(300)); // let both requests start
        let mut c = s.connect();
        send(&mut c, &get("/"));
        assert_eq!(
            read_response(&mut c, T).expect("503").status,
            503,
            "{:?}",
            s.flavor
        );
        for c in &mut slow {
            assert_eq!(
                read_response(c, T).expect("slow").status,
                200,
                "{:?}",
                s.flavor
            );
        }
    });
}

#[test]
fn keep_alive_closes_idle_connection_with_fin_after_timeout_only_after_a_request() {
    both(&Opts::args(&["--timeout-keep-alive", "1"]), |s| {
        let mut fresh = s.connect(); // never sends a byte: never timed out
        let mut c = s.connect();
        send(&mut c, &get("/"));
        read_response(&mut c, T).expect("response");
        let (end, after) = wait_end(&mut c, Duration::from_secs(5));
        assert_eq!(end, End::Eof(0), "{:?}: FIN with no bytes", s.flavor);
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_millis(1800),
            "{:?}: closed after {after:?}",
            s.flavor
        );
        let (end, _) = wait_end(&mut fresh, Duration::from_millis(1200));
        assert_eq!(
            end,
            End::Open,
            "{:?}: a connection without a request stays open",
            s.flavor
        );
    });
}

/// Sends sequential fresh-connection requests and returns (statuses, refused connects).
fn hammer(s: &Server, n: usize) -> (Vec<u16>, usize) {
    let mut statuses = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        // Pace the client (≈30 req/s) so that each 0.1 s max-requests tick sees few requests
        // and every worker reaches its limit, whatever the kernel's load split.
        thread::sleep(Duration::from_millis(30));
        match fetch(s.addr, "/", Duration::from_secs(15)) {
            Ok(r) => statuses.push(r.status),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => refused += 1,
            Err(_) => statuses.push(0), // reset/EOF on a connection the exiting worker dropped
        }
    }
    (statuses, refused)
}

#[test]
fn limit_max_requests_single_process_closes_the_port_for_good() {
    both(&Opts::args(&["--limit-max-requests", "5"]), |s| {
        for _ in 0..5 {
            assert_eq!(
                fetch(s.addr, "/", T).expect("served").status,
                200,
                "{:?}",
                s.flavor
            );
        }
        // Checked on the 0.1 s tick, then the listener closes: ECONNREFUSED, nothing restarts.
        let deadline = Instant::now() + Duration::from_secs(5);
        let refused = loop {
            match TcpStream::connect_timeout(&s.addr, Duration::from_secs(1)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break true,
                _ if Instant::now() > deadline => break false,
                _ => thread::sleep(Duration::from_millis(50)),
            }
        };
        assert!(refused, "{:?}: port still open after the limit", s.flavor);
        thread::sleep(Duration::from_millis(700));
        assert!(
            TcpStream::connect_timeout(&s.addr, Duration::from_secs(1)).is_err(),
            "{:?}: restarted?",
            s.flavor
        );
    });
}

#[test]
fn limit_max_requests_two_workers_are_replaced_and_the_port_stays_open() {
    let mut opts = Opts::args(&[
        "--limit-max-requests",
        "4",
        "--timeout-worker-healthcheck",
        "1",
    ]);
    opts.workers = 2;
    both(&opts, |s| {
        let started = Instant::now();
        let (statuses, refused) = hammer(s, 24);
        assert_eq!(
            refused, 0,
            "{:?}: the shared socket must stay open",
            s.flavor
        );
        let ok = statuses.iter().filter(|&&c| c == 200).count();
        assert!(
            ok >= 20,
            "{:?}: only {ok}/24 served: {statuses:?}",
            s.flavor
        );
        // Both workers exited at least once and were replaced (24 > 2 × 4 + overshoot).
        let deadline = Instant::now() + Duration::from_secs(15);
        while s.proc.stderr_log().matches("died").count() < 2 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        let log = s.proc.stderr_log();
        assert!(
            log.matches("died").count() >= 2,
            "{:?}: workers not replaced:\n{log}",
            s.flavor
        );
        eprintln!("{:?}: 24 requests in {:?}", s.flavor, started.elapsed());
    });
}

#[test]
fn backlog_bounds_the_connections_completed_while_the_worker_is_blocked() {
    both(&Opts::args(&["--backlog", "4"]), |s| {
        let mut busy = s.connect();
        send(&mut busy, &get("/block?ms=2500"));
        thread::sleep(Duration::from_millis(400));
        let addr = s.addr;
        let quick = (0..15)
            .map(|_| {
                thread::spawn(move || {
                    TcpStream::connect_timeout(&addr, Duration::from_millis(600)).ok()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|h| h.join().expect("connector"))
            .collect::<Vec<_>>();
        // The kernel completes backlog + 1 handshakes into the accept queue; further SYNs are
        // dropped (the client retries after 1 s), not refused.
        assert!(
            (3..=8).contains(&quick.len()),
            "{:?}: {} of 15 connected at once",
            s.flavor,
            quick.len()
        );
        assert_eq!(
            read_response(&mut busy, T).expect("blocked request").status,
            200,
            "{:?}",
            s.flavor
        );
    });
}

#[test]
fn a_client_that_leaves_frees_its_connection_slot_at_once() {
    both(&Opts::args(&["--limit-concurrency", "3"]), |s| {
        // Two requests in flight on connections whose clients then go away: the tasks still
        // run, but the connections leave the count.
        for _ in 0..2 {
            let mut c = s.connect();
            send(&mut c, &get("/sleep?ms=1500"));
            thread::sleep(Duration::from_millis(100));
            drop(c);
        }
        thread::sleep(Duration::from_millis(300));
        // 2 tasks + 1 connection < 3: served.
        assert_eq!(
            fetch(s.addr, "/", T).expect("served").status,
            200,
            "{:?}",
            s.flavor
        );
        // A third in-flight task makes tasks = 3 ≥ 3 → 503 even with one connection.
        let mut c = s.connect();
        send(&mut c, &get("/sleep?ms=1000"));
        thread::sleep(Duration::from_millis(200));
        drop(c);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(
            fetch(s.addr, "/", T).expect("refused").status,
            503,
            "{:?}",
            s.flavor
        );
    });
}

#[test]
fn limit_max_requests_lets_in_flight_finish_with_connection_close_and_closes_idle() {
    both(&Opts::args(&["--limit-max-requests", "2"]), |s| {
        let mut slow = s.connect();
        send(&mut slow, &get("/sleep?ms=1500"));
        thread::sleep(Duration::from_millis(200));
        let mut quick = s.connect();
        for _ in 0..2 {
            send(&mut quick, &get("/"));
            assert_eq!(
                read_response(&mut quick, T).expect("quick").status,
                200,
                "{:?}",
                s.flavor
            );
        }
        // The next 0.1 s tick sees 2 responses: idle keep-alive connections close at once...
        let (end, after) = wait_end(&mut quick, Duration::from_secs(3));
        assert_eq!(end, End::Eof(0), "{:?}", s.flavor);
        assert!(
            after < Duration::from_millis(800),
            "{:?}: idle closed after {after:?}",
            s.flavor
        );
        // ...and the in-flight request completes, marked `connection: close`.
        let r = read_response(&mut slow, T).expect("in-flight");
        assert_eq!(
            (r.status, r.header("connection")),
            (200, Some("close")),
            "{:?}",
            s.flavor
        );
        assert_eq!(
            wait_end(&mut slow, Duration::from_secs(3)).0,
            End::Eof(0),
            "{:?}",
            s.flavor
        );
    });
}
