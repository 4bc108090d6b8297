//! One HTTP/2 request stream through the request pipeline: the stream's head, stored once in
//! the form a `RequestHead` keeps (the bytes `$request`, logs and proxying see), is checked
//! with the same rules as any HTTP/1.1 head (sizes, Host, lengths; its pieces' places are
//! known, so it is parsed only when a piece needs the parser's treatment) and handed straight
//! to the phases ([`handle`]) with the stream as the client session. A head the rules reject
//! gets the connection loop's answer for it (`conn::reject`: the info line, the error page,
//! the access log).

use super::super::conn::{head_limits, reject};
use crate::conf::model::Server;
use crate::http::head::Limits;
use crate::http::head::{self, HeaderList};
use crate::live::{Gauge, Route, Shared};
use crate::phases::handle;
use crate::request::client::Client;
use crate::request::ctx::ConnInfo;
use crate::request::h2::session::H2Stream;
use crate::request::stream::Stream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The connection a stream belongs to.
pub struct ConnOf {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
    /// Over TLS.
    pub https: bool,
    /// The TLS client's SNI name (normalised).
    pub sni: Option<Arc<str>>,
}

/// Serves the one request of an HTTP/2 stream (see the module docs).
pub async fn serve(mut session: Box<H2Stream>, conn: ConnOf, shared: Arc<Shared>) {
    let ConnOf {
        peer,
        local,
        https,
        sni,
    } = conn;
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let live = shared.live.load_full();
    let Some(route) = live.route(local) else {
        return;
    };
    // The connection's server: the one SNI chose, else the default (nginx's `hc->conf_ctx`).
    let first = route.first(sni.as_deref());
    let limits = stream_limits(&live.config.http.servers, route, first, &session);
    let (mut buf, written) = session.take_head();
    let reading = Gauge::new(&shared.stats.reading);
    // Both move the bytes into the head only when it is accepted.
    let parsed = match written {
        Some(w) => head::assemble(&mut buf, w, &limits).map(Some),
        None => head::take(&mut buf, &limits, &mut HeaderList::new()),
    };
    drop(reading);
    let ci = ConnInfo {
        peer,
        local,
        id,
        requests: 1,
        https,
        started: crate::logs::time::now_mono(),
        h2: true,
        sni,
    };
    // A complete head always (the stream carries all of it); dropping the session answers
    // 500 otherwise.
    let head = match parsed {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(why) => {
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            let _writing = Gauge::new(&shared.stats.writing);
            // the head's bytes stay in `buf` when it is refused: its info line quotes them
            let mut client = Client {
                stream: Stream::H2(session),
                buf,
            };
            return reject(&mut client, &live, &shared, &ci, first, why).await;
        }
    };
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let _writing = Gauge::new(&shared.stats.writing);
    let mut client = Client {
        stream: Stream::H2(session),
        buf,
    };
    // The head carries `Connection: close`: the stream ends with this request whatever
    // `handle` answers, and dropping the stream ends its response.
    let _ = handle(&mut client, &head, &ci, &live, &shared, route).await;
}

/// The head limits of a stream: the sizes of the connection's server (`first`, as nginx's
/// header-block limits), the header-name rules (`underscores_in_headers`,
/// `ignore_invalid_headers`) of the server the request names, as nginx checks each field with
/// the request's server at that moment and the regular fields follow `:authority`.
fn stream_limits(servers: &[Arc<Server>], route: &Route, first: usize, s: &H2Stream) -> Limits {
    let mut lim = head_limits(&servers[first]);
    if route.header_rules_differ
        && let Some(host) = s.named_host()
    {
        let named = &servers[route.select(Some(host.as_slice()))];
        lim.underscores = named.underscores_in_headers;
        lim.ignore_invalid = named.ignore_invalid_headers;
    }
    lim
}
