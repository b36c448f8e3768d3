"""The emulator's own throughput, in-process over an ASGI transport with limits off.

Prints requests/s for creates, queries and reads, each with its ratio to a trivial ASGI endpoint
measured in the same process (the client's own cost), so no benchmark mistakes the emulator for
the bottleneck. Queries run against a company holding N customers, N/4 items and N/4 invoices.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from qbo_emulator.testing import authorised_client

N = 2000
Call = Callable[[int], Awaitable[httpx2.Response]]


async def _trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _rate(call: Call, n: int = N) -> float:
    start = time.perf_counter()
    for i in range(n):
        response = await call(i)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text}")
    return n / (time.perf_counter() - start)


async def _run() -> dict[str, float]:
    transport = httpx2.ASGITransport(app=_trivial_app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://baseline") as baseline:
        rates = {"baseline (trivial ASGI app)": await _rate(lambda i: baseline.get("/"))}
    client, realm, app = authorised_client()
    income = app.emulator.companies[realm].preset_accounts["services"]
    async with client:
        url = f"/v3/company/{realm}"

        def query(text: str) -> Call:
            return lambda i: client.get(f"{url}/query", params={"query": text.format(i=i)})

        async def create(entity: str, body: dict[str, Any]) -> str:
            response = await client.post(f"{url}/{entity.lower()}", json=body)
            return str(response.json()[entity]["Id"])

        rates["create Customer"] = await _rate(
            lambda i: client.post(f"{url}/customer", json={"DisplayName": f"Customer {i}"})
        )
        item = {"Type": "Service", "IncomeAccountRef": {"value": income}}
        rates["create Item"] = await _rate(
            lambda i: client.post(f"{url}/item", json={"Name": f"Item {i}", **item}), n=N // 4
        )
        customer = await create("Customer", {"DisplayName": "Invoiced"})
        service = await create("Item", {"Name": "Invoiced service", **item})
        invoice = {
            "CustomerRef": {"value": customer},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 10,
                    "SalesItemLineDetail": {"ItemRef": {"value": service}, "Qty": 1},
                }
            ],
        }
        rates["create Invoice"] = await _rate(
            lambda i: client.post(f"{url}/invoice", json=invoice), n=N // 4
        )
        rates["query Customer by DisplayName"] = await _rate(
            query("select * from Customer where DisplayName = 'Customer {i}'"), n=N // 2
        )
        rates["query Invoice by DocNumber"] = await _rate(
            lambda i: query(f"select * from Invoice where DocNumber = '{1001 + i % (N // 4)}'")(i),
            n=N // 2,
        )
        rates["query Item by Name"] = await _rate(
            query("select * from Item where Name = 'Item {i}'"), n=N // 2
        )
        rates["read Customer by Id"] = await _rate(
            lambda i: client.get(f"{url}/customer/{customer}"), n=N // 2
        )
    return rates


def main() -> None:
    rates = asyncio.run(_run())
    base = rates["baseline (trivial ASGI app)"]
    print(f"emulator (in-process, limits off), {N} customers, {N // 4} items, {N // 4} invoices:")
    for key, rate in rates.items():
        print(f"  {key:<30} {rate:8.0f} req/s  ({rate / base:.2f} x baseline)")


if __name__ == "__main__":
    main()
