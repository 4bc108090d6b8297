"""FastAPI app for the workers-per-core scenario: three kinds of work per request.

- /cpu: CPU-bound (`async def` spinning `ms` of this thread's CPU time);
- /io: awaited I/O (`await asyncio.sleep`): the event loop serves others meanwhile;
- /sync-io: blocking I/O inside `async def` (`time.sleep`, like a sync DB driver or
  `requests.get`): the worker's event loop is stuck but uses no CPU.
"""

import asyncio
import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/cpu")
async def cpu(ms: float = 4.0):
    end = time.thread_time() + ms / 1000.0
    n = 0
    while time.thread_time() < end:
        n += 1
    return {"spins": n}


@app.get("/io")
async def io(ms: float = 50.0):
    await asyncio.sleep(ms / 1000.0)
    return {"slept_ms": ms}


@app.get("/sync-io")
async def sync_io(ms: float = 50.0):
    time.sleep(ms / 1000.0)
    return {"slept_ms": ms}
