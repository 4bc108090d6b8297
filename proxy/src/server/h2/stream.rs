//! One HTTP/2 request stream through the request pipeline: the stream's head, written once as
//! HTTP/1.1 (the bytes `$request`, logs and proxying see), is checked with the same rules as
//! any HTTP/1.1 head (sizes, Host, lengths; its pieces' places are known, so it is parsed
//! only when a piece needs the parser's treatment) and handed straight to the phases
//! ([`handle`]). The HTTP/1.1 connection loop
//! (`conn::serve_stream`) would do the same with more per-stream work: a 4 KiB read buffer
//! (a size whose allocator pages are freed and refetched as streams come and go), the
//! drain and reload subscriptions it only needs between keep-alive requests, a timed read.
//! A head that fails to parse goes through that loop unchanged (its error answers and logs).

use crate::http::head::{self, HeaderList, Limits};
use crate::live::{Gauge, Shared};
use crate::phases::handle;
use crate::request::client::Client;
use crate::request::ctx::ConnInfo;
use crate::request::h2::io::H2Io;
use crate::request::stream::Stream;
use crate::server::conn::serve_stream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Serves the one request of an HTTP/2 stream (see the module docs).
pub async fn serve(
    mut io: Box<H2Io>,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    https: bool,
) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let live = shared.live.load_full();
    let Some(route) = live.route(local) else {
        return;
    };
    let default = &live.config.http.servers[route.default];
    let limits = Limits::of(default);
    let (mut buf, written) = io.take_head();
    let reading = Gauge::new(&shared.stats.reading);
    // Both move the bytes into the head only when it is accepted.
    let parsed = match written {
        Some(w) => head::assemble(&mut buf, w, &limits).map(Some),
        None => head::take(&mut buf, &limits, &mut HeaderList::new()),
    };
    drop(reading);
    let Ok(Some(head)) = parsed else {
        // Rejected (or, impossibly, incomplete): the connection loop reads the same bytes
        // and answers exactly as for HTTP/1.1.
        io.unread(buf);
        return serve_stream(Stream::Mem(io), peer, local, shared, https).await;
    };
    let ci = ConnInfo {
        peer,
        local,
        id,
        requests: 1,
        https,
        started: crate::logs::time::now_mono(),
        h2: true,
    };
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let _writing = Gauge::new(&shared.stats.writing);
    let mut client = Client {
        stream: Stream::Mem(io),
        buf,
    };
    // The head carries `Connection: close`: the stream ends with this request whatever
    // `handle` answers, and dropping the stream ends its response.
    let _ = handle(&mut client, &head, &ci, &live, &shared, route).await;
}
