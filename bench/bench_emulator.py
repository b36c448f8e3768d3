"""The emulator's own throughput, in-process over an ASGI transport with limits off.

Prints creates/s and queries/s and their ratio to a trivial ASGI endpoint measured in the same
process, so no benchmark mistakes the emulator for the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from qbo_emulator.testing import authorised_client

N = 2000


async def _trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _rate(call: Callable[[int], Awaitable[Any]], n: int = N) -> float:
    start = time.perf_counter()
    for i in range(n):
        await call(i)
    return n / (time.perf_counter() - start)


async def _run() -> dict[str, float]:
    transport = httpx2.ASGITransport(app=_trivial_app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://baseline") as baseline:
        base = await _rate(lambda i: baseline.get("/"))
    client, realm, _ = authorised_client()
    async with client:
        url = f"/v3/company/{realm}"
        creates = await _rate(
            lambda i: client.post(f"{url}/customer", json={"DisplayName": f"Customer {i}"})
        )
        query = {"query": "select * from Customer where DisplayName = 'Customer 7'"}
        queries = await _rate(lambda i: client.get(f"{url}/query", params=query), n=N // 4)
    return {"baseline": base, "creates": creates, "queries": queries}


def main() -> None:
    rates = asyncio.run(_run())
    print(f"emulator (in-process, limits off), {N} customers:")
    print(f"  baseline trivial ASGI endpoint: {rates['baseline']:8.0f} req/s")
    for key in ("creates", "queries"):
        ratio = rates[key] / rates["baseline"]
        print(f"  {key:<8} {rates[key]:8.0f} req/s  ({ratio:.2f} x baseline)")


if __name__ == "__main__":
    main()
