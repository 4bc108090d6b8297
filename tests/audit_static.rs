//! `proxylab audit --no-probes`: the article's deployed config read unmodified (include glob,
//! mime.types, user/pid, logs, listen 80 / 443 ssl http2, missing certificates) gives the
//! findings the article's config deserves, each at the right file:line; bad input exits 2
//! naming file:line. Nothing is started except `nginx -t` when nginx is installed.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

fn article() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/audit/article/nginx.conf")
}

/// Runs `proxylab audit ARGS --out TMP`; returns the output and the report directory.
pub fn audit(args: &[&str], out: &Path) -> (common::Out, Option<PathBuf>) {
    let mut a = vec!["audit"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--out", out.to_str().expect("utf8"), "--ci"]);
    let o = common::proxylab(&a, Duration::from_secs(600));
    let dir = o
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("audit report: "))
        .map(|p| PathBuf::from(p).parent().expect("dir").to_path_buf());
    (o, dir)
}

fn findings(dir: &Path) -> Vec<serde_json::Value> {
    let t = std::fs::read_to_string(dir.join("findings.json")).expect("findings.json");
    serde_json::from_str(&t).expect("json")
}

fn find<'a>(f: &'a [serde_json::Value], check: &str) -> Vec<&'a serde_json::Value> {
    f.iter().filter(|x| x["check"] == check).collect()
}

fn at(f: &serde_json::Value) -> String {
    let file = f["file"].as_str().unwrap_or("");
    let short = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    format!("{short}:{}", f["line"])
}

#[test]
fn article_config_findings_at_their_lines() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (o, dir) = audit(
        &[article().to_str().expect("utf8"), "--no-probes"],
        tmp.path(),
    );
    // The regex location that misses /.git/HEAD is high: exit 1 under --fail-on high.
    assert_eq!(o.code, 1, "{}", o.all());
    let dir = dir.expect("report path printed last");
    assert!(o.stdout.trim_end().ends_with("audit.html"), "{}", o.all());
    let f = findings(&dir);
    for x in &f {
        for key in [
            "id", "severity", "file", "line", "title", "detail", "probe", "evidence", "fix",
        ] {
            assert!(x.get(key).is_some(), "finding without {key}: {x}");
        }
    }
    let site = "api.sivaro.com.conf";
    let want = [
        ("limit-req-503", format!("{site}:49"), "503, not 429"),
        (
            "proxy-headers-lost",
            format!("{site}:48"),
            "location /api/ loses Host, X-Forwarded-For, X-Forwarded-Proto, HTTP/1.1",
        ),
        ("regex-location", format!("{site}:56"), "/.git/HEAD"),
        (
            "expires-cache-control",
            format!("{site}:31"),
            "two Cache-Control",
        ),
        ("max-fails-ignores-503", format!("{site}:8"), "503"),
        ("keepalive-race", format!("{site}:5"), "keep-alive"),
    ];
    for (check, line, text) in want {
        let got = find(&f, check);
        assert!(
            got.iter()
                .any(|x| at(x) == line && x["title"].as_str().unwrap_or("").contains(text)),
            "no {check} at {line} containing {text:?}; got {:?}",
            got.iter()
                .map(|x| (at(x), x["title"].clone()))
                .collect::<Vec<_>>()
        );
    }
    let regex = find(&f, "regex-location")[0];
    assert_eq!(regex["severity"], "high");
    assert!(
        regex["title"]
            .as_str()
            .unwrap_or("")
            .contains("/api/config"),
        "{regex}"
    );
    assert!(
        find(&f, "limit-req-503")[0]["fix"]
            .as_str()
            .unwrap_or("")
            .contains("limit_req_status 429;")
    );
    // TLSv1.2 TLSv1.3 only: no protocol finding.
    assert!(find(&f, "tls-old-protocols").is_empty());
    // The mapping: the certificate paths that are not on this machine, the upstream ports,
    // both listeners, the include.
    let map = std::fs::read_to_string(dir.join("mapping.json")).expect("mapping.json");
    for s in [
        "/etc/ssl/certs/sivaro.crt",
        "127.0.0.1:8004",
        "listen 443 ssl http2",
        "sites-enabled/*.conf",
        "pid /run/nginx.pid",
    ] {
        assert!(map.contains(s), "mapping lacks {s}: {map}");
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("limit-req-503@api.sivaro.com.conf:49"),
        "{junit}"
    );
}

#[test]
fn fail_on_none_exits_zero() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (o, _) = audit(
        &[
            article().to_str().expect("utf8"),
            "--no-probes",
            "--fail-on",
            "none",
        ],
        tmp.path(),
    );
    assert_eq!(o.code, 0, "{}", o.all());
}

fn bad(files: &[(&str, &str)], main: &str) -> common::Out {
    let tmp = tempfile::tempdir().expect("tmp");
    for (name, text) in files {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let main = tmp.path().join(main);
    let out = tmp.path().join("out");
    audit(&[main.to_str().expect("utf8"), "--no-probes"], &out).0
}

const EVENTS: &str = "events {}\n";

#[test]
fn unreadable_file_exits_2() {
    let o = bad(&[], "missing.conf");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("missing.conf") && o.stderr.contains("No such file"),
        "{}",
        o.all()
    );
}

