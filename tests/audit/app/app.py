"""The user's own ASGI app for `proxylab audit --app app:app` (plain ASGI, no framework): every
request gets 203 and `x-audit-app: asgi`, so a probe run shows that this app answered."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 203,
            "headers": [(b"content-type", b"text/plain"), (b"x-audit-app", b"asgi")],
        }
    )
    await send({"type": "http.response.body", "body": b"the user's app\n"})
