"""R18 bulk sync's API under hostile input, with QuickBooks connected (the OpenAPI fuzz runs on
an unconnected company, where every POST stops at 409 before reaching the store): every bad
value is a 422 naming its field, nothing is stored; and one company's API key never reads,
starts or cancels another company's bulk sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for

BULK = "/api/v1/bulk-syncs"


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings, with_worker=False) as unconnected:
        await unconnected.connect()
        yield unconnected


async def _stored(rig: Rig) -> int:
    listed = await rig.api.get(BULK, headers=rig.headers)
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])


BAD_BODIES: list[tuple[Any, str]] = [
    ({"date_from": "2026-13-01"}, "date_from"),
    ({"date_from": "2026-02-30"}, "date_from"),
    ({"date_from": 20260101}, "date_from"),
    ({"date_to": "2026-01-01T00:00:00Z"}, "date_to"),
    ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, ""),
    ({"numbers": []}, "numbers"),
    ({"numbers": ["   "]}, "numbers"),
    ({"numbers": ["x" * 22]}, "numbers"),
    ({"numbers": [5001]}, "numbers"),
    ({"numbers": "5001"}, "numbers"),
    ({"numbers": [str(n) for n in range(1001)]}, "numbers"),
    ({"kinds": []}, "kinds"),
    ({"kinds": ["refund"]}, "kinds"),
    ({"kinds": ["ORDER"]}, "kinds"),
    ({"kinds": "order"}, "kinds"),
    ({"not_in_qbo": "yes"}, "not_in_qbo"),
    ({"not_in_qbo": 1}, "not_in_qbo"),
    ({"start": "true"}, "start"),
    ({"start": None}, "start"),
    ({"company_id": 2}, "company_id"),
    ({"selection": {}}, "selection"),
    ([], ""),
    ("everything", ""),
    (None, ""),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_r18_bulk_sync_bad_body_is_422_naming_the_field_and_stores_nothing(
    rig: Rig, body: Any, field: str
) -> None:
    response = await rig.api.post(BULK, json=body, headers=rig.headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    if field:
        assert any(field in [str(part) for part in error["loc"]] for error in detail), detail
    assert await _stored(rig) == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"numbers": ["5001"]', b"\xff\xfe", b'{"numbers": ["50\\u00001"]}', b""],
)
async def test_r18_bulk_sync_malformed_json_is_422_and_stores_nothing(rig: Rig, raw: bytes) -> None:
    response = await rig.api.post(
        BULK, content=raw, headers={**rig.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert await _stored(rig) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"{BULK}/0",
        f"{BULK}/-1",
        f"{BULK}/abc",
        f"{BULK}/{2**63}",
        f"{BULK}/{2**70}",
        f"{BULK}/1.5",
        f"{BULK}?limit=0",
        f"{BULK}?limit=201",
        f"{BULK}?limit=abc",
        f"{BULK}/1/items?after=-1",
        f"{BULK}/1/items?limit=0",
        f"{BULK}/1/items?limit=501",
        f"{BULK}/1/items?planned=everything",
    ],
)
async def test_r18_bulk_sync_bad_path_or_query_is_422_or_404_never_5xx(rig: Rig, path: str) -> None:
    created = await rig.api.post(BULK, json={}, headers=rig.headers)
    assert created.status_code == 202, created.text
    response = await rig.api.get(path, headers=rig.headers)
    assert response.status_code in (404, 422), (path, response.status_code, response.text)
    for action in ("start", "cancel"):
        target = path.split("?")[0]
        if target.count("/") == 4 and not target.endswith("items"):
            posted = await rig.api.post(f"{target}/{action}", headers=rig.headers)
            assert posted.status_code in (404, 422), (target, action, posted.text)
    assert await _stored(rig) == 1


@pytest.mark.parametrize("after", [2**63, 2**70, 10**99])
async def test_r18_bulk_sync_items_after_past_every_item_is_an_empty_page(
    rig: Rig, after: int
) -> None:
    created = await rig.api.post(BULK, json={}, headers=rig.headers)
    bulk_id = created.json()["id"]
    response = await rig.api.get(f"{BULK}/{bulk_id}/items?after={after}", headers=rig.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_after": None}


async def test_r18_bulk_sync_of_another_company_is_never_read_started_nor_cancelled(
    rig: Rig,
) -> None:
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("5001"))
    created = await rig.api.post(BULK, json={}, headers=rig.headers)
    assert created.status_code == 202, created.text
    theirs = created.json()["id"]
    services = rig.api.app.state.services  # type: ignore[attr-defined]
    _other, key = await services.companies.create("Another Rentals")
    other = {"Authorization": f"Bearer {key.key}"}

    listed = await rig.api.get(BULK, headers=other)
    assert listed.status_code == 200 and listed.json()["items"] == []
    for path in (f"{BULK}/{theirs}", f"{BULK}/{theirs}/items"):
        response = await rig.api.get(path, headers=other)
        assert response.status_code == 404, (path, response.text)
    for action in ("start", "cancel"):
        response = await rig.api.post(f"{BULK}/{theirs}/{action}", headers=other)
        assert response.status_code == 404, (action, response.text)
        assert "5001" not in response.text
    mine = await rig.api.get(f"{BULK}/{theirs}", headers=rig.headers)
    assert mine.status_code == 200
    assert mine.json()["state"] == "previewing"
    assert mine.json()["cancelled_at"] is None and mine.json()["started_at"] is None
