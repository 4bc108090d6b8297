//! Differential tests of the app side (wire format, pipelining, blocking vs threadpool vs async,
//! QueuePool exhaustion, SIGTERM drain, graceful-shutdown timeout): the same checks run against
//! the fake and against real uvicorn serving `tests/fastapi_app/app.py` with the same flags.
//! Timing tolerances are generous (2 shared cores); the point is the shape.

mod common;

use common::*;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

#[test]
fn pipelined_requests_are_answered_in_order() {
    both(&Opts::default(), |s| {
        let mut c = s.connect();
        send(
            &mut c,
            &format!(
                "{}{}{}",
                get("/sleep?ms=200"),
                get("/bytes/5"),
                get("/health")
            ),
        );
        let a = read_response(&mut c, T).expect("1st");
        let b = read_response(&mut c, T).expect("2nd");
        let h = read_response(&mut c, T).expect("3rd");
        assert_eq!(a.body, b"{\"slept_ms\":200}", "{:?}", s.flavor);
        assert_eq!(b.body, [0, 1, 2, 3, 4], "{:?}", s.flavor);
        assert_eq!(h.body, b"{\"status\":\"ok\"}", "{:?}", s.flavor);
    });
}

#[test]
fn wire_format_matches_for_default_routes() {
    let mut seen: Vec<Vec<String>> = Vec::new();
    both(&Opts::default(), |s| {
        let mut out = Vec::new();
        for req in [
            get("/"),
            get("/bytes/300"),
            get("/nope"),
            get("/sleep?ms=abc"),
            get("/status/204"),
            get_close("/status/418"),
            "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n".to_string(),
            "POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_string(),
        ] {
            let mut c = s.connect();
            send(&mut c, &req);
            out.push(read_response(&mut c, T).expect("response").raw_without_date());
        }
        let mut c = s.connect();
        send(&mut c, "GET / HTTP/1.1\r\nhost: t\r\nbad header\r\n\r\n");
        out.push(read_response(&mut c, T).expect("400").raw_without_date());
        assert_eq!(
            wait_end(&mut c, Duration::from_secs(3)).0,
            End::Eof(0),
            "{:?}: 400 then FIN",
            s.flavor
        );
        seen.push(out);
    });
    if let [fake, real] = seen.as_slice() {
        for (f, r) in fake.iter().zip(real) {
            assert_eq!(f, r);
        }
    }
}

/// Latency of `GET /` sent 150 ms after `path` started on another connection.
fn probe_during(s: &Server, path: &str) -> Duration {
    let mut busy = s.connect();
    send(&mut busy, &get(path));
    thread::sleep(Duration::from_millis(150));
    let t = Instant::now();
    let r = fetch(s.addr, "/", T).expect("probe");
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(read_response(&mut busy, T).expect("busy").status, 200);
    took
}

#[test]
fn blocking_stalls_the_worker_but_async_and_threadpool_do_not() {
    both(&Opts::default(), |s| {
        let blocked = probe_during(s, "/block?ms=1200");
        let slept = probe_during(s, "/sleep?ms=1200");
        let threaded = probe_during(s, "/thread?ms=1200");
        assert!(
            blocked >= Duration::from_millis(800),
            "{:?}: probe behind /block took {blocked:?}",
            s.flavor
        );
        assert!(
            slept < Duration::from_millis(500),
            "{:?}: probe behind /sleep took {slept:?}",
            s.flavor
        );
        assert!(
            threaded < Duration::from_millis(500),
            "{:?}: probe behind /thread took {threaded:?}",
            s.flavor
        );
    });
}

