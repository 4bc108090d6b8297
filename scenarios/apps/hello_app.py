"""FastAPI hello world for the uvicorn-throughput scenario (the article's "Uvicorn alone handles
10K requests per second")."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root():
    return {"message": "Hello World"}
