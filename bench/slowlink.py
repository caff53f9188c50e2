"""A link with a long round trip, for catching up over it: `python -m bench.slowlink PORT TARGET RTT_MS`.

Listens on 127.0.0.1:PORT and relays each connection to 127.0.0.1:TARGET, every chunk in
either direction held back half of RTT_MS after it arrived (a delay line: chunks in flight
overlap, so the bandwidth stays the loopback's and only the latency grows), as a mesh link or
a village's long-distance radio would. It runs in its own process, so that the pulling
process's event loop, busy storing, delays nothing more.
"""

from __future__ import annotations

import asyncio
import sys

CHUNK = 1 << 16


async def carry(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
    """Copy source to sink, each chunk written `delay` seconds after it was read."""
    loop = asyncio.get_running_loop()
    line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await line.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                sink.close()
                return
            sink.write(data)
            await sink.drain()

    delivering = asyncio.ensure_future(deliver())
    while data := await source.read(CHUNK):
        line.put_nowait((loop.time() + delay, data))
    line.put_nowait((loop.time() + delay, b""))
    await delivering


async def serve(port: int, target: int, rtt: float) -> None:
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        try:
            await asyncio.gather(carry(reader, upstream_writer, rtt / 2),
                                 carry(upstream_reader, writer, rtt / 2))
        except ConnectionError:
            pass
        finally:
            writer.close()
            upstream_writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
