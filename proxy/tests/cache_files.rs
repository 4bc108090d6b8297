//! proxy_cache files: entries survive a restart of our proxy and are reused; files nginx
//! wrote are read by our proxy (same layout); corrupt files (truncated, of another key, of
//! another version) are misses for both nginx and our proxy, never a wrong body; a cache path
//! that cannot be created fails `-t` as nginx's does.

mod cache_support;
mod common;

use cache_support::{Origin, status};
use common::{Ours, conf, get};
use proxylab_testkit::Nginx;
use std::path::{Path, PathBuf};

fn http(cache_dir: &Path, origin: &Origin) -> String {
    format!(
        "proxy_cache_path {} levels=1:2 keys_zone=c:1m;\n\
         server {{ listen 127.0.0.1:{{PORT}};\n\
           add_header X-Cache-Status $upstream_cache_status always;\n\
           location / {{ proxy_cache c; proxy_cache_key $uri; proxy_cache_valid 200 10m;\n\
             proxy_pass http://{}; }} }}",
        cache_dir.display(),
        origin.addr
    )
}

/// The cache files under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn entries_survive_a_restart_and_nginx_files_are_reused() {
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = cache.path().join("c");
    let origin = Origin::start();
    let first = Ours::start_full(&conf(&http(&dir, &origin)));
    assert_eq!(status(first.addr(), "/r"), "MISS /r #1");
    assert_eq!(status(first.addr(), "/r"), "HIT /r #1");
    let stored = files(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let text = std::fs::read(&stored[0]).expect("read entry");
    assert!(
        text.windows(8).any(|w| w == b"\nKEY: /r"),
        "key line in the file"
    );
    drop(first);
    let second = Ours::start_full(&conf(&http(&dir, &origin)));
    assert_eq!(status(second.addr(), "/r"), "HIT /r #1");
    assert_eq!(origin.count("/r"), 1);
    drop(second);

    // A file nginx wrote is a HIT for our proxy.
    let ndir = cache.path().join("n");
    let Some(nginx) = Nginx::start_full(&conf(&http(&ndir, &origin))) else {
        return;
    };
    assert_eq!(status(nginx.addr(), "/n"), "MISS /n #1");
    common::wait_until(std::time::Duration::from_secs(5), || {
        files(&ndir).len() == 1
    });
    drop(nginx);
    let ours = Ours::start_full(&conf(&http(&ndir, &origin)));
    assert_eq!(status(ours.addr(), "/n"), "HIT /n #1");
    assert_eq!(origin.count("/n"), 1);
}

