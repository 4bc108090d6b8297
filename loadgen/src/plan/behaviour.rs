//! Client behaviours: what one session of a population does on the wire.

use super::Dur;
pub use crate::transport::h2attack::H2Attack;
use serde::{Deserialize, Serialize};

/// What a client of a population does. The load model decides when sessions start (open loop:
/// one per arrival; closed loop: each client starts the next when the previous ends); the
/// behaviour decides what a session is. Requests use the population's request mix.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// One ordinary request and its response per session.
    Normal {},
    /// Slowloris: send the request line, then one more header line every `interval`, never
    /// finishing the header, for up to `max_hold`. Records how long the server kept the
    /// connection and how it ended (status, close, reset).
    SlowHeaders {
        /// Time between header lines. Default `"10s"`.
        #[serde(default = "d10s")]
        interval: Dur,
        /// Give up (and close) after this long. Default `"60s"`.
        #[serde(default = "d60s")]
        max_hold: Dur,
    },
    /// Slow POST: declare `Content-Length: declared_bytes`, then send `chunk_bytes` every
    /// `interval` until done or `max_hold`.
    SlowBody {
        /// Content-Length announced. Default 1048576.
        #[serde(default = "mib")]
        declared_bytes: u64,
        /// Bytes per write. Default 16.
        #[serde(default = "sixteen")]
        chunk_bytes: u64,
        /// Time between writes. Default `"1s"`.
        #[serde(default = "d1s")]
        interval: Dur,
        /// Give up after this long. Default `"60s"`.
        #[serde(default = "d60s")]
        max_hold: Dur,
    },
    /// Slow reader: small receive buffer, reads the response at `bytes_per_sec`.
    SlowReader {
        /// Read rate in bytes per second. Default 1024.
        #[serde(default = "kib")]
        bytes_per_sec: u64,
        /// SO_RCVBUF in bytes (the kernel may round it). Default 4096.
        #[serde(default = "four_kib")]
        recv_buffer: u32,
        /// Give up after this long. Default `"60s"`.
        #[serde(default = "d60s")]
        max_hold: Dur,
    },
    /// Upload a `bytes`-byte body (streamed in 64 KiB writes, `x-body-sha256` sent) with the
    /// request mix's method (use POST/PUT).
    LargeUpload {
        /// Body size in bytes. Default 10485760.
        #[serde(default = "ten_mib")]
        bytes: u64,
    },
    /// Open a connection and send nothing; hold it for `hold` or until the server closes it.
    IdleHoarder {
        /// How long to hold. Default `"60s"`.
        #[serde(default = "d60s")]
        hold: Dur,
    },
    /// WebSocket handshake on the request mix's path, then hold silently for `hold`; records
    /// when and how it was closed (close code, reset, timeout).
    WsIdle {
        /// How long to hold. Default `"60s"`.
        #[serde(default = "d60s")]
        hold: Dur,
    },
    /// WebSocket that sends `messages_per_sec` text messages of `message_bytes` and measures
    /// the echo round trip (the server must echo), for `hold`.
    WsChatty {
        /// Messages per second per connection. Default 1.
        #[serde(default = "one_f")]
        messages_per_sec: f64,
        /// Message size in bytes. Default 64.
        #[serde(default = "sixty_four")]
        message_bytes: usize,
        /// Session length. Default `"60s"`.
        #[serde(default = "d60s")]
        hold: Dur,
    },
    /// Each session connects (TCP+TLS, plus a WebSocket handshake if `websocket`), makes one
    /// request (or handshake), holds the connection for `hold`, drops it, waits `backoff`.
    /// Drive it with a spike stage or many closed-loop clients to make a storm.
    ReconnectStorm {
        /// How long each connection is held. Default `"0s"`.
        #[serde(default)]
        hold: Dur,
        /// Wait after dropping before the session ends. Default `"0s"`.
        #[serde(default)]
        backoff: Dur,
        /// Reconnect as WebSockets (handshake) rather than plain HTTP requests. Default false.
        #[serde(default)]
        websocket: bool,
    },
    /// A TLS scanner's probe: each session writes one ClientHello for `version` offering the
    /// `ciphers` class and records the answer as an outcome (`accepted_TLSv1.2_0xc02f`: the
    /// version and suite the server chose; `refused_alert_70`, `refused_closed`,
    /// `refused_reset`). Needs an `https://` target; no request is sent.
    TlsHello {
        /// Protocol version offered (`"1.0"`, `"1.1"`, `"1.2"`, `"1.3"`).
        version: TlsVersion,
        /// Cipher suites offered (`modern`, `cbc`, `rsa`, `legacy`, `all`). Default `all`.
        #[serde(default)]
        ciphers: TlsCipherClass,
    },
    /// One of the known HTTP/2 attacks on each connection (rapid reset, CONTINUATION flood,
    /// HPACK bomb, SETTINGS or PING flood, zero-window stall, stream exhaustion), written frame
    /// by frame, for `hold` or until the server closes. Needs `protocol = "h2"` or `"h2c"`.
    H2Abuse {
        /// Which attack (`rapid_reset`, `continuation_flood`, `hpack_bomb`, `settings_flood`,
        /// `ping_flood`, `zero_window`, `stream_exhaustion`).
        attack: H2Attack,
        /// How long each connection attacks. Default `"10s"`.
        #[serde(default = "d10s")]
        hold: Dur,
    },
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour::Normal {}
    }
}

