"""FastAPI app for the offload scenario: a JSON API route and the static files of
scenarios/static/ (served by FastAPI's StaticFiles when nothing in front serves them)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

app = FastAPI()
ITEMS = [{"id": i, "name": f"item {i}", "price": i * 1.5} for i in range(20)]


@app.get("/api/items")
async def items():
    return ITEMS


app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent.parent / "static"), name="static")
