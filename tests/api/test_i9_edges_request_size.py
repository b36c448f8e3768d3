"""Issue 9, the product's edges, the size of a request (issue 13): a body larger than
`RENTSYNC_MAX_REQUEST_BYTES` is refused with 413 before it is read whole (from its
Content-Length, or as a chunked body passes the limit), while the rental system's largest
documents still fit; a 422 echoes a cut of the offending input, never all of it, and lists a
bounded number of problems. One home: api/request_guard.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from rentsync.api import request_guard
from rentsync.settings import MIN_REQUEST_BYTES, Settings, SettingsError, load_settings
from tests import ingest_fixtures as make
from tests.api.serving import served_api
from tests.conftest import CompanyKey, api_client_for, company_key

SMALL_LIMIT = MIN_REQUEST_BYTES


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    async with api_client_for(settings, with_worker=False) as client:
        yield client


@pytest.fixture
async def small(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """The API with the smallest limit the settings allow (64 KiB)."""
    limited = dataclasses.replace(settings, max_request_bytes=SMALL_LIMIT)
    async with api_client_for(limited, with_worker=False) as client:
        yield client


def _largest_order() -> dict[str, Any]:
    """The largest order the API accepts: every list at its longest, every text at its
    longest (plain ASCII), each line with its rental period."""

    def line(n: int) -> dict[str, Any]:
        return {
            "product_id": f"P-{n:04d}".ljust(64, "x"),
            "description": "A" * 4000,
            "quantity": "12345.6789",
            "rate": "99999.99",
            "amount": str((Decimal("12345.6789") * Decimal("99999.99")).quantize(Decimal("0.01"))),
            "taxable": True,
            "rental_period": {"start": "2026-11-20", "end": "2026-12-20"},
        }

    lines = [line(n) for n in range(500)]
    fees = [line(1000 + n) for n in range(50)]
    subtotal = sum((Decimal(x["amount"]) for x in (*lines, *fees)), Decimal("0.00"))
    return {
        "kind": "order",
        "customer_id": "C-".ljust(64, "c"),
        "invoice_number": "I" * 21,
        "invoice_date": "2026-11-20",
        "due_date": "2026-12-20",
        "rental_period": {"start": "2026-11-20", "end": "2026-12-20"},
        "lines": lines,
        "fees": fees,
        "discounts": [{"description": "D" * 4000, "amount": "0.01"} for _ in range(20)],
        "tax_rate_id": "T" * 64,
        "totals": {
            "subtotal": str(subtotal),
            "discount": "0.20",
            "tax": "0.00",
            "total": str(subtotal - Decimal("0.20")),
        },
        "version": 9_223_372_036_854_775_807,
        "reason": "manual_update",
    }


async def test_i9_the_rental_system_s_largest_order_fits_under_the_default_limit(
    api: httpx2.AsyncClient, company: CompanyKey, settings: Settings
) -> None:
    order = _largest_order()
    size = len(json.dumps(order).encode())
    assert 2_000_000 < size < settings.max_request_bytes  # about 2.4 MB under 4 MiB
    stored = await api.put("/api/v1/orders/O-BIG", json=order, headers=company.headers)
    assert stored.status_code == 202, stored.text[:500]
    # An order of 500 lines with ordinary descriptions is far below even the smallest limit.
    lines = [(f"P-{n}", "2", "45.00") for n in range(500)]
    ordinary = make.order("2001", lines=lines)
    for line in ordinary["lines"]:
        line["description"] = "Frame tent 20x40, white, with sidewalls"
    assert len(json.dumps(ordinary).encode()) < SMALL_LIMIT * 2


async def test_i9_a_body_over_the_limit_is_refused_413_by_its_content_length(
    small: httpx2.AsyncClient,
) -> None:
    company = await company_key(small, "Big Body Rentals")
    body = make.customer(company_name="x" * SMALL_LIMIT)
    response = await small.put("/api/v1/customers/C-1", json=body, headers=company.headers)
    assert response.status_code == 413, response.text
    assert f"{SMALL_LIMIT:,} bytes" in response.json()["detail"]
    assert "RENTSYNC_MAX_REQUEST_BYTES" in response.json()["remedy"]
    missing = await small.get("/api/v1/customers/C-1/sync", headers=company.headers)
    assert missing.status_code == 404, "nothing stored"

    # The limit itself is accepted: JSON may end in whitespace, so pad to exactly the limit.
    text = json.dumps(make.customer())
    exact = text + " " * (SMALL_LIMIT - len(text))
    headers = {**company.headers, "Content-Type": "application/json"}
    fits = await small.put("/api/v1/customers/C-1", content=exact.encode(), headers=headers)
    assert fits.status_code == 202, fits.text
    over = await small.put("/api/v1/customers/C-2", content=(exact + " ").encode(), headers=headers)
    assert over.status_code == 413


async def test_i9_a_chunked_body_over_the_limit_is_refused_and_never_kept(
    small: httpx2.AsyncClient,
) -> None:
    """A chunked body (no Content-Length) over the limit is a 413; the rest of it is read
    and dropped up to `DRAIN_BYTES` (so the client reads the answer), then no further."""
    company = await company_key(small, "Chunked Rentals")
    chunk = 64 * 1024
    pulled = 0

    async def body_of(megabytes: int) -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"name": "Chunky", "company_name": "'
        for _ in range(megabytes * 1024 * 1024 // chunk):
            pulled += 1
            yield b"x" * chunk
        yield b'"}'

    headers = {**company.headers, "Content-Type": "application/json"}
    response = await small.put("/api/v1/customers/C-1", content=body_of(10), headers=headers)
    assert response.status_code == 413, response.text
    assert "content-length" not in {k.lower() for k in response.request.headers}
    missing = await small.get("/api/v1/customers/C-1/sync", headers=company.headers)
    assert missing.status_code == 404, "nothing stored"

    pulled = 0
    response = await small.put("/api/v1/customers/C-1", content=body_of(64), headers=headers)
    assert response.status_code == 413
    most = (SMALL_LIMIT + request_guard.DRAIN_BYTES) // chunk + 2
    assert pulled <= most, f"read {pulled} chunks of 64 KiB, at most {most} expected"


@pytest.fixture
def served_small(settings: Settings) -> Iterator[str]:
    """The API (no worker) with the 64 KiB limit, served by uvicorn on a free port."""
    with served_api(dataclasses.replace(settings, max_request_bytes=SMALL_LIMIT)) as url:
        yield url


async def test_i9_over_http_a_large_body_is_a_413_and_the_server_keeps_serving(
    served_small: str,
) -> None:
    """Through uvicorn: a chunked body and a declared one over the limit are answered 413
    (the connection closed, not left reading), and the server answers the next request."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(2 * 1024):
            yield b"x" * 4096  # 8 MiB, no Content-Length
            await asyncio.sleep(0)

    async with httpx2.AsyncClient(base_url=served_small, timeout=30) as client:
        chunked = await client.post("/api/v1/bulk-syncs", content=chunks())
        assert chunked.status_code == 413, chunked.text
        declared = await client.post("/api/v1/bulk-syncs", content=b"x" * (SMALL_LIMIT + 1))
        assert declared.status_code == 413
        assert (await client.get("/health")).status_code in (200, 503)


