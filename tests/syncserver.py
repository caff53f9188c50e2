"""A sync endpoint over real HTTP on its own event loop in a thread, for tests that play a
peer the daemon does not implement (a rogue one, one that notes when requests arrive): it
reads a request even while the test's own loop is busy. Subclasses say how to answer."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web
from pnyx.federation.syncmsg import Reply, Request, decode_request, encode

from tests.pnyxproc import free_port


class SyncServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def answer(self, message: Request) -> Reply:
        raise NotImplementedError

    async def _handle(self, request: web.Request) -> web.Response:
        return await self._answered(decode_request(await request.read()))

    async def _answered(self, message: Request) -> web.Response:
        return web.Response(body=encode(self.answer(message)), content_type="application/msgpack")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application(client_max_size=16 << 20)
        app.router.add_post("/pnyx/v1/sync", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
