"""R18: a bulk sync refused says why and what to do, through the API, the CLI and the console
(issue 13). A company whose QuickBooks connection was lost (e.g. a demo company retired with
its emulator run) hears the lost reason, not only "not connected"; a company may have a few
previews being prepared at once (each walks its documents in a worker job), and one more is
refused with 429 and `Retry-After` until one of them is previewed or cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from rentsync import bootstrap
from rentsync.domain.bulk import PREVIEWS_PREPARING_AT_ONCE, Selection
from rentsync.domain.people import Role
from rentsync.settings import Settings
from rentsync.store.bulk_syncs import PreviewsPreparing
from tests.requirements.test_r18_bulk_sync import BULK
from tests.requirements.test_r18_bulk_sync_processes import bulk_sync_cli
from tests.sync_rig import Rig, rig_for
from tests.web.console_fixtures import add_user, form_post, sign_in, text_of

RETIRED = (
    "an earlier demo run connected it to QuickBooks emulator company 4620816365, which "
    "stopped with that run"
)


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    # No worker: previews stay `previewing` until the test prepares them itself.
    async with rig_for(settings, with_worker=False) as unconnected:
        yield unconnected


def _services(rig: Rig) -> bootstrap.Services:
    services: bootstrap.Services = rig.api.app.state.services  # type: ignore[attr-defined]
    return services


async def _console_form(rig: Rig, email: str, form: dict[str, str]) -> httpx2.Response:
    """The console's New bulk sync form, posted by a new owner of the rig's company."""
    person = await add_user(rig.api, rig.company_id, email, Role.OWNER)
    async with httpx2.AsyncClient(
        transport=rig.api._transport, base_url="http://rentsync.test"
    ) as browser:
        await sign_in(browser, person)
        return await form_post(browser, "/bulk-syncs", form)


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def test_r18_a_lost_connection_s_bulk_sync_says_the_reason_and_what_to_do(
    rig: Rig,
) -> None:
    await rig.connect()
    await _services(rig).connections.mark_lost(rig.company_id, RETIRED)

    refused = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "not connected" in body["detail"] and RETIRED in body["detail"]
    assert "Reconnect QuickBooks" in body["remedy"] and "/api/v1/qbo/connect" in body["remedy"]
    assert body["remedy"] not in body["detail"]  # said once, in its own field

    cli = await bulk_sync_cli(rig, "--not-in-qbo", "--yes")
    assert cli.returncode == 1
    assert RETIRED in _one_line(cli.stderr) and "Reconnect QuickBooks" in _one_line(cli.stderr)

    page = await _console_form(rig, "owner@lost.example", {"not_in_qbo": "true"})
    assert page.status_code == 409
    assert RETIRED in text_of(page) and "Reconnect QuickBooks" in text_of(page)
    assert (await rig.api.get(BULK, headers=rig.headers)).json()["items"] == []


async def test_r18_a_connection_past_its_hard_expiry_is_refused_as_lost(rig: Rig) -> None:
    """Stored as connected, but past the refresh token's hard expiry (Intuit's limit on one
    consent): nothing has tried a refresh since, yet no refresh can succeed, so the bulk sync
    is refused with that reason rather than created to fail document by document."""
    await rig.connect()
    async with _services(rig).pool.connection() as conn:
        await conn.execute(
            "UPDATE qbo_connections SET refresh_hard_expires_at = now() - interval '1 minute' "
            "WHERE company_id = %s",
            (rig.company_id,),
        )

    refused = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    assert refused.status_code == 409, refused.text
    assert "hard expiry" in refused.json()["detail"]
    assert "Reconnect QuickBooks" in refused.json()["remedy"]
    assert (await rig.api.get(BULK, headers=rig.headers)).json()["items"] == []


async def test_r18_never_connected_says_connect_first(rig: Rig) -> None:
    refused = await rig.api.post(BULK, json={}, headers=rig.headers)
    assert refused.status_code == 409
    assert "not connected" in refused.json()["detail"]
    assert refused.json()["remedy"].startswith("Connect QuickBooks")
    assert "lost" not in refused.json()["detail"]


async def test_r18_a_company_s_previews_being_prepared_are_bounded(rig: Rig) -> None:
    await rig.connect()
    created = []
    for n in range(PREVIEWS_PREPARING_AT_ONCE):
        response = await rig.api.post(BULK, json={"numbers": [f"N-{n}"]}, headers=rig.headers)
        assert response.status_code == 202, response.text
        created.append(response.json()["id"])

    refused = await rig.api.post(BULK, json={"numbers": ["N-9"]}, headers=rig.headers)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    body: dict[str, Any] = refused.json()
    assert "still being prepared" in body["detail"]
    assert all(str(bulk_id) in body["detail"] for bulk_id in created)
    assert "cancel" in body["remedy"]
    listed = (await rig.api.get(BULK, headers=rig.headers)).json()["items"]
    assert sorted(item["id"] for item in listed) == sorted(created), "nothing more stored"

    cli = await bulk_sync_cli(rig, "--numbers", "N-9", "--yes")
    assert cli.returncode == 1
    assert "still being prepared" in _one_line(cli.stderr), cli.stderr
    page = await _console_form(rig, "owner@busy.example", {"numbers": "N-9"})
    assert page.status_code == 429
    assert "still being prepared" in text_of(page)

    # A preview prepared no longer counts; nor does a cancelled one.
    await _services(rig).bulk_syncs.run(created[0])
    assert (await rig.api.get(f"{BULK}/{created[0]}", headers=rig.headers)).json()[
        "state"
    ] == "previewed"
    again = await rig.api.post(BULK, json={"numbers": ["N-9"]}, headers=rig.headers)
    assert again.status_code == 202, again.text
    assert (await rig.api.post(BULK, json={}, headers=rig.headers)).status_code == 429
    cancelled = await rig.api.post(f"{BULK}/{created[1]}/cancel", headers=rig.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert (await rig.api.post(BULK, json={}, headers=rig.headers)).status_code == 202


async def test_r18_concurrent_previews_never_pass_the_bound_together(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Racing Rentals")
    other, _ = await services.companies.create("Other Rentals")
    repository = services.bulk_syncs.repository

    async def create(company_id: int) -> int | None:
        try:
            row = await repository.create(
                company_id, Selection(), start_when_previewed=False, preparing_at_most=3
            )
        except PreviewsPreparing:
            return None
        return row.id

    results = await asyncio.gather(*(create(company.id) for _ in range(8)))
    assert sum(1 for r in results if r is not None) == 3
    assert await create(other.id) is not None  # another company's previews are its own
