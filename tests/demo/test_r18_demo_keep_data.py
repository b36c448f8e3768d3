"""`make demo DEMO_ARGS=--keep-data` (or the demo on DATABASE_URL) keeps the earlier runs'
companies, connected to realms of an emulator that stopped with their run. A rerun retires
them: their connection is marked lost with that reason, so nothing of theirs goes to the new
run's emulator, and their data stays readable (README, "Two commands")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rentsync.demo import runner
from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as unconnected:
        yield unconnected


async def test_r18_a_kept_demo_retires_the_companies_of_earlier_runs(rig: Rig) -> None:
    await rig.connect()
    await rig.map_accounts()
    services = rig.api.app.state.services  # type: ignore[attr-defined]
    name = "Party Time Rentals"
    unconnected, _key = await services.companies.create(name)
    other, _other_key = await services.companies.create("Not A Demo Company")

    # The company is connected to a realm this run's emulator holds: left alone.
    assert await runner.retire_earlier_companies(services, {name}, {rig.realm}) == []
    # Named as a demo company, connected to a realm of an earlier run: retired, once.
    retired = await runner.retire_earlier_companies(services, {name}, set())
    assert retired == [runner.Retired(company_id=rig.company_id, name=name, realm_id=rig.realm)]
    assert await runner.retire_earlier_companies(services, {name}, set()) == []
    assert (await services.connections.get(unconnected.id)) is None
    assert (await services.connections.get(other.id)) is None

    status = (await rig.api.get("/api/v1/qbo/connection", headers=rig.headers)).json()
    assert status["state"] == "lost", status
    assert "earlier demo run" in str(status), status
    # Its documents are no longer sent anywhere: skipped as for a lost connection.
    await rig.put("customers", "C-1", make.customer())
    await rig.put("products", "P-TENT", make.rental_product())
    await rig.put("orders", "O-1", make.order("8101"))
    settled = await rig.settled("orders", "O-1")
    assert settled["state"] == "skipped", settled
    assert await rig.qbo_entities("Invoice") == []