impl Behaviour {
    /// The behaviour's name as written in plans (`slow_headers`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Behaviour::Normal {} => "normal",
            Behaviour::SlowHeaders { .. } => "slow_headers",
            Behaviour::SlowBody { .. } => "slow_body",
            Behaviour::SlowReader { .. } => "slow_reader",
            Behaviour::LargeUpload { .. } => "large_upload",
            Behaviour::IdleHoarder { .. } => "idle_hoarder",
            Behaviour::WsIdle { .. } => "ws_idle",
            Behaviour::WsChatty { .. } => "ws_chatty",
            Behaviour::ReconnectStorm { .. } => "reconnect_storm",
            Behaviour::H2Abuse { .. } => "h2_abuse",
            Behaviour::TlsHello { .. } => "tls_hello",
        }
    }

    /// True for behaviours that speak WebSocket.
    pub fn is_websocket(&self) -> bool {
        matches!(
            self,
            Behaviour::WsIdle { .. }
                | Behaviour::WsChatty { .. }
                | Behaviour::ReconnectStorm {
                    websocket: true,
                    ..
                }
        )
    }

    /// True for behaviours that write raw HTTP/1.1 bytes (no HTTP/2).
    pub fn needs_h1(&self) -> bool {
        !matches!(
            self,
            Behaviour::Normal {}
                | Behaviour::H2Abuse { .. }
                | Behaviour::TlsHello { .. }
                | Behaviour::ReconnectStorm {
                    websocket: false,
                    ..
                }
        )
    }
}

/// A TLS protocol version offered by `tls_hello`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum TlsVersion {
    /// TLS 1.0 (deprecated, RFC 8996).
    #[serde(rename = "1.0")]
    V1_0,
    /// TLS 1.1 (deprecated, RFC 8996).
    #[serde(rename = "1.1")]
    V1_1,
    /// TLS 1.2.
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    V1_3,
}

/// The cipher suites `tls_hello` offers.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TlsCipherClass {
    /// ECDHE with AES-GCM or ChaCha20-Poly1305, and the TLS 1.3 suites.
    Modern,
    /// ECDHE with AES-CBC.
    Cbc,
    /// Static RSA key exchange (no forward secrecy).
    Rsa,
    /// 3DES, RC4, NULL, EXPORT and anonymous suites.
    Legacy,
    /// All of the above.
    #[default]
    All,
}

fn d1s() -> Dur {
    Dur::secs(1)
}
fn d10s() -> Dur {
    Dur::secs(10)
}
fn d60s() -> Dur {
    Dur::secs(60)
}
fn mib() -> u64 {
    1 << 20
}
fn ten_mib() -> u64 {
    10 << 20
}
fn kib() -> u64 {
    1024
}
fn four_kib() -> u32 {
    4096
}
fn sixteen() -> u64 {
    16
}
fn sixty_four() -> usize {
    64
}
fn one_f() -> f64 {
    1.0
}
