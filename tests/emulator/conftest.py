"""Fixtures for the emulator's own tests: an in-process app and an authorised client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from qbo_emulator.app import EmulatorApp, create_app
from qbo_emulator.books import Company
from qbo_emulator.presets import Preset
from qbo_emulator.testing import authorised_client, fast_config


@dataclass
class Qbo:
    """A client bound to one company, with shortcuts for the v3 URLs."""

    client: httpx2.AsyncClient
    realm: str
    app: EmulatorApp

    @property
    def company(self) -> Company:
        return self.app.emulator.companies[self.realm]

    def url(self, path: str) -> str:
        return f"/v3/company/{self.realm}/{path}"

    async def post(self, path: str, body: Any, **params: str) -> httpx2.Response:
        return await self.client.post(
            self.url(path), json=body, params={"minorversion": "75", **params}
        )

    async def create(self, entity: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        response = await self.post(entity.lower(), body, **params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()[entity]
        return result

    async def query(self, text: str) -> dict[str, Any]:
        response = await self.client.get(self.url("query"), params={"query": text})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def account(self, key: str) -> str:
        return self.company.preset_accounts[key]

    async def customer(self, name: str = "Acme Rentals") -> dict[str, Any]:
        return await self.create("Customer", {"DisplayName": name})

    async def service_item(self, name: str = "Tent rental", taxable: bool = True) -> dict[str, Any]:
        return await self.create(
            "Item",
            {
                "Name": name,
                "Type": "Service",
                "Taxable": taxable,
                "IncomeAccountRef": {"value": self.account("services")},
            },
        )

    def tax_code_id(self, name: str) -> str:
        return next(c["Id"] for c in self.company.table("TaxCode").values() if c["Name"] == name)


async def _make(preset: Preset) -> Qbo:
    client, realm, app = authorised_client(create_app(fast_config()), preset)
    return Qbo(client, realm, app)


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    made = await _make(Preset())
    async with made.client:
        yield made


@pytest.fixture
async def make_qbo() -> AsyncIterator[Any]:
    made: list[Qbo] = []

    async def factory(**preset: Any) -> Qbo:
        result = await _make(Preset(**preset))
        made.append(result)
        return result

    yield factory
    for item in made:
        await item.client.aclose()
