//! Criterion benchmarks of the proxy's algorithms: a limit_req decision, each balancer's
//! selection (begin + next_peer + finish), location matching on a 50-location config and
//! parsing the article's nginx config.
//!
//! Run: `cargo bench --bench proxy_algorithms` (HTML report under target/criterion). A custom
//! main registers the bundled DejaVuSans font, because plotters is built with `ab_glyph` in
//! this workspace and criterion's report would otherwise fail to draw text (CRATES.md §4).

mod support;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion};
use proxylab_proxy::balance::{
    Method, PeerAddr, PeerOutcome, RequestInput, ResolvedServer, ServerSpec, Upstream,
};
use proxylab_proxy::limit_req::{Delay, Limit, Rate, Zone, check};

fn limit_req(c: &mut Criterion) {
    let mut g = c.benchmark_group("limit_req");
    let zone = Arc::new(Zone::new("one", 10 << 20, Rate::per_second(100)));
    let one = [Limit {
        zone: zone.clone(),
        burst: 50,
        delay: Delay::Never,
    }];
    let mut now = 1_000_000u64;
    g.bench_function("one_key_nodelay", |b| {
        b.iter(|| {
            now += 3; // ~333 r/s against 100 r/s: a mix of passes and rejections
            black_box(check(&one, &[b"\x7f\x00\x00\x01"], false, now))
        })
    });
    // 100k distinct client addresses through a 10m zone (81,375 slots): LRU eviction churn
    let keys: Vec<[u8; 4]> = (0..100_000u32).map(|i| i.to_be_bytes()).collect();
    let mut i = 0usize;
    g.bench_function("100k_keys_10m_zone", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            now += 1;
            black_box(check(&one, &[&keys[i]], false, now))
        })
    });
    let z2 = Arc::new(Zone::new("two", 1 << 20, Rate::per_second(1000)));
    let two = [
        Limit {
            zone: zone.clone(),
            burst: 50,
            delay: Delay::Never,
        },
        Limit {
            zone: z2,
            burst: 10,
            delay: Delay::After(5),
        },
    ];
    g.bench_function("two_limits", |b| {
        b.iter(|| {
            now += 3;
            black_box(check(&two, &[b"\x7f\x00\x00\x01", b"/api/x"], false, now))
        })
    });
    g.finish();
}

fn group(method: Method) -> Arc<Upstream> {
    let servers = (0..4u16)
        .map(|i| {
            let a = format!("127.0.0.1:{}", 8001 + i);
            let mut spec = ServerSpec::new(a.clone());
            spec.weight = u32::from(i) + 1;
            ResolvedServer {
                spec,
                addrs: vec![PeerAddr::Inet(a.parse::<SocketAddr>().expect("addr"))],
            }
        })
        .collect();
    Arc::new(Upstream::new("u", method, servers, Instant::now()).expect("group"))
}

fn balancers(c: &mut Criterion) {
    let mut g = c.benchmark_group("balance");
    let methods = [
        ("round_robin", Method::RoundRobin),
        ("least_conn", Method::LeastConn),
        ("ip_hash", Method::IpHash),
        (
            "hash",
            Method::Hash {
                key: "$request_uri".into(),
                consistent: false,
            },
        ),
        (
            "hash_consistent",
            Method::Hash {
                key: "$request_uri".into(),
                consistent: true,
            },
        ),
        ("random", Method::Random { two: false }),
        ("random_two", Method::Random { two: true }),
    ];
    let now = Instant::now();
    let mut n = 0u32;
    for (name, m) in methods {
        let u = group(m);
        g.bench_with_input(BenchmarkId::new("select_and_finish", name), &u, |b, u| {
            b.iter(|| {
                n = n.wrapping_add(1);
                let key = n.to_le_bytes();
                let ip = IpAddr::V4(Ipv4Addr::from(n.wrapping_mul(2_654_435_761)));
                let mut a = u.begin(RequestInput {
                    client_ip: Some(ip),
                    hash_key: &key,
                });
                let s = a.next_peer(now).expect("peer");
                a.finish(PeerOutcome::Ok, now);
                black_box(s)
            })
        });
    }
    g.finish();
}

