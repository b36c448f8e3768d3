"""R16: authorised users can read the QuickBooks request log ("View QuickBooks logs").

Every request to Intuit is logged per company (time, method, path, status, duration, intuit_tid,
requestid, bodies without secrets), readable only with the permission, purged after retention.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rentsync.domain.access import Permission
from rentsync.domain.qbo import LogEntry
from rentsync.settings import Settings
from tests.qbo_fixtures import qbo_harness


async def test_the_log_is_readable_only_with_the_permission(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        await h.connect()
        client = await h.services.qbo.client_for(h.company_id)
        created = await client.create(
            "Customer", {"DisplayName": "Logged Rentals"}, requestid="rs-r16-customer"
        )
        await client.find_by("Customer", "DisplayName", "Logged Rentals")

        response = await h.api.get("/api/v1/qbo/log", headers=h.headers)
        assert response.status_code == 200
        entries = response.json()["entries"]
        write = next(e for e in entries if e["requestid"] == "rs-r16-customer")
        assert write["method"] == "POST"
        assert write["path"].startswith(f"/v3/company/{h.realm}/customer?minorversion=75")
        assert write["status"] == 200
        assert write["intuit_tid"] == created.intuit_tid
        assert write["duration_ms"] >= 0
        assert "Logged Rentals" in write["request_body"]
        assert f'"Id": "{created.id}"' in write["response_body"]
        paths = [e["path"] for e in entries]
        assert any("/oauth2/v1/tokens/bearer" in p for p in paths)  # the code exchange too
        token_call = next(e for e in entries if "/oauth2/v1/tokens/bearer" in e["path"])
        assert "[REDACTED]" in token_call["request_body"]
        assert "[REDACTED]" in token_call["response_body"]

        # Paging, newest first.
        first = (await h.api.get("/api/v1/qbo/log?limit=2", headers=h.headers)).json()
        assert len(first["entries"]) == 2 and first["next_before_id"] is not None
        second = (
            await h.api.get(
                f"/api/v1/qbo/log?limit=2&before_id={first['next_before_id']}", headers=h.headers
            )
        ).json()
        assert second["entries"][0]["id"] < first["entries"][-1]["id"]
        by_id = (
            await h.api.get("/api/v1/qbo/log?requestid=rs-r16-customer", headers=h.headers)
        ).json()
        assert [e["requestid"] for e in by_id["entries"]] == ["rs-r16-customer"]

        plain_key = await h.services.companies.issue_key(h.company_id)
        refused = await h.api.get(
            "/api/v1/qbo/log", headers={"Authorization": f"Bearer {plain_key.key}"}
        )
        assert refused.status_code == 403
        assert (await h.api.get("/api/v1/qbo/log")).status_code == 401

        # Another company sees only its own (empty) log.
        _, other = await h.services.companies.create("Other Rentals")
        other_key = await h.services.companies.issue_key(
            other.company_id, permissions=frozenset({Permission.VIEW_QBO_LOGS})
        )
        theirs = await h.api.get(
            "/api/v1/qbo/log", headers={"Authorization": f"Bearer {other_key.key}"}
        )
        assert theirs.status_code == 200 and theirs.json()["entries"] == []


async def test_entries_older_than_the_retention_are_purged(settings: Settings) -> None:
    async with qbo_harness(settings) as h:
        now = datetime.now(UTC)
        for age in (40, 1):
            await h.services.qbo_log.record(
                LogEntry(
                    company_id=h.company_id,
                    realm_id=h.realm,
                    at=now - timedelta(days=age),
                    method="GET",
                    path=f"/v3/company/{h.realm}/preferences?age={age}",
                    status=200,
                    duration_ms=1.0,
                    intuit_tid=None,
                    requestid=None,
                    request_body="",
                    response_body="{}",
                )
            )
        assert h.settings.qbo_log_retention_days == 30
        removed = await h.services.qbo_log.purge(older_than_days=h.settings.qbo_log_retention_days)
        assert removed == 1
        left = await h.services.qbo_log.page(h.company_id)
        assert [e.path.rsplit("=", 1)[1] for e in left] == ["1"]
