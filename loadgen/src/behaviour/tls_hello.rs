//! `tls_hello`: what a TLS server offers, as scanners find it. Each session opens a TCP
//! connection, writes one ClientHello limited to a protocol version and a cipher class, and
//! reads the answer: a ServerHello (accepted: the version and suite it chose) or an alert,
//! a close or a reset (refused). Nothing more is sent; rustls cannot speak TLS 1.0/1.1 or
//! offer CBC or static-RSA suites, so the hello is written byte by byte (RFC 5246, RFC 8446).

use crate::engine::ctx::PopCtx;
use crate::plan::{TlsCipherClass, TlsVersion};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// ECDHE with AES-GCM or ChaCha20-Poly1305 (TLS 1.2) and the TLS 1.3 suites.
const MODERN: &[u16] = &[
    0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9, 0x1301, 0x1302, 0x1303,
];
/// ECDHE with AES-CBC (SHA-1 and SHA-2 MACs).
const CBC: &[u16] = &[
    0xc009, 0xc00a, 0xc013, 0xc014, 0xc023, 0xc024, 0xc027, 0xc028,
];
/// Static RSA key exchange: no forward secrecy.
const RSA: &[u16] = &[0x002f, 0x0035, 0x003c, 0x003d, 0x009c, 0x009d];
/// 3DES, RC4, NULL, EXPORT and anonymous suites.
const LEGACY: &[u16] = &[
    0x000a, 0xc012, 0x0005, 0xc011, 0x0004, 0x0001, 0x0002, 0x003b, 0x0003, 0x0008, 0x0018, 0x0034,
    0x003a, 0x006c, 0x006d,
];

/// The suites offered for a class.
fn suites(class: TlsCipherClass) -> Vec<u16> {
    match class {
        TlsCipherClass::Modern => MODERN.to_vec(),
        TlsCipherClass::Cbc => CBC.to_vec(),
        TlsCipherClass::Rsa => RSA.to_vec(),
        TlsCipherClass::Legacy => LEGACY.to_vec(),
        TlsCipherClass::All => [MODERN, CBC, RSA, LEGACY].concat(),
    }
}

fn u16b(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// `body` prefixed with its length in `n` bytes (1, 2 or 3).
fn with_len(n: usize, body: &[u8]) -> Vec<u8> {
    let len = body.len().to_be_bytes();
    let mut v = len[len.len() - n..].to_vec();
    v.extend_from_slice(body);
    v
}

fn ext(v: &mut Vec<u8>, kind: u16, body: &[u8]) {
    u16b(v, kind);
    v.extend_from_slice(&with_len(2, body));
}

/// One ClientHello record for `version`, offering `class`, with SNI `host`; `random` fills
/// the random, the session id and the key share.
pub fn client_hello(
    version: TlsVersion,
    class: TlsCipherClass,
    host: &str,
    random: &[u8; 64],
) -> Vec<u8> {
    let wire = match version {
        TlsVersion::V1_0 => 0x0301,
        TlsVersion::V1_1 => 0x0302,
        TlsVersion::V1_2 | TlsVersion::V1_3 => 0x0303,
    };
    let mut exts = Vec::new();
    if host.parse::<std::net::IpAddr>().is_err() {
        let name = [&[0u8][..], &with_len(2, host.as_bytes())[..]].concat();
        ext(&mut exts, 0x0000, &with_len(2, &name));
    }
    // supported_groups: x25519, secp256r1, secp384r1; ec_point_formats: uncompressed.
    ext(
        &mut exts,
        0x000a,
        &with_len(2, &[0, 0x1d, 0, 0x17, 0, 0x18]),
    );
    ext(&mut exts, 0x000b, &with_len(1, &[0]));
    // signature_algorithms: ECDSA/RSA-PSS/RSA-PKCS1 with SHA-256/384, RSA-PKCS1-SHA1.
    let sigs = [4u8, 3, 5, 3, 8, 4, 8, 5, 4, 1, 5, 1, 2, 1];
    ext(&mut exts, 0x000d, &with_len(2, &sigs));
    ext(&mut exts, 0xff01, &[0]);
    if version == TlsVersion::V1_3 {
        ext(&mut exts, 0x002b, &with_len(1, &[3, 4]));
        let share = [&[0u8, 0x1d][..], &with_len(2, &random[32..64])[..]].concat();
        ext(&mut exts, 0x0033, &with_len(2, &share));
        ext(&mut exts, 0x002d, &with_len(1, &[1]));
    }
    let mut ciphers = Vec::new();
    for s in suites(class) {
        u16b(&mut ciphers, s);
    }
    let mut body = Vec::new();
    u16b(&mut body, wire);
    body.extend_from_slice(&random[..32]);
    body.extend_from_slice(&with_len(1, &random[32..64]));
    body.extend_from_slice(&with_len(2, &ciphers));
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&with_len(2, &exts));
    let hs = [&[1u8][..], &with_len(3, &body)[..]].concat();
    let mut rec = vec![0x16];
    // The record layer says TLS 1.0, as OpenSSL's first hello does (RFC 8446 D.4).
    u16b(&mut rec, 0x0301);
    rec.extend_from_slice(&with_len(2, &hs));
    rec
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version (`0x0303`, or the `supported_versions` choice) and suite.
    Hello(u16, u16),
    /// An alert (its description code).
    Alert(u8),
    /// Something else (not TLS, truncated).
    Other,
}

