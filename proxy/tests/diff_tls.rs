//! TLS (HTTP/1.1) through both proxies with the article's two server blocks: the port-80
//! style redirect to https, then the TLS server (curl as the client): status, headers and
//! body, `$scheme`/`$https`, the negotiated protocol with `ssl_protocols TLSv1.2 TLSv1.3`, and
//! nginx 1.22's default (`TLSv1 TLSv1.1 TLSv1.2`: a TLS 1.3-only client fails). Over TLS the
//! server SNI names reads the request line, so its `merge_slashes` applies whatever Host
//! then chooses (HTTP/1.1 and HTTP/2).

mod common;

use common::both;
use std::process::Command;

fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sk", "--http1.1", "-D", "-", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn view(text: &str, port: u16) -> String {
    text.replace(&port.to_string(), "PORT")
        .lines()
        .filter(|l| !l.starts_with("Date: ") && !l.starts_with("Server: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn tls_servers_match_nginx() {
    if proxylab_testkit::require("curl", "apt-get install curl").is_none() {
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let (crt, key, _) = proxylab_proxy::tls::write_self_signed(
        certs.path(),
        "api",
        &["api.example.com", "localhost"],
    )
    .expect("cert");
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}}; server_name api.example.com; return 301 https://$server_name$request_uri; }}\n\
         server {{ listen 127.0.0.1:{{PORT2}} ssl; server_name api.example.com;\n\
           ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;\n\
           location / {{ return 200 \"tls $scheme $https $host $uri\"; }} }}\n\
         server {{ listen 127.0.0.1:{{PORT2}} ssl http2; server_name b.test; merge_slashes off;\n\
           ssl_certificate {crt}; ssl_certificate_key {key};\n\
           location / {{ return 200 \"b $uri\"; }} }}\n\
         server {{ listen 127.0.0.1:{{PORT3}} ssl; server_name api.example.com;\n\
           ssl_certificate {crt}; ssl_certificate_key {key};\n\
           location / {{ return 200 \"default protocols\"; }} }}",
        crt = crt.display(),
        key = key.display()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for ports in [nginx.ports(), ours.ports] {
        let plain = curl(&[
            "-H",
            "Host: api.example.com",
            &format!("http://127.0.0.1:{}/a?b=1", ports[0]),
        ]);
        let tls = curl(&[
            "-v",
            "-H",
            "Host: api.example.com",
            &format!("https://127.0.0.1:{}/x", ports[1]),
        ]);
        let proto = tls
            .2
            .lines()
            .find(|l| l.contains("SSL connection using"))
            .map(|l| l.split_whitespace().nth(4).unwrap_or("").to_string());
        let t12 = curl(&[
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            &format!("https://127.0.0.1:{}/", ports[1]),
        ]);
        let default_13 = curl(&["--tlsv1.3", &format!("https://127.0.0.1:{}/", ports[2])]);
        let default_12 = curl(&[
            "--tls-max",
            "1.2",
            &format!("https://127.0.0.1:{}/", ports[2]),
        ]);
        let slashes = sni_cases(ports[1]);
        seen.push((
            slashes,
            view(&plain.1, ports[0]),
            view(&tls.1, ports[1]),
            proto,
            t12.0,
            default_13.0,
            view(&default_12.1, ports[2]),
        ));
    }
    assert_eq!(seen[0], seen[1], "nginx vs ours");
    assert!(
        seen[1].2.contains("tls https on api.example.com"),
        "{}",
        seen[1].2
    );
    assert!(!seen[1].5, "TLS 1.3 is off by default in nginx 1.22");
    assert_eq!(
        seen[1].3.as_deref(),
        Some("TLSv1.3"),
        "negotiated with ssl_protocols TLSv1.2 TLSv1.3"
    );
    assert!(seen[1].4, "TLS 1.2 client accepted");
    // The SNI server's merge_slashes (b.test: off) decided, not the default server's.
    assert_eq!(seen[1].0[0], "b //m//x", "{:#?}", seen[1].0);
}

/// `//m//x` sent with SNI and Host naming the default server (`api.example.com`, merging
/// slashes) or `b.test` (not merging) in each combination, over HTTP/1.1 and HTTP/2 (where
/// Host is `:authority`; only the combinations where it names the SNI server, as nginx's
/// choice otherwise depends on the order of the pseudo-headers): the bodies.
fn sni_cases(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let combos = [
        ("b.test", "b.test", "--http1.1"),
        ("api.example.com", "b.test", "--http1.1"),
        ("b.test", "api.example.com", "--http1.1"),
        ("b.test", "b.test", "--http2"),
        ("api.example.com", "api.example.com", "--http2"),
    ];
    for (sni, host, version) in combos {
        let o = Command::new("curl")
            .args(["-sk", "--path-as-is", "--max-time", "10", version])
            .arg("--resolve")
            .arg(format!("{sni}:{port}:127.0.0.1"))
            .args(["-H", &format!("Host: {host}")])
            .arg(format!("https://{sni}:{port}//m//x"))
            .output()
            .expect("curl");
        out.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    out
}

#[test]
fn http2_over_tls_and_h2c_match_nginx() {
    if proxylab_testkit::require("curl", "apt-get install curl").is_none() {
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let (crt, key, _) =
        proxylab_proxy::tls::write_self_signed(certs.path(), "api", &["localhost"]).expect("cert");
    let http = format!(
        "server {{ listen 127.0.0.1:{{PORT}} ssl http2; server_name localhost;\n\
           ssl_certificate {crt}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;\n\
           location / {{ return 200 \"h2 $scheme $host $request_method\"; }}\n\
           location /missing {{ return 404; }} }}\n\
         server {{ listen 127.0.0.1:{{PORT2}} http2; server_name localhost;\n\
           location / {{ return 200 \"h2c $scheme\"; }} }}",
        crt = crt.display(),
        key = key.display()
    );
    let Some((nginx, ours)) = both(&http) else {
        return;
    };
    let mut seen = Vec::new();
    for ports in [nginx.ports(), ours.ports] {
        let run = |args: &[&str]| {
            let out = Command::new("curl")
                .args([
                    "-sk",
                    "--max-time",
                    "10",
                    "-o",
                    "-",
                    "-w",
                    "|%{http_version} %{http_code}",
                ])
                .args(args)
                .output()
                .expect("curl");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        seen.push((
            run(&["--http2", &format!("https://localhost:{}/x", ports[0])]),
            run(&[
                "--http2",
                &format!("https://localhost:{}/missing", ports[0]),
            ])
            .split('|')
            .nth(1)
            .map(str::to_string),
            run(&["--http1.1", &format!("https://localhost:{}/x", ports[0])]),
            run(&[
                "--http2-prior-knowledge",
                &format!("http://localhost:{}/y", ports[1]),
            ]),
        ));
    }
    assert_eq!(seen[0], seen[1], "nginx vs ours");
    assert!(seen[1].0.ends_with("|2 200"), "{:?}", seen[1]);
    let n = common::log_lines(|| nginx.access_log(), 4);
    let o = common::log_lines(|| ours.access_log(), 4);
    assert_eq!(n, o, "access logs ($request with HTTP/2.0)");
    assert!(o.iter().any(|l| l.contains("HTTP/2.0")), "{o:#?}");
}