#[test]
fn include_matching_nothing_names_its_line() {
    let conf = format!("{EVENTS}http {{\n    include conf.d/*.conf;\n}}\n");
    let o = bad(&[("nginx.conf", &conf)], "nginx.conf");
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("matches no file") && o.stderr.contains("nginx.conf:3"),
        "{}",
        o.all()
    );
}

#[test]
fn unknown_directive_names_file_and_line() {
    let site = "server {\n    listen 80;\n    location / {\n        frobnicate on;\n    }\n}\n";
    let conf = format!("{EVENTS}http {{\n    include sites/*.conf;\n}}\n");
    let o = bad(
        &[("nginx.conf", &conf), ("sites/a.conf", site)],
        "nginx.conf",
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(
        o.stderr.contains("unknown directive \"frobnicate\"") && o.stderr.contains("a.conf:4"),
        "{}",
        o.all()
    );
}

#[test]
fn syntax_error_names_file_and_line() {
    let o = bad(
        &[(
            "nginx.conf",
            "events {}\nhttp {\n    server {\n        listen 80\n    }\n}\n",
        )],
        "nginx.conf",
    );
    assert_eq!(o.code, 2, "{}", o.all());
    assert!(o.stderr.contains("nginx.conf:5"), "{}", o.all());
}

/// Every directive nginx accepts and our proxy refuses is named at its file:line (a block
/// directive, a directive in one location, another in a second), and the audit goes on with
/// real nginx.
#[test]
fn directives_only_nginx_supports_are_all_named_and_run_on_nginx() {
    let Some(_) = proxylab_testkit::require("nginx", "apt-get install nginx") else {
        return;
    };
    let conf = format!(
        "{EVENTS}http {{\n    charset_map koi8-r utf-8 {{\n        C0 D0B0;\n    }}\n    server {{\n        listen 80;\n        location / {{\n            ssi on;\n            proxy_pass http://127.0.0.1:8000;\n        }}\n        location /b/ {{\n            sub_filter 'a' 'b';\n            proxy_pass http://127.0.0.1:8000;\n        }}\n    }}\n}}\n"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("nginx.conf"), conf).expect("write");
    let (o, dir) = audit(
        &[
            tmp.path().join("nginx.conf").to_str().expect("utf8"),
            "--no-probes",
            "--fail-on",
            "none",
        ],
        &tmp.path().join("out"),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let f = findings(&dir.expect("dir"));
    let ns = find(&f, "not-supported");
    for x in &ns {
        assert!(
            x["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("not supported by proxylab's proxy"),
            "{x:?}"
        );
    }
    let mut lines: Vec<String> = ns.iter().map(|x| at(x)).collect();
    lines.sort();
    assert_eq!(
        lines,
        ["nginx.conf:13", "nginx.conf:3", "nginx.conf:9"],
        "{ns:?}"
    );
    for name in ["charset_map", "ssi", "sub_filter"] {
        assert!(
            ns.iter()
                .any(|x| x["title"].as_str().unwrap_or("").contains(name)),
            "{name}: {ns:?}"
        );
    }
}

#[test]
fn deployed_shapes_are_rewritten_into_configs_both_proxies_load() {
    // Host-name and unix-socket upstream servers, proxy_pass to a host without an upstream
    // block, resolver, [::]:443 next to 443, a missing certificate, daemon, a relative log.
    let conf = "user nginx;\ndaemon on;\nworker_processes 2;\nerror_log logs/error.log warn;\nevents { worker_connections 256; }\nhttp {\n    resolver 10.0.0.2 valid=30s;\n    upstream app { server app.internal:8000; server unix:/run/app.sock; keepalive 8; keepalive_timeout 4s; }\n    server {\n        listen 443 ssl http2;\n        listen [::]:443 ssl http2;\n        server_name example.com;\n        ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;\n        ssl_certificate_key /etc/letsencrypt/live/example.com/privkey.pem;\n        server_tokens off;\n        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n        location /billing/ { proxy_pass http://billing.internal:9000/; }\n    }\n}\n";
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("nginx.conf"), conf).expect("write");
    let (o, dir) = audit(
        &[
            tmp.path().join("nginx.conf").to_str().expect("utf8"),
            "--no-probes",
            "--fail-on",
            "none",
        ],
        &tmp.path().join("out"),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let dir = dir.expect("dir");
    let f = findings(&dir);
    assert!(
        find(&f, "not-supported").is_empty() && find(&f, "nginx-refuses").is_empty(),
        "{f:?}"
    );
    let conf = std::fs::read_to_string(dir.join("rewritten.conf")).expect("rewritten");
    for s in [
        "server {{upstream.app.0}};",
        "server {{upstream.app.1}};",
        "proxy_pass http://{{upstream.direct-1.0}}/;",
        "ssl_certificate {{tls.cert}};",
        "listen {{listen}} ssl http2;",
    ] {
        assert!(conf.contains(s), "rewritten config lacks {s}:\n{conf}");
    }
    assert_eq!(
        conf.matches("listen ").count(),
        1,
        "[::]:443 shares 443's socket:\n{conf}"
    );
    for s in ["resolver", "daemon", "user nginx"] {
        assert!(!conf.contains(s), "{s} kept:\n{conf}");
    }
}

#[test]
fn cache_and_gzip_directives_are_mapped_not_refused() {
    // proxy_cache_path moves into the run directory with its zone kept, so `proxy_cache
    // ZONE` still resolves under `nginx -t`; gzip passes through unchanged. Whether our proxy
    // runs them is its own matter: a directive it lacks is an info finding at its line and
    // the audit goes on (exit 0 here), never a refusal of the file.
    let conf = "events {}\nhttp {\n    proxy_cache_path /var/cache/nginx/app levels=1:2 keys_zone=app:10m max_size=1g inactive=60m use_temp_path=off;\n    gzip on;\n    gzip_types application/json text/css;\n    gzip_min_length 256;\n    upstream app { server 127.0.0.1:8000; }\n    server {\n        listen 80;\n        server_tokens off;\n        location / { proxy_pass http://app; proxy_cache app; proxy_cache_valid 200 10m; }\n    }\n}\n";
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("nginx.conf"), conf).expect("write");
    let (o, dir) = audit(
        &[
            tmp.path().join("nginx.conf").to_str().expect("utf8"),
            "--no-probes",
            "--fail-on",
            "none",
        ],
        &tmp.path().join("out"),
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let dir = dir.expect("dir");
    let f = findings(&dir);
    assert!(find(&f, "nginx-refuses").is_empty(), "{f:?}");
    for x in find(&f, "not-supported") {
        assert!(
            x["line"].as_u64().is_some_and(|l| (3..=11).contains(&l)),
            "names the directive's line: {x}"
        );
    }
    let conf = std::fs::read_to_string(dir.join("rewritten.conf")).expect("rewritten");
    assert!(
        conf.contains("proxy_cache_path {{dir}}/cache-app levels=1:2 keys_zone=app:10m"),
        "{conf}"
    );
    assert!(
        conf.contains("gzip on;") && conf.contains("proxy_cache app;"),
        "{conf}"
    );
}

fn shape(name: &str) -> Vec<serde_json::Value> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/audit/shapes/{name}/nginx.conf"));
    let tmp = tempfile::tempdir().expect("tmp");
    let (o, dir) = audit(
        &[
            p.to_str().expect("utf8"),
            "--no-probes",
            "--fail-on",
            "none",
        ],
        tmp.path(),
    );
    assert_eq!(o.code, 0, "{name}: {}", o.all());
    findings(&dir.expect("dir"))
}

#[test]
fn real_world_shapes_flag_planted_flaws_and_not_their_clean_twins() {
    let planted: [(&str, &[(&str, &str)]); 4] = [
        (
            "django",
            &[
                ("alias-traversal", "nginx.conf:18"),
                ("add-header-inheritance", "nginx.conf:22"),
            ],
        ),
        (
            "chat",
            &[
                ("keepalive-race", "nginx.conf:12"),
                ("keepalive-without-http11", "nginx.conf:17"),
            ],
        ),
        (
            "tls-api",
            &[
                ("tls-old-protocols", "nginx.conf:19"),
                ("limit-req-503", "nginx.conf:21"),
                ("retry-non-idempotent", "nginx.conf:26"),
            ],
        ),
        (
            "multisite",
            &[
                ("regex-location", "blog.conf:6"),
                ("proxy-header-inheritance", "shop.conf:11"),
            ],
        ),
    ];
    for (name, want) in planted {
        let f = shape(name);
        for (check, line) in want {
            assert!(
                find(&f, check).iter().any(|x| at(x) == *line),
                "{name}: no {check} at {line}: {:?}",
                f.iter()
                    .map(|x| (x["check"].clone(), at(x)))
                    .collect::<Vec<_>>()
            );
        }
        let twin = shape(&format!("{name}-clean"));
        let loud: Vec<_> = twin
            .iter()
            .filter(|x| x["severity"] == "high" || x["severity"] == "medium")
            .map(|x| (x["check"].clone(), at(x), x["title"].clone()))
            .collect();
        assert!(loud.is_empty(), "{name}-clean has findings: {loud:?}");
        for (check, _) in want {
            assert!(find(&twin, check).is_empty(), "{name}-clean: {check}");
        }
    }
}

#[test]
fn upstream_that_does_not_start_exits_3() {
    let Some(_) = proxylab_testkit::require_python(&["uvicorn"], "pip install uvicorn") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let (o, dir) = audit(
        &[
            article().to_str().expect("utf8"),
            "--quick",
            "--probe",
            "baseline",
            "--proxy",
            "proxylab",
            "--app",
            "no_such_module:app",
            "--app-dir",
            tmp.path().to_str().expect("utf8"),
        ],
        &tmp.path().join("out"),
    );
    assert_eq!(o.code, 3, "{}", o.all());
    // The report is still written, with the run's error.
    let probes =
        std::fs::read_to_string(dir.expect("dir").join("probes.json")).expect("probes.json");
    assert!(probes.contains("did not start"), "{probes}");
}