/// The article's nginx configuration, assembled into one file (TLS with a generated
/// certificate, the health-check upstream renamed so both upstream blocks can coexist).
fn article_conf(dir: &std::path::Path) -> std::path::PathBuf {
    let (crt, key, _) =
        proxylab_proxy::tls::write_self_signed(dir, "sivaro", &["api.sivaro.com"]).expect("cert");
    std::fs::create_dir_all(dir.join("static")).expect("static dir");
    let text = format!(
        r#"worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log combined buffer=32k flush=5s;
    limit_req_zone $binary_remote_addr zone=api_limit:10m rate=100r/s;
    upstream uvicorn_servers {{
        least_conn;
        server 127.0.0.1:8001 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:8002 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:8003 max_fails=3 fail_timeout=30s;
        server 127.0.0.1:8004 max_fails=3 fail_timeout=30s;
    }}
    server {{
        listen 127.0.0.1:18080;
        server_name api.sivaro.com;
        return 301 https://$server_name$request_uri;
    }}
    server {{
        listen 127.0.0.1:18443 ssl http2;
        server_name api.sivaro.com;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        proxy_request_buffering on;
        proxy_buffering on;
        client_body_buffer_size 10k;
        location /static/ {{
            alias {dir}/static/;
            expires 30d;
            add_header Cache-Control "public, immutable";
        }}
        location / {{
            proxy_pass http://uvicorn_servers;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering on;
            proxy_buffer_size 4k;
            proxy_buffers 8 4k;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location /api/ {{
            limit_req zone=api_limit burst=50 nodelay;
            client_max_body_size 10M;
            proxy_pass http://uvicorn_servers;
        }}
        location ~* .(env|git|svn|config)$ {{
            deny all;
            return 404;
        }}
        location /ws/ {{
            proxy_pass http://uvicorn_servers;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 86400s;
        }}
        location /health {{
            access_log off;
            proxy_pass http://uvicorn_servers;
        }}
    }}
}}
"#,
        dir = dir.display(),
        crt = crt.display(),
        key = key.display(),
    );
    let path = dir.join("article.conf");
    std::fs::write(&path, text).expect("write conf");
    path
}

/// A server with 50 locations: exact, prefix, `^~`, regex and nested ones.
fn fifty_locations(dir: &std::path::Path) -> std::path::PathBuf {
    let mut locs = String::new();
    for i in 0..10 {
        locs.push_str(&format!(
            "        location = /exact/{i} {{ return 200; }}\n"
        ));
    }
    for i in 0..15 {
        locs.push_str(&format!("        location /api/v{i}/ {{ return 200; }}\n"));
    }
    for i in 0..5 {
        locs.push_str(&format!(
            "        location ^~ /static{i}/ {{ return 200; }}\n"
        ));
    }
    for i in 0..15 {
        locs.push_str(&format!(
            "        location ~* \\.(ext{i}|e{i})$ {{ return 200; }}\n"
        ));
    }
    locs.push_str("        location /nested/ {\n");
    for i in 0..4 {
        locs.push_str(&format!(
            "            location ~ /nested/n{i}/ {{ return 200; }}\n"
        ));
    }
    locs.push_str("        }\n");
    let text = format!(
        "events {{}}\nhttp {{\n    server {{\n        listen 127.0.0.1:18081;\n{locs}    }}\n}}\n"
    );
    let path = dir.join("fifty.conf");
    std::fs::write(&path, text).expect("write conf");
    path
}