#[test]
fn threadpool_has_40_slots() {
    both(&Opts::default(), |s| {
        let t = Instant::now();
        let mut conns: Vec<TcpStream> = (0..44).map(|_| s.connect()).collect();
        for c in &mut conns {
            send(c, &get("/thread?ms=1000"));
        }
        // One reader per connection: completion order need not match connection order.
        let mut done: Vec<Duration> = conns
            .into_iter()
            .map(|mut c| {
                thread::spawn(move || {
                    read_response(&mut c, T).expect("thread response");
                    t.elapsed()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("reader"))
            .collect();
        done.sort();
        assert!(
            done[39] < Duration::from_millis(1800),
            "{:?}: 40th finished at {:?}",
            s.flavor,
            done[39]
        );
        assert!(
            done[43] >= Duration::from_millis(1900),
            "{:?}: 44th finished at {:?}",
            s.flavor,
            done[43]
        );
    });
}

#[test]
fn exhausted_db_pool_answers_fastapis_500_after_pool_timeout_then_closes() {
    let opts = Opts {
        pool: Some((2, 0, 1.0)),
        ..Opts::default()
    };
    both(&opts, |s| {
        let mut holders: Vec<TcpStream> = (0..2).map(|_| s.connect()).collect();
        for c in &mut holders {
            send(c, &get("/db?ms=3000"));
        }
        thread::sleep(Duration::from_millis(300));
        let mut c = s.connect();
        let t = Instant::now();
        send(&mut c, &get("/db?ms=0"));
        let r = read_response(&mut c, T).expect("500");
        let took = t.elapsed();
        assert_eq!(
            r.raw_without_date(),
            "HTTP/1.1 500 Internal Server Error\r\ndate: X\r\nserver: uvicorn\r\ncontent-length: 21\r\ncontent-type: text/plain; charset=utf-8\r\n\r\nInternal Server Error",
            "{:?}",
            s.flavor
        );
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{:?}: 500 after {took:?}",
            s.flavor
        );
        assert_eq!(
            wait_end(&mut c, Duration::from_secs(3)).0,
            End::Eof(0),
            "{:?}: FIN after the 500",
            s.flavor
        );
        for h in &mut holders {
            assert_eq!(
                read_response(h, T).expect("holder").status,
                200,
                "{:?}",
                s.flavor
            );
        }
    });
}

#[test]
fn sigterm_drains_in_flight_requests_with_connection_close() {
    both(&Opts::default(), |s| {
        let mut idle = s.connect();
        send(&mut idle, &get("/"));
        read_response(&mut idle, T).expect("first");
        let mut busy = s.connect();
        send(&mut busy, &get("/sleep?ms=1500"));
        thread::sleep(Duration::from_millis(300));
        s.proc.signal(libc::SIGTERM);
        let (end, after) = wait_end(&mut idle, Duration::from_secs(2));
        assert_eq!(
            end,
            End::Eof(0),
            "{:?}: idle keep-alive connection closed",
            s.flavor
        );
        assert!(
            after < Duration::from_millis(800),
            "{:?}: idle closed after {after:?}",
            s.flavor
        );
        thread::sleep(Duration::from_millis(100));
        let refused = TcpStream::connect_timeout(&s.addr, Duration::from_secs(1));
        assert!(
            refused.is_err(),
            "{:?}: new connections refused during drain",
            s.flavor
        );
        let r = read_response(&mut busy, T).expect("in-flight finishes");
        assert_eq!(
            (r.status, r.header("connection")),
            (200, Some("close")),
            "{:?}",
            s.flavor
        );
    });
}

#[test]
fn graceful_shutdown_timeout_cancels_with_uvicorns_500() {
    both(&Opts::args(&["--timeout-graceful-shutdown", "1"]), |s| {
        let mut busy = s.connect();
        send(&mut busy, &get("/sleep?ms=6000"));
        thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        s.proc.signal(libc::SIGTERM);
        let r = read_response(&mut busy, T).expect("cancelled");
        assert_eq!(
            r.raw_without_date(),
            "HTTP/1.1 500 Internal Server Error\r\ndate: X\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\nconnection: close\r\n\r\nInternal Server Error",
            "{:?}",
            s.flavor
        );
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(3000),
            "{:?}: {took:?}",
            s.flavor
        );
    });
}
