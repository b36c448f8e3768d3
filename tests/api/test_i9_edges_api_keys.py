"""Issue 9, the product's edges: API keys are listed per company with their last use, expire,
and are revoked, through the API and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from rentsync import bootstrap
from rentsync.settings import Settings
from rentsync.store import companies
from tests.conftest import CompanyKey

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))
KEYS = "/api/v1/api-keys"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_i9_api_keys_are_listed_with_last_use_issued_with_expiry_and_revoked(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    (mine,) = (await api.get(KEYS, headers=company.headers)).json()
    assert mine["current"] is True and mine["state"] == "active"
    assert mine["last_used_at"] is not None  # this very request
    assert mine["expires_at"] is None
    issued = await api.post(KEYS, json={"expires_in_days": 30}, headers=company.headers)
    assert issued.status_code == 201, issued.text
    new = issued.json()
    assert new["key"].startswith("rsk_") and new["details"]["permissions"] == []
    expires = datetime.fromisoformat(new["details"]["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert (await api.get("/api/v1/company", headers=_auth(new["key"]))).status_code == 200
    itself = await api.delete(f"{KEYS}/{mine['id']}", headers=company.headers)
    assert itself.status_code == 409  # not the key of the request itself
    revoked = await api.delete(f"{KEYS}/{new['details']['id']}", headers=company.headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = await api.get("/api/v1/company", headers=_auth(new["key"]))
    assert refused.status_code == 401
    listed = {k["id"]: k["state"] for k in (await api.get(KEYS, headers=company.headers)).json()}
    assert listed == {mine["id"]: "active", new["details"]["id"]: "revoked"}


async def test_i9_a_key_cannot_grant_more_than_it_has_nor_touch_another_companys_keys(
    api: httpx2.AsyncClient, company: CompanyKey
) -> None:
    services: bootstrap.Services = api.app.state.services
    _, other = await services.companies.create("Other Rentals")
    escalate = await api.post(
        KEYS, json={"permissions": ["run_diagnostics"]}, headers=company.headers
    )
    assert escalate.status_code == 403
    weaker = await api.post(KEYS, json={"permissions": ["view_qbo_logs"]}, headers=_auth(other.key))
    assert weaker.status_code == 403
    assert (await api.delete(f"{KEYS}/{other.id}", headers=company.headers)).status_code == 404
    assert (await api.get("/api/v1/company", headers=_auth(other.key))).status_code == 200


async def test_i9_an_expired_key_is_refused(api: httpx2.AsyncClient, company: CompanyKey) -> None:
    services: bootstrap.Services = api.app.state.services
    expired = await services.companies.issue_key(
        company.company_id, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    refused = await api.get("/api/v1/company", headers=_auth(expired.key))
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    states = {k["id"]: k["state"] for k in (await api.get(KEYS, headers=company.headers)).json()}
    assert states[expired.id] == "expired"


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    assert settings.database_url is not None
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run(
        [RENTSYNC, "company", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_i9_the_cli_lists_issues_with_expiry_and_revokes_keys(
    api: httpx2.AsyncClient, company: CompanyKey, settings: Settings
) -> None:
    await api.get("/api/v1/company", headers=company.headers)  # a use to show
    issued = _cli(settings, "issue-key", str(company.company_id), "--expires-in-days", "7")
    assert issued.returncode == 0, issued.stderr
    new_key = issued.stdout.strip().split()[-1]
    listing = _cli(settings, "keys", str(company.company_id))
    assert listing.returncode == 0, listing.stderr
    rows = [line.split("\t") for line in listing.stdout.strip().splitlines()[1:]]
    assert len(rows) == 2
    newest, first = rows
    assert newest[2] == "active" and newest[4] == "never" and newest[5] != "never"
    assert first[2] == "active" and first[4] != "never" and first[5] == "never"
    revoked = _cli(settings, "revoke-key", str(company.company_id), newest[0])
    assert revoked.returncode == 0, revoked.stderr
    assert (await api.get("/api/v1/company", headers=_auth(new_key))).status_code == 401
    missing = _cli(settings, "revoke-key", str(company.company_id), "999999")
    assert missing.returncode != 0 and "no API key 999999" in missing.stderr


async def test_i9_a_key_revoked_in_another_process_is_refused_within_the_stated_bound(
    api: httpx2.AsyncClient, company: CompanyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process keeps a key it found valid for `KEY_CHECK_KEPT_SECONDS` (issue 13, P4): one
    revoked by another process (the CLI, another serve) is refused here once that has passed;
    one revoked through this process, at once."""
    services: bootstrap.Services = api.app.state.services
    elsewhere = companies.CompanyRepository(services.pool)  # another process's view
    clock = [1000.0]
    monkeypatch.setattr(companies.time, "monotonic", lambda: clock[0])
    first = await services.companies.issue_key(company.company_id)
    assert (await api.get("/api/v1/company", headers=_auth(first.key))).status_code == 200
    assert await elsewhere.revoke_key(company.company_id, first.id) is not None
    clock[0] += companies.KEY_CHECK_KEPT_SECONDS
    assert (await api.get("/api/v1/company", headers=_auth(first.key))).status_code == 401

    second = await services.companies.issue_key(company.company_id)
    assert (await api.get("/api/v1/company", headers=_auth(second.key))).status_code == 200
    revoked = await api.delete(f"{KEYS}/{second.id}", headers=company.headers)
    assert revoked.status_code == 200, revoked.text
    assert (await api.get("/api/v1/company", headers=_auth(second.key))).status_code == 401

    # A kept key is still checked against its secret: the prefix alone lets nobody in.
    third = await services.companies.issue_key(company.company_id)
    assert (await api.get("/api/v1/company", headers=_auth(third.key))).status_code == 200
    forged = third.key[: third.key.rindex("_") + 1] + "not-the-secret"
    assert (await api.get("/api/v1/company", headers=_auth(forged))).status_code == 401
    assert (await api.get("/api/v1/company", headers=_auth(third.key))).status_code == 200