/// Reads the first record of the server's answer from `got`, if complete.
pub fn parse_answer(got: &[u8]) -> Option<Answer> {
    let head = got.get(..5)?;
    let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
    let body = got.get(5..5 + len)?;
    match head[0] {
        0x15 => Some(Answer::Alert(body.get(1).copied().unwrap_or(0))),
        0x16 if body.first() == Some(&2) => {
            Some(server_hello(body.get(4..)?).unwrap_or(Answer::Other))
        }
        _ => Some(Answer::Other),
    }
}

fn server_hello(b: &[u8]) -> Option<Answer> {
    let mut version = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let sid = usize::from(*b.get(34)?);
    let at = 35 + sid;
    let suite = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
    // TLS 1.0/1.1 answers may carry no extensions at all.
    let Some(&[h, l]) = b.get(at + 3..at + 5) else {
        return Some(Answer::Hello(version, suite));
    };
    let mut e = at + 5;
    let end = (e + usize::from(u16::from_be_bytes([h, l]))).min(b.len());
    while e + 4 <= end {
        let kind = u16::from_be_bytes([b[e], b[e + 1]]);
        let n = usize::from(u16::from_be_bytes([b[e + 2], b[e + 3]]));
        if kind == 0x002b && n == 2 {
            version = u16::from_be_bytes([*b.get(e + 4)?, *b.get(e + 5)?]);
        }
        e += 4 + n;
    }
    Some(Answer::Hello(version, suite))
}

/// The outcome name of an answer: `accepted_TLSv1.2_0xc02f`, `refused_alert_70`.
pub fn outcome_name(a: &Answer) -> String {
    match a {
        Answer::Hello(v, s) => {
            let v = match v {
                0x0301 => "TLSv1",
                0x0302 => "TLSv1.1",
                0x0303 => "TLSv1.2",
                0x0304 => "TLSv1.3",
                _ => "unknown",
            };
            format!("accepted_{v}_0x{s:04x}")
        }
        Answer::Alert(d) => format!("refused_alert_{d}"),
        Answer::Other => "refused_not_tls".into(),
    }
}

/// One session: hello out, first record in.
pub(super) async fn run(
    ctx: &PopCtx,
    intended: Instant,
    version: TlsVersion,
    class: TlsCipherClass,
) {
    let ps = ctx.ps();
    let e = &ps.endpoints[ctx.next_ep()];
    let host = ctx
        .shared
        .plan
        .tls
        .sni
        .clone()
        .unwrap_or_else(|| e.target.host.clone());
    let mut random = [0u8; 64];
    for c in random.chunks_mut(8) {
        c.copy_from_slice(&ctx.rand().to_be_bytes());
    }
    let t_conn = Instant::now();
    let limit = ctx
        .shared
        .plan
        .connect_timeout
        .get()
        .max(Duration::from_secs(1));
    let name = match tokio::time::timeout(
        limit,
        exchange(e.addr, &client_hello(version, class, &host, &random)),
    )
    .await
    {
        Ok(n) => n,
        Err(_) => "refused_timeout".into(),
    };
    let now = Instant::now();
    ctx.rec.outcome(&name, t_conn, now);
    ctx.rec.completed(intended, t_conn, now);
}

async fn exchange(addr: std::net::SocketAddr, hello: &[u8]) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return "connect_failed".into();
    };
    if s.write_all(hello).await.is_err() {
        return "refused_reset".into();
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(a) = parse_answer(&got) {
            return outcome_name(&a);
        }
        match s.read(&mut buf).await {
            Ok(0) => return "refused_closed".into(),
            Ok(n) if got.len() < 64 * 1024 => got.extend_from_slice(&buf[..n]),
            Ok(_) => return "refused_not_tls".into(),
            Err(_) => return "refused_reset".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_lengths_are_consistent_and_answers_parse() {
        let h = client_hello(
            TlsVersion::V1_3,
            TlsCipherClass::Modern,
            "example.com",
            &[7; 64],
        );
        assert_eq!(h[0], 0x16);
        assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), h.len() - 5);
        assert_eq!(h[5], 1);
        let body = (usize::from(h[6]) << 16) | (usize::from(h[7]) << 8) | usize::from(h[8]);
        assert_eq!(body, h.len() - 9);
        assert_eq!(
            parse_answer(&[0x15, 3, 3, 0, 2, 2, 70]),
            Some(Answer::Alert(70))
        );
        // A ServerHello choosing TLS 1.3 through supported_versions.
        let mut sh = vec![3u8, 3];
        sh.extend_from_slice(&[0; 32]);
        sh.push(0);
        sh.extend_from_slice(&[0x13, 0x01, 0]);
        sh.extend_from_slice(&[0, 6, 0, 0x2b, 0, 2, 3, 4]);
        let hs = [&[2u8][..], &with_len(3, &sh)[..]].concat();
        let rec = [&[0x16u8, 3, 3][..], &with_len(2, &hs)[..]].concat();
        let a = parse_answer(&rec).expect("complete");
        assert_eq!(outcome_name(&a), "accepted_TLSv1.3_0x1301");
        assert_eq!(parse_answer(&rec[..rec.len() - 1]), None);
    }
}
