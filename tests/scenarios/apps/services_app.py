"""A real ASGI app using the run's PostgreSQL and Redis (URLs from the runner's environment).

GET /db    -> one connection per request, `SELECT count(*) FROM pg_stat_activity`
GET /orders -> one connection per request, `SELECT count(*) FROM orders` (the table the
              scenario's `init_sql` made; a `lock_table` fault makes it wait)
GET /cache -> PING over a raw RESP connection (no client library needed); anything but +PONG
              (maxclients' -ERR, a closed connection) is an error: 500
"""
import asyncio
import os

import psycopg

DB = os.environ.get("PROXYLAB_SERVICE_DB_URL", "")
CACHE = os.environ.get("PROXYLAB_SERVICE_CACHE_URL", "")


def db_query(sql="SELECT count(*) FROM pg_stat_activity"):
    with psycopg.connect(DB, connect_timeout=5) as conn:
        return conn.execute(sql).fetchone()[0]


async def cache_ping():
    host_port = CACHE.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"PING\r\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    if not line.startswith(b"+PONG"):
        # e.g. "-ERR max number of clients reached" (maxclients), or closed (server down)
        raise ConnectionError(line.strip().decode() or "Redis closed the connection")
    return line.strip().decode()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    try:
        if path == "/db":
            body = f"connections={await asyncio.to_thread(db_query)}"
        elif path == "/orders":
            body = f"orders={await asyncio.to_thread(db_query, 'SELECT count(*) FROM orders')}"
        elif path == "/cache":
            body = await cache_ping()
        else:
            body = "ok"
        status = 200
    except Exception as e:  # the error class is the point of an outage test
        body, status = f"{type(e).__name__}: {e}", 500
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})
