"""Reference FastAPI app for the differential tests: the same routes as the fake upstream's
default app, served by real uvicorn (`python3 -m uvicorn app:app --app-dir THIS_DIR ...`).

Pool settings come from the environment: PROXYLAB_POOL_SIZE (5), PROXYLAB_MAX_OVERFLOW (10),
PROXYLAB_POOL_TIMEOUT (30 s). The database is a throw-away SQLite file in a temp directory.
"""

import asyncio
import hashlib
import os
import tempfile
import time

from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

app = FastAPI()

_db_dir = tempfile.mkdtemp(prefix="proxylab-fastapi-")
engine = create_engine(
    f"sqlite:///{_db_dir}/db.sqlite",
    poolclass=QueuePool,
    pool_size=int(os.environ.get("PROXYLAB_POOL_SIZE", "5")),
    max_overflow=int(os.environ.get("PROXYLAB_MAX_OVERFLOW", "10")),
    pool_timeout=float(os.environ.get("PROXYLAB_POOL_TIMEOUT", "30")),
    connect_args={"check_same_thread": False},
)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@app.get("/")
async def root():
    return {"message": "Hello World"}


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/sleep")
async def sleep(ms: int = 0):
    await asyncio.sleep(max(ms, 0) / 1000)
    return {"slept_ms": ms}


@app.get("/block")
async def block(ms: int = 0):
    end = time.monotonic() + max(ms, 0) / 1000
    while time.monotonic() < end:
        pass
    return {"blocked_ms": ms}


@app.get("/thread")
def thread(ms: int = 0):
    time.sleep(max(ms, 0) / 1000)
    return {"thread_ms": ms}


@app.get("/db")
def db(ms: int = 0):
    with engine.connect() as conn:
        conn.execute(text("select 1"))
        time.sleep(max(ms, 0) / 1000)
    return {"db_ms": ms}


@app.get("/status/{code}")
async def status(code: int):
    return Response(status_code=code)


@app.get("/bytes/{n}")
async def nbytes(n: int):
    body = pattern(n)
    return Response(
        content=body,
        media_type="application/octet-stream",
        headers={"x-body-sha256": hashlib.sha256(body).hexdigest()},
    )


@app.post("/echo")
async def echo(request: Request):
    body = await request.body()
    return {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await websocket.send_text(msg["text"])
            elif msg.get("bytes") is not None:
                await websocket.send_bytes(msg["bytes"])
    except WebSocketDisconnect:
        return
