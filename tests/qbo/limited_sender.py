"""One rentsync-like process for the limiter's burst test: N reads through a QboClient whose
limiter shares the realm's budget in PostgreSQL; prints the HTTP statuses QBO answered.

python -m tests.qbo.limited_sender DATABASE_URL API_BASE REALM ACCESS_TOKEN N
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys

from psycopg_pool import AsyncConnectionPool

from rentsync.domain.qbo import LogEntry
from rentsync.qbo import http
from rentsync.qbo.client import QboClient
from rentsync.qbo.limits import Limiter
from rentsync.store.rate_limits import PgRealmBudget


class StaticToken:
    def __init__(self, token: str) -> None:
        self.token = token

    async def current(self) -> str:
        return self.token

    async def refresh(self, rejected: str) -> str:
        return self.token


class Statuses:
    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()

    async def record(self, entry: LogEntry) -> None:
        self.seen[str(entry.status)] += 1


async def main(database_url: str, api_base: str, realm: str, token: str, n: int) -> None:
    async with AsyncConnectionPool(
        database_url, min_size=2, max_size=4, kwargs={"autocommit": True}
    ) as pool:
        limiter = Limiter(budget=PgRealmBudget(pool))
        statuses = Statuses()
        client = QboClient(
            http_client=http.make_client(timeout=60),
            api_base_url=api_base,
            company_id=1,
            realm_id=realm,
            tokens=StaticToken(token),
            limiter=limiter,
            request_log=statuses,
        )
        print("ready", flush=True)
        sys.stdin.readline()  # both processes start together
        await asyncio.gather(*(client.company_info() for _ in range(n)))
        await limiter.aclose()
        print(json.dumps(dict(statuses.seen)), flush=True)


if __name__ == "__main__":
    url, base, realm_id, access, count = sys.argv[1:6]
    asyncio.run(main(url, base, realm_id, access, int(count)))
