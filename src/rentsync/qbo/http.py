"""The only module that imports the HTTP library: it builds clients and translates its errors.

Switching back to `httpx` (or to another fork) is a change to this file only. Every transport
error becomes a `rentsync.qbo.errors` class here, once, chained to its cause:

- the request never left (connect refused, DNS, connect/pool timeout) -> `Unreachable`
- it was sent and no answer came in time (read timeout, the deadline)  -> `NoAnswerInTime`
- the connection dropped before an answer                              -> `UncertainOutcome`

A request's timeout is a deadline for the whole exchange (connect, send, every chunk of the
answer), not httpx's per-phase timeouts, which add up: the limiter's slot lease relies on a
request ending by its deadline (`rentsync.qbo.limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from rentsync.qbo import errors

Transport = httpx2.AsyncBaseTransport
AsyncClient = httpx2.AsyncClient
Timeout = httpx2.Timeout
Request = httpx2.Request
Response = httpx2.Response

DEFAULT_TIMEOUT_SECONDS = 30.0


def make_client(
    *,
    base_url: str = "",
    transport: Transport | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> httpx2.AsyncClient:
    """An async client with a timeout on every request (connect gets at most 10 s)."""
    return httpx2.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=timeout_for(timeout),
        follow_redirects=False,
        trust_env=transport is None,
    )


def timeout_for(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, connect=min(seconds, 10.0))


@contextlib.contextmanager
def translated(*, what: str) -> Iterator[None]:
    """Turn transport errors raised inside the block into QBO errors."""
    try:
        yield
    except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
        raise errors.Unreachable(f"{what}: could not connect ({type(exc).__name__})") from exc
    except (httpx2.TimeoutException, TimeoutError) as exc:
        raise errors.NoAnswerInTime(f"{what}: no answer in time ({type(exc).__name__})") from exc
    except (httpx2.TransportError, httpx2.StreamError) as exc:
        raise errors.UncertainOutcome(
            f"{what}: the connection broke before an answer ({type(exc).__name__})"
        ) from exc


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What came back from one request, read in full."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    duration_ms: float

    @property
    def intuit_tid(self) -> str | None:
        return self.headers.get("intuit_tid")


async def send(
    client: httpx2.AsyncClient,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
) -> Answer:
    """One request, read in full; `timeout_seconds` bounds the whole exchange."""
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if timeout_seconds is not None:
        extra["timeout"] = timeout_for(timeout_seconds)
    with translated(what=f"{method} {url.split('?')[0]}"):
        async with asyncio.timeout(timeout_seconds):
            response = await client.request(
                method, url, params=params, content=content, headers=headers, **extra
            )
            body = await response.aread()
    return Answer(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=body,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def request_body(request: httpx2.Request) -> bytes:
    """The bytes a request carried (for the QuickBooks log); empty for a streamed body."""
    try:
        return request.content
    except httpx2.RequestNotRead:
        return b""
