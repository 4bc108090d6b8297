//! `[target]`: a scenario aimed at a deployment it does not start. Here the "deployment" is a
//! fake upstream (HTTP) or real nginx with TLS (Host and SNI named, certificate verified), both
//! on loopback; local-process keys (faults, proxy CPU) are refused with exit 2 and their key.

mod common;

use common::{proxylab, run_dirs, summary};
use proxylab_testkit::FakeUpstream;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write scenario");
    p.to_str().expect("utf8").to_string()
}

const LOAD: &str = r#"
[[load]]
name = "web"
model = "open"
stages = [{ shape = "constant", rate = 100, duration = "3s" }]

[[phase]]
name = "steady"
start = "1s"
end = "3s"

[[assert]]
metric = "status_rate.2xx"
op = ">="
value = 1.0

[[assert]]
metric = "requests"
op = ">"
value = 250

[[assert]]
metric = "cpu.loadgen"
op = "<"
value = 200
"#;

#[test]
fn http_target_gets_the_load_phases_assertions_and_report() {
    let up = FakeUpstream::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "name = \"remote\"\nduration = \"3s\"\n[target]\nurl = \"{}\"\n{LOAD}",
        up.url()
    );
    let file = write(tmp.path(), "remote.toml", &text);
    let out = tmp.path().join("out");
    let r = proxylab(
        &["run", &file, "--ci", "--out", out.to_str().expect("utf8")],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let dirs = run_dirs(&out, "remote");
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let d = &dirs[0];
    let s = summary(d);
    let done = s["total"]["completed"].as_f64().unwrap_or(0.0);
    assert!(done >= 250.0, "{s}");
    assert_eq!(s["total"]["status"]["200"].as_f64(), Some(done), "{s}");
    // Nothing but the loadgen started: no proxy config, no upstream logs.
    assert!(!d.join("proxy/proxy.conf").exists());
    let logs: Vec<_> = std::fs::read_dir(d.join("logs"))
        .expect("logs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(logs, vec!["loadgen.log".to_string()]);
    let plan = std::fs::read_to_string(d.join("plan.toml")).expect("plan");
    assert!(plan.contains(&format!("\"{}\"", up.url())), "{plan}");
    assert!(d.join("index.html").is_file() && d.join("junit.xml").is_file());
}

#[test]
fn https_target_sends_the_named_host_and_sni_and_verifies_the_certificate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let name = "staging.example.test";
    let (cert, key) = proxylab::run::tls::generate(tmp.path(), &[name]).expect("certificate");
    // 200 only for the named host over SNI with the same name; anything else is 421.
    let block = format!(
        "server {{ listen 127.0.0.1:{{PORT}} ssl default_server; ssl_certificate {c}; ssl_certificate_key {k}; return 421; }}\n\
         server {{ listen 127.0.0.1:{{PORT}} ssl; server_name {name}; ssl_certificate {c}; ssl_certificate_key {k};\n\
           location / {{ if ($ssl_server_name != \"{name}\") {{ return 421; }} return 200 \"ok\"; }} }}",
        c = cert.display(),
        k = key.display()
    );
    let Some(nginx) = proxylab_testkit::Nginx::start(&block) else {
        return;
    };
    let text = format!(
        "name = \"remote-tls\"\nduration = \"3s\"\n[target]\nurl = \"https://127.0.0.1:{}\"\nhost = \"{name}\"\nsni = \"{name}\"\nca_file = \"{}\"\n{LOAD}",
        nginx.port(),
        cert.display()
    );
    let file = write(tmp.path(), "remote-tls.toml", &text);
    let out = tmp.path().join("out");
    let r = proxylab(
        &["run", &file, "--ci", "--out", out.to_str().expect("utf8")],
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}\n{}", r.all(), nginx.error_log());
    let s = summary(&run_dirs(&out, "remote-tls")[0]);
    let done = s["total"]["completed"].as_f64().unwrap_or(0.0);
    assert!(done >= 250.0, "{s}");
    assert_eq!(s["total"]["status"]["200"].as_f64(), Some(done), "{s}");
    assert!(nginx.access_log().contains("\"GET / HTTP/1.1\" 200"));
}

#[test]
fn local_process_keys_are_refused_with_exit_2_and_the_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let head = "duration = \"3s\"\n[target]\nurl = \"http://127.0.0.1:9\"\n";
    let cases = [
        (
            "[[fault]]\nat = \"1s\"\naction = \"kill\"\ntarget = \"api\"\n",
            "fault[0].action",
        ),
        ("[[upstream]]\nname = \"api\"\n", "upstream"),
        ("[proxy]\nkind = \"nginx\"\n", "proxy"),
        ("[[service]]\nname = \"db\"\nkind = \"redis\"\n", "service"),
        (
            "[[assert]]\nmetric = \"cpu.proxy\"\nop = \"<\"\nvalue = 50\n",
            "assert[0].metric",
        ),
    ];
    let load = "[[load]]\nname = \"web\"\nmodel = \"closed\"\nconnections = 1\n";
    for (i, (extra, key)) in cases.iter().enumerate() {
        let file = write(
            tmp.path(),
            &format!("bad{i}.toml"),
            &format!("{head}{load}{extra}"),
        );
        let r = proxylab(&["run", &file, "--check"], LIMIT);
        assert_eq!(r.code, 2, "{extra}: {}", r.all());
        assert!(
            r.stderr.contains(&format!("key `{key}`")),
            "{extra}: {}",
            r.all()
        );
    }
}