async def test_i9_a_422_echoes_a_cut_of_a_long_input_never_all_of_it(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    long_name = "M" * 3_000_000
    response = await api.put(
        "/api/v1/customers/C-1", json=make.customer(name=long_name), headers=company.headers
    )
    assert response.status_code == 422
    assert len(response.content) < 5_000
    problem = next(p for p in response.json()["detail"] if p["loc"] == ["body", "name"])
    assert problem["input"].startswith("M" * request_guard.ECHO_CHARS)
    assert problem["input"].endswith("(3,000,000 characters in all)")

    # A problem of the whole body (a field missing) echoes a cut of the body's JSON.
    order = _largest_order()
    del order["totals"]
    response = await api.put("/api/v1/orders/O-1", json=order, headers=company.headers)
    assert response.status_code == 422
    assert len(response.content) < 10_000
    missing = next(p for p in response.json()["detail"] if p["loc"] == ["body", "totals"])
    assert isinstance(missing["input"], str) and "characters in all" in missing["input"]

    # A short input is echoed whole, as before.
    response = await api.put(
        "/api/v1/customers/C-1", json=make.customer(email="no-at-sign"), headers=company.headers
    )
    problem = next(p for p in response.json()["detail"] if p["loc"] == ["body", "email"])
    assert problem["input"] == "no-at-sign"


async def test_i9_a_422_lists_a_bounded_number_of_problems(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    order = make.order()
    order["lines"] = [{"wrong": n, "quantity": -1, "rate": "ten"} for n in range(500)]
    response = await api.put("/api/v1/orders/O-1", json=order, headers=company.headers)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert len(problems) == request_guard.MAX_PROBLEMS + 1
    assert problems[-1]["type"] == "too_many_problems"
    assert "more problems not listed" in problems[-1]["msg"]
    # The guard's own refusals too (a NUL in each of many strings).
    nuls = {"name": "ok", "company_name": "x", "billing_address": None}
    body = json.dumps({**nuls, "extra": ["a\u0000"] * 300})
    response = await api.put(
        "/api/v1/customers/C-1",
        content=body.encode(),
        headers={**company.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert len(response.json()["detail"]) == request_guard.MAX_PROBLEMS + 1


@pytest.mark.parametrize(
    ("header", "status"),
    [(b"abc", 200), (b"-5", 200), (b"99999999999999999999999999", 413), (b"70000", 413)],
)
async def test_i9_a_hostile_content_length_is_never_a_500(header: bytes, status: int) -> None:
    """The guard alone, as ASGI: a Content-Length that is not a number is ignored (the body
    is counted as it is read); a huge one is a 413 at once."""
    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        reached.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = request_guard.RequestGuard(app, max_body_bytes=SMALL_LIMIT)
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": b'{"a": 1}', "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/bulk-syncs",
        "raw_path": b"/api/v1/bulk-syncs",
        "query_string": b"",
        "headers": [(b"content-length", header)],
    }
    await guard(scope, receive, send)
    assert sent[0]["status"] == status
    assert reached == ([b'{"a": 1}'] if status == 200 else [])


def test_i9_the_limit_is_configurable_and_checked() -> None:
    assert load_settings({}).max_request_bytes == 4 * 1024 * 1024
    assert load_settings({"RENTSYNC_MAX_REQUEST_BYTES": "1048576"}).max_request_bytes == 1048576
    for bad in ("abc", "-1", "0", "1000", "1e6"):
        with pytest.raises(SettingsError, match="RENTSYNC_MAX_REQUEST_BYTES"):
            load_settings({"RENTSYNC_MAX_REQUEST_BYTES": bad})


async def test_i9_the_openapi_document_declares_413_where_a_body_is_read(
    api: httpx2.AsyncClient,
) -> None:
    schema = (await api.get("/openapi.json")).json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            declared = "413" in operation["responses"]
            assert declared == ("requestBody" in operation), (method, path)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 33 + "]" * 33,  # parses; deeper than the 32 levels
        '{"a": ' * 40 + "1" + "}" * 40,
        "[" * 5000 + "]" * 5000,  # past Python's parser (a RecursionError, a 500 before)
        '{"numbers": ' + "[" * 2000 + "]" * 2000 + "}",
        "[" * 100_000,  # deep and never closed
    ],
)
async def test_i9_json_nested_too_deep_is_a_422_never_a_500(
    api: httpx2.AsyncClient, company: CompanyKey, body: str
) -> None:
    headers = {**company.headers, "Content-Type": "application/json"}
    for method, path in (
        ("PUT", "/api/v1/customers/C-1"),
        ("PUT", "/api/v1/orders/O-1"),
        ("POST", "/api/v1/bulk-syncs"),
        ("PUT", "/api/v1/settings"),
    ):
        response = await api.request(method, path, content=body.encode(), headers=headers)
        assert response.status_code == 422, (path, response.text[:300])
        problems = response.json()["detail"]
        assert problems[0]["type"] == "json_too_deep", problems
        assert len(problems[0]["loc"]) <= request_guard.MAX_DEPTH + 1
    missing = await api.get("/api/v1/customers/C-1/sync", headers=company.headers)
    assert missing.status_code == 404


async def test_i9_json_as_deep_as_a_document_goes_is_not_refused_for_depth(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    order = make.order()
    order["lines"][0]["rental_period"] = {"start": "2026-11-20", "end": "2026-11-22"}
    stored = await api.put("/api/v1/orders/O-1", json=order, headers=company.headers)
    assert stored.status_code == 202, stored.text
    nested = "[" * 32 + "]" * 32  # 32 levels: within the bound, refused by the route's model
    response = await api.put(
        "/api/v1/customers/C-2",
        content=nested.encode(),
        headers={**company.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert all(p["type"] != "json_too_deep" for p in response.json()["detail"])
