//! The control channel: one JSON object per line over TCP on 127.0.0.1, one JSON answer per
//! line. Requests open links and add or remove toxics; the answer says `ok` or names the
//! error.

use crate::link::Link;
use crate::toxic::ToxicSpec;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A request on the control channel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Open link `link` on a free port, relaying to `backend`; answers `port`.
    Listen {
        /// Link name (`proxy->api.0`).
        link: String,
        /// Where connections go.
        backend: SocketAddr,
    },
    /// Add (or replace) toxic `id` on `link`.
    Add {
        /// Link name.
        link: String,
        /// Toxic id.
        id: u64,
        /// The toxic.
        toxic: ToxicSpec,
    },
    /// Remove toxic `id` from `link`.
    Remove {
        /// Link name.
        link: String,
        /// Toxic id.
        id: u64,
    },
    /// Counters of every link.
    Stats,
}

/// Counters of one link.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Bytes client → server.
    pub bytes_up: u64,
    /// Bytes server → client.
    pub bytes_down: u64,
}

/// The answer to a request.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// Success.
    pub ok: bool,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `listen`: the link's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `stats`: per link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<BTreeMap<String, LinkStats>>,
}

impl Response {
    fn err(e: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(e.into()),
            ..Response::default()
        }
    }

    fn ok() -> Response {
        Response {
            ok: true,
            ..Response::default()
        }
    }
}

/// Every link of a relay process.
#[derive(Debug, Default)]
pub struct Relay {
    links: Mutex<HashMap<String, Arc<Link>>>,
    seed: u64,
}

impl Relay {
    /// An empty relay; connection draws (toxicity, jitter) derive from `seed`.
    pub fn new(seed: u64) -> Relay {
        Relay {
            links: Mutex::default(),
            seed,
        }
    }

    fn link(&self, name: &str) -> Option<Arc<Link>> {
        self.links.lock().ok()?.get(name).cloned()
    }

    /// Carries out one request (inside a Tokio runtime).
    pub fn handle(&self, req: Request) -> Response {
        match req {
            Request::Listen { link, backend } => {
                let Ok(mut links) = self.links.lock() else {
                    return Response::err("internal: lock poisoned");
                };
                if links.contains_key(&link) {
                    return Response::err(format!("link {link:?} already open"));
                }
                let seed = self.seed ^ crate::state::mix(links.len() as u64 + 1);
                match Link::open(backend, seed) {
                    Ok(l) => {
                        let port = l.port;
                        links.insert(link, l);
                        Response {
                            port: Some(port),
                            ..Response::ok()
                        }
                    }
                    Err(e) => Response::err(format!("link {link:?}: cannot listen: {e}")),
                }
            }
            Request::Add { link, id, toxic } => match (self.link(&link), toxic.validate()) {
                (None, _) => Response::err(format!("no link {link:?}")),
                (_, Err(e)) => Response::err(e.to_string()),
                (Some(l), Ok(())) => {
                    l.add(id, toxic);
                    Response::ok()
                }
            },
            Request::Remove { link, id } => match self.link(&link) {
                None => Response::err(format!("no link {link:?}")),
                Some(l) if l.remove(id) => Response::ok(),
                Some(_) => Response::err(format!("no toxic {id} on {link:?}")),
            },
            Request::Stats => {
                let links = self.links.lock().map(|m| m.clone()).unwrap_or_default();
                let stats = links
                    .into_iter()
                    .map(|(k, l)| {
                        let s = &l.stats;
                        let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                        let v = LinkStats {
                            accepted: r(&s.accepted),
                            active: r(&s.active),
                            bytes_up: r(&s.bytes_up),
                            bytes_down: r(&s.bytes_down),
                        };
                        (k, v)
                    })
                    .collect();
                Response {
                    links: Some(stats),
                    ..Response::ok()
                }
            }
        }
    }
}

/// Serves the control channel on `listener` forever.
pub async fn serve(relay: Arc<Relay>, listener: TcpListener) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let relay = relay.clone();
        tokio::spawn(async move {
            let (rd, mut wr) = sock.into_split();
            let mut lines = BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let resp = match serde_json::from_str::<Request>(&line) {
                    Ok(req) => relay.handle(req),
                    Err(e) => Response::err(format!("bad request: {e}")),
                };
                let mut out = serde_json::to_string(&resp).unwrap_or_default();
                out.push('\n');
                if wr.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}
