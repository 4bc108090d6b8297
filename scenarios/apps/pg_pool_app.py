"""FastAPI + SQLAlchemy against the run's real PostgreSQL (its URL from the runner's
environment, PROXYLAB_SERVICE_DB_URL): the article's pool, pool_size=10 and max_overflow=20,
in every Uvicorn worker process.

GET /orders?ms=500 -> checks a connection out of the pool and runs `SELECT pg_sleep(0.5)` on
it (a 500 ms query), then returns it. A sync endpoint (`def`): FastAPI runs it in the worker's
threadpool (40 threads), more than the pool's 30 connections, so the pool is what limits.
A connection PostgreSQL refuses (`FATAL: sorry, too many clients already`) raises
OperationalError and FastAPI answers 500.

GET /orders/{id}?ms=20 -> the same pool, `SELECT item, pg_sleep(...) FROM orders WHERE id = ...`
on the `orders` table the scenario's `init_sql` made: a query that waits in PostgreSQL while
another session locks the table (`lock_table`), and that the server's `statement_timeout`
cancels (QueryCanceled, an OperationalError: FastAPI answers 500).
"""

import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import create_engine, text

URL = os.environ.get("PROXYLAB_SERVICE_DB_URL", "postgresql://postgres@127.0.0.1/postgres")
engine = create_engine(
    URL.replace("postgresql://", "postgresql+psycopg://", 1),
    pool_size=10,
    max_overflow=20,
    pool_timeout=30,
)
app = FastAPI()


@app.get("/orders")
def orders(ms: float = 500.0):
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": ms / 1000.0})
    return PlainTextResponse("ok")


@app.get("/orders/{order_id}")
def order(order_id: int, ms: float = 20.0):
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT item, pg_sleep(:s) FROM orders WHERE id = :id"),
            {"s": ms / 1000.0, "id": order_id},
        ).first()
    return PlainTextResponse(row[0] if row else "none")
