"""Issue 9, the product's edges: hostile input is a 422 naming the place, never a 500, and
nothing of it is stored. The rules live in one place (api/request_guard.py for what no request
may carry, domain/values.py for ids, dates and versions); these tests reach them through the
public API of every document kind."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

from rentsync.settings import Settings
from rentsync.sync.kinds import KINDS
from tests import ingest_fixtures as make
from tests.conftest import CompanyKey, api_client_for

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    async with api_client_for(settings, with_worker=False) as client:
        yield client


async def _put_raw(
    api: httpx2.AsyncClient, path: str, text: str, company: CompanyKey
) -> httpx2.Response:
    return await api.put(
        path,
        content=text.encode("utf-8", "surrogatepass"),
        headers={**company.headers, "Content-Type": "application/json"},
    )


def _refused(response: httpx2.Response, loc: list[Any] | None = None) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    problems = json.loads(response.text)["detail"]  # the refusal itself is plain JSON
    assert isinstance(problems, list) and problems
    if loc is not None:
        assert any(p["loc"] == loc for p in problems), problems
    return problems


async def _nothing_stored(api: httpx2.AsyncClient, path: str, company: CompanyKey) -> None:
    assert (await api.get(f"{path}/sync", headers=company.headers)).status_code == 404


async def test_i9_a_nul_character_in_any_json_string_is_refused(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    body = make.customer(name="Maple\u0000Events")
    _refused(
        await api.put("/api/v1/customers/C-1", json=body, headers=company.headers), ["body", "name"]
    )
    nested = make.customer(billing_address={"line1": "1 Main\u0000St"})
    _refused(
        await api.put("/api/v1/customers/C-1", json=nested, headers=company.headers),
        ["body", "billing_address", "line1"],
    )
    order = make.order()
    order["lines"][0]["description"] = "tent\u0000"
    _refused(
        await api.put("/api/v1/orders/O-1", json=order, headers=company.headers),
        ["body", "lines", 0, "description"],
    )
    await _nothing_stored(api, "/api/v1/customers/C-1", company)
    await _nothing_stored(api, "/api/v1/orders/O-1", company)


async def test_i9_a_nul_character_in_query_parameters_and_the_resync_code_is_refused(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    _refused(
        await api.get(
            "/api/v1/sync/messages", params={"code": "61\u000040"}, headers=company.headers
        ),
        ["query", "code"],
    )
    _refused(
        await api.post("/api/v1/sync/resync", json={"code": "61\u000040"}, headers=company.headers),
        ["body", "code"],
    )


async def test_i9_a_lone_surrogate_is_refused(api: httpx2.AsyncClient, company: CompanyKey) -> None:
    text = '{"name": "Maple \\ud800 Events"}'
    _refused(await _put_raw(api, "/api/v1/customers/C-1", text, company), ["body", "name"])
    raw = '{"name": "Maple \ud800 Events"}'  # the surrogate itself, not UTF-8 encodable
    _refused(await _put_raw(api, "/api/v1/customers/C-1", raw, company))
    await _nothing_stored(api, "/api/v1/customers/C-1", company)


async def test_i9_a_version_beyond_bigint_is_refused_and_the_largest_is_kept(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    too_big = make.customer(version=2**63)
    _refused(
        await api.put("/api/v1/customers/C-1", json=too_big, headers=company.headers),
        ["body", "version"],
    )
    _refused(
        await api.delete(
            "/api/v1/customers/C-1", params={"version": 2**63}, headers=company.headers
        ),
        ["query", "version"],
    )
    largest = make.customer(version=2**63 - 1)
    accepted = await api.put("/api/v1/customers/C-1", json=largest, headers=company.headers)
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "1" * 200])
async def test_i9_a_json_number_out_of_range_is_refused_in_plain_json(
    api: httpx2.AsyncClient, company: CompanyKey, number: str
) -> None:
    text = json.dumps(make.rental_product()).replace('"450.00"', number)
    _refused(await _put_raw(api, "/api/v1/products/P-1", text, company), ["body", "rate"])
    version = json.dumps(make.customer())[:-1] + f', "version": {number}}}'
    _refused(await _put_raw(api, "/api/v1/customers/C-1", version, company), ["body", "version"])


@pytest.mark.parametrize("value", [0, 1700000000, "1700000000", "2026-11-01T00:00:00", True])
async def test_i9_a_date_is_only_yyyy_mm_dd(
    api: httpx2.AsyncClient, company: CompanyKey, value: object
) -> None:
    body = make.sale_product(tracking_start=value)
    _refused(
        await api.put("/api/v1/products/P-1", json=body, headers=company.headers),
        ["body", "tracking_start"],
    )
    await _nothing_stored(api, "/api/v1/products/P-1", company)


def _date_paths(value: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str) and ISO_DATE.match(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _date_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _date_paths(item, (*path, index))


async def test_i9_every_kinds_dates_refuse_a_number(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    """Every document kind of the registry, each date of its example given as 0."""
    checked = 0
    for kind in KINDS:
        if not kind.ingest:
            continue
        for path in _date_paths(kind.example):
            body = copy.deepcopy(kind.example)
            target = body
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = 0
            response = await api.put(
                f"/api/v1/{kind.plural}/X-1", json=body, headers=company.headers
            )
            _refused(response, ["body", *path])
            checked += 1
    assert checked >= 4


def _bool_paths(value: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, bool):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _bool_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bool_paths(item, (*path, index))


async def test_i9_every_kinds_flags_and_version_refuse_loose_values(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    """A flag is true or false (not "yes", 1 or "off"), a version a whole number (not "5", 5.0,
    true): every document kind of the registry, every flag of its example."""
    checked = 0
    for kind in KINDS:
        if not kind.ingest:
            continue
        url = f"/api/v1/{kind.plural}/X-1"
        for path in _bool_paths(kind.example):
            for loose in ("yes", 1, "off"):
                body = copy.deepcopy(kind.example)
                target = body
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = loose
                response = await api.put(url, json=body, headers=company.headers)
                _refused(response, ["body", *path])
                checked += 1
        for loose in ("5", 5.0, True):
            body = {**copy.deepcopy(kind.example), "version": loose}
            _refused(await api.put(url, json=body, headers=company.headers), ["body", "version"])
    assert checked >= 9


async def test_i9_source_ids_that_are_not_url_safe_as_given_are_refused(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    for path in ("/api/v1/orders/%2E%2E", "/api/v1/customers/C%2D1", "/api/v1/orders/%00"):
        response = await api.put(path, json=make.order(), headers=company.headers)
        _refused(response, ["path"])
    for bad in ("..", ".", "a/b", "C 1", "%2E%2E"):
        order = make.order(customer_id=bad)
        response = await api.put("/api/v1/orders/O-1", json=order, headers=company.headers)
        _refused(response, ["body", "customer_id"])
    await _nothing_stored(api, "/api/v1/orders/O-1", company)
    messages = await api.get(
        "/api/v1/sync/messages", params={"cursor": "x"}, headers=company.headers
    )
    _refused(messages, ["query", "cursor"])