fn config(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let article = article_conf(dir.path());
    let mut g = c.benchmark_group("config");
    match proxylab_proxy::conf::load(&article, Some(dir.path())) {
        Ok(_) => {
            g.bench_function("parse_article_config", |b| {
                b.iter(|| black_box(proxylab_proxy::conf::load(&article, Some(dir.path())).is_ok()))
            });
        }
        Err(e) => eprintln!("config/parse_article_config skipped: our reader refuses it: {e}"),
    }
    let fifty = fifty_locations(dir.path());
    match proxylab_proxy::conf::load(&fifty, Some(dir.path())) {
        Ok(loaded) => {
            let tree = &loaded.config.http.servers[0].locations;
            let uris: [&[u8]; 8] = [
                b"/exact/7",
                b"/api/v12/users/42",
                b"/static3/app.js",
                b"/download/file.ext13",
                b"/nested/n3/x",
                b"/nested/other",
                b"/unmatched/path/here",
                b"/api/v1/",
            ];
            let mut i = 0;
            g.bench_function("locate_50_locations", |b| {
                b.iter(|| {
                    i = (i + 1) % uris.len();
                    black_box(matches!(
                        proxylab_proxy::phases::locate::locate(tree, uris[i]),
                        proxylab_proxy::phases::locate::Found::Loc(..)
                    ))
                })
            });
        }
        Err(e) => eprintln!("config/locate_50_locations skipped: {e}"),
    }
    g.finish();
}

/// The same shared state hammered from `threads` threads at once (the group mutex / zone
/// mutex under contention); reports time per operation across all threads.
fn contended(c: &mut Criterion) {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let mut g = c.benchmark_group("contended");
    let u = group(Method::RoundRobin);
    g.bench_function(format!("round_robin_{threads}_threads"), |b| {
        b.iter_custom(|iters| {
            let per = iters / threads as u64 + 1;
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let u = u.clone();
                    s.spawn(move || {
                        let now = Instant::now();
                        for _ in 0..per {
                            let mut a = u.begin(RequestInput::default());
                            black_box(a.next_peer(now).expect("peer"));
                            a.finish(PeerOutcome::Ok, now);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    let zone = Arc::new(Zone::new("c", 10 << 20, Rate::per_second(100)));
    let limits = [Limit {
        zone,
        burst: 50,
        delay: Delay::Never,
    }];
    g.bench_function(format!("limit_req_{threads}_threads"), |b| {
        b.iter_custom(|iters| {
            let per = iters / threads as u64 + 1;
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    let limits = &limits;
                    s.spawn(move || {
                        for i in 0..per {
                            let key = ((i % 1000) as u32 * 4 + t as u32).to_be_bytes();
                            black_box(check(limits, &[&key], false, 1_000_000 + i));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

/// `static_files::serve` + draining the body, for a 4 KiB and a 1 MiB file (open, fstat,
/// headers, chunked reads; no socket).
fn static_files(c: &mut Criterion) {
    use http_body_util::BodyExt;
    use proxylab_proxy::static_files::{DocRoot, StaticConf, StaticOutcome, StaticRequest, serve};
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("4k.bin"), vec![7u8; 4096]).expect("4k");
    std::fs::write(dir.path().join("1m.bin"), vec![7u8; 1 << 20]).expect("1m");
    let conf = StaticConf::new(DocRoot::Root(dir.path().to_path_buf()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let headers = hyper::HeaderMap::new();
    let mut g = c.benchmark_group("static_files");
    for name in ["4k.bin", "1m.bin"] {
        let uri = format!("/{name}");
        g.bench_function(format!("serve_{name}"), |b| {
            b.iter(|| {
                let req = StaticRequest {
                    method: &hyper::Method::GET,
                    uri: uri.as_bytes(),
                    args: None,
                    version: hyper::Version::HTTP_11,
                    headers: &headers,
                    add_headers: &[],
                    now: std::time::SystemTime::now(),
                };
                let StaticOutcome::Response(r) = serve(&conf, &req) else {
                    panic!("not served")
                };
                let n = rt.block_on(async {
                    r.into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes()
                        .len()
                });
                black_box(n)
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = support::criterion();
    limit_req(&mut c);
    balancers(&mut c);
    config(&mut c);
    contended(&mut c);
    static_files(&mut c);
    c.final_summary();
}
