//! TLS probes: requests over the TLS listener (`tls`), and what the listener actually offers
//! (`tls-versions`): one ClientHello per protocol version and per cipher class, as a scanner
//! sends them (the loadgen's `tls_hello` behaviour), answered by our proxy (rustls) and by
//! nginx with the same file (its OpenSSL decides what `ssl_protocols` really enables).

use super::scenario::Case;
use super::targets::{proxied, reach, sample};
use super::{Ctx, Gen, case};
use crate::audit::model::{Model, Srv, level};

/// `tls`: requests over a TLS listener (HTTP/2 where `http2` is on).
pub fn tls(c: &Ctx<'_>) -> Gen {
    let l = proxied(c.m)
        .into_iter()
        .find(|l| reach(c.m, c.map, l).is_some_and(|(li, _)| li.ssl))
        .ok_or("no TLS listener in front of a proxied location")?;
    let mut k = case(c, "tls", l, 2.0, 5.0).ok_or("unreachable")?;
    let p = sample(l).unwrap_or_default();
    k.load(
        "https",
        "GET over TLS",
        &format!("model = \"closed\"\nconnections = 2\nrequests = [{{ path = {p:?} }}]"),
    );
    Ok(vec![k])
}

/// The hellos of `tls-versions`: population name, what it offers.
pub const HELLOS: &[(&str, &str, &str, &str)] = &[
    ("v1_0", "TLS 1.0", "1.0", "all"),
    ("v1_1", "TLS 1.1", "1.1", "all"),
    ("v1_2", "TLS 1.2", "1.2", "all"),
    ("v1_3", "TLS 1.3", "1.3", "modern"),
    ("cbc", "TLS 1.2, ECDHE with AES-CBC only", "1.2", "cbc"),
    ("rsa", "TLS 1.2, static RSA key exchange only", "1.2", "rsa"),
    (
        "legacy",
        "TLS 1.2, 3DES/RC4/NULL/EXPORT/anonymous only",
        "1.2",
        "legacy",
    ),
];

/// The `ssl_protocols` in effect for a server, as written (None: nginx's default).
pub fn protocols(m: &Model<'_>, s: &Srv<'_>) -> Option<Vec<String>> {
    level(s.node, "ssl_protocols")
        .last()
        .copied()
        .or_else(|| {
            m.http
                .and_then(|h| level(h, "ssl_protocols").last().copied())
        })
        .map(|n| n.args.clone())
}

/// `tls-versions`: each TLS server's listener asked for every version and cipher class.
pub fn tls_versions(c: &Ctx<'_>) -> Gen {
    let mut out = Vec::new();
    for s in c.m.servers.iter().filter(|s| s.tls()).take(2) {
        let Some(li) = s
            .listens
            .iter()
            .filter(|x| x.ssl && x.unix.is_none())
            .find_map(|x| c.map.listener(x.port))
        else {
            continue;
        };
        let mut k = Case {
            probe: "tls-versions".into(),
            label: format!(
                "server {} ({})",
                s.names.first().cloned().unwrap_or_default(),
                s.node.at()
            ),
            at: s.node.at(),
            duration: 2.0,
            listener: Some(li.clone()),
            front: Some(s.node.at()),
            ..Case::default()
        };
        let configured = protocols(c.m, s)
            .map(|p| p.join(" "))
            .unwrap_or_else(|| "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (nginx's default)".into());
        k.notes.push(("protocols".into(), configured));
        for (name, role, version, ciphers) in HELLOS {
            k.load(name, role, &format!("model = \"closed\"\nconnections = 1\nmax_requests = 1\nrequests = [{{ path = \"/\" }}]\nbehaviour = {{ kind = \"tls_hello\", version = \"{version}\", ciphers = \"{ciphers}\" }}"));
        }
        out.push(k);
    }
    if out.is_empty() {
        return Err("no server listens with ssl".into());
    }
    Ok(out)
}