/// A path and what is done to its cache file.
type Damage = (&'static str, fn(&Path));

/// MISS, HIT, then the file damaged by `damage`, then two more requests.
fn damaged(addr: std::net::SocketAddr, dir: &Path, path: &str, damage: fn(&Path)) -> Vec<String> {
    let mut v = vec![status(addr, path), status(addr, path)];
    common::wait_until(std::time::Duration::from_secs(5), || files(dir).len() == 1);
    for f in files(dir) {
        damage(&f);
    }
    v.push(status(addr, path));
    v.push(status(addr, path));
    for f in files(dir) {
        let _ = std::fs::remove_file(f);
    }
    v
}

#[test]
fn corrupt_files_are_misses_as_in_nginx() {
    let cache = tempfile::tempdir().expect("tempdir");
    let damages: [Damage; 3] = [
        ("/truncated", |f| {
            let b = std::fs::read(f).expect("read");
            std::fs::write(f, &b[..100]).expect("truncate");
        }),
        ("/otherkey", |f| {
            let mut b = std::fs::read(f).expect("read");
            b[48] ^= 0xff;
            std::fs::write(f, b).expect("write");
        }),
        ("/version", |f| {
            let mut b = std::fs::read(f).expect("read");
            b[0] = 4;
            std::fs::write(f, b).expect("write");
        }),
    ];
    let mut results = Vec::new();
    for side in ["nginx", "ours"] {
        let origin = Origin::start();
        let dir = cache.path().join(side);
        let c = conf(&http(&dir, &origin));
        let mut v = Vec::new();
        if side == "nginx" {
            let Some(n) = Nginx::start_full(&c) else {
                return;
            };
            for (p, d) in damages {
                v.extend(damaged(n.addr(), &dir, p, d));
            }
        } else {
            let o = Ours::start_full(&c);
            for (p, d) in damages {
                v.extend(damaged(o.addr(), &dir, p, d));
            }
            let log = o.error_log();
            for words in ["is too small", "has md5 collision", "version mismatch"] {
                assert!(log.contains(words), "error log lacks {words:?}:\n{log}");
            }
        }
        results.push(v);
    }
    assert_eq!(
        results[0], results[1],
        "\nnginx: {:#?}\nours: {:#?}",
        results[0], results[1]
    );
    assert_eq!(results[1][2], "MISS /truncated #2");
}

#[test]
fn uncreatable_cache_path_fails_the_test_as_nginx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf_path = dir.path().join("t.conf");
    std::fs::create_dir_all(dir.path().join("logs")).expect("logs");
    std::fs::write(
        &conf_path,
        "events {}\nhttp { proxy_cache_path /nonexistent-proxylab/cache keys_zone=c:1m; }\n",
    )
    .expect("write");
    let out = std::process::Command::new(proxylab_testkit::proxylab_bin())
        .args(["proxy", "-t", "-c"])
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .output()
        .expect("run proxylab proxy -t");
    let ours = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{ours}");
    let want = "mkdir() \"/nonexistent-proxylab/cache\" failed (2: No such file or directory)";
    assert!(ours.contains(want), "{ours}");
    let Some(nginx) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let out = std::process::Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .args(["-t", "-c"])
        .arg(&conf_path)
        .output()
        .expect("run nginx -t");
    let theirs = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && theirs.contains(want), "{theirs}");
}

#[test]
fn inactive_entries_are_evicted_as_in_nginx() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut results = Vec::new();
    for side in ["nginx", "ours"] {
        let origin = Origin::start();
        let dir = cache.path().join(side);
        let mut body =
            http(&dir, &origin).replace("keys_zone=c:1m;", "keys_zone=c:1m inactive=1s;");
        if side == "ours" {
            body = body.replace(
                "location / {",
                "location = /metrics { proxylab_status; }\n location / {",
            );
        }
        let c = conf(&body);
        let run = |addr: std::net::SocketAddr| {
            let mut v = vec![status(addr, "/e"), status(addr, "/e")];
            // The manager removes the entry once it has been unused for `inactive`.
            let gone = common::wait_until(std::time::Duration::from_secs(10), || {
                files(&dir).is_empty()
            });
            v.push(format!("evicted {gone}"));
            v.push(status(addr, "/e"));
            v
        };
        if side == "nginx" {
            let Some(n) = Nginx::start_full(&c) else {
                return;
            };
            results.push(run(n.addr()));
        } else {
            let o = Ours::start_full(&c);
            results.push(run(o.addr()));
            let m = get(o.addr(), "/metrics");
            let text = String::from_utf8_lossy(&m.body).into_owned();
            for line in [
                "proxylab_cache_responses_total{zone=\"c\",status=\"MISS\"} 2",
                "proxylab_cache_responses_total{zone=\"c\",status=\"HIT\"} 1",
                "proxylab_cache_stored_total{zone=\"c\"} 2",
                "proxylab_cache_evicted_total{zone=\"c\"} 1",
            ] {
                assert!(text.contains(line), "{line} missing in:\n{text}");
            }
        }
    }
    assert_eq!(
        results[0], results[1],
        "\nnginx: {:#?}\nours: {:#?}",
        results[0], results[1]
    );
    assert_eq!(results[1][3], "MISS /e #2");
}
