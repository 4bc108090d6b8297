"""A bare ASGI app for the framework-cost scenario: the same JSON answer as hello_app.py's
FastAPI route, written against ASGI directly (no routing, no validation, no serialisation
layer), so that Uvicorn's own HTTP handling can be told apart from FastAPI's."""

BODY = b'{"message":"Hello World"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
