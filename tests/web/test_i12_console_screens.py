"""Issue 12, the console's data screens over HTTP (in process, a real worker and the QBO
emulator): dashboard, documents list and page, Resync (audited, same service as the API),
system messages and "Resync all with this code", QuickBooks logs; roles and company scoping."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2
import pytest

from rentsync.domain.people import Role
from rentsync.settings import Settings
from tests import ingest_fixtures as make
from tests.sync_rig import Rig, rig_for
from tests.web.console_fixtures import add_user, form_post, sign_in, text_of


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as connected:
        await connected.ready_with_catalogue()
        yield connected


@contextlib.asynccontextmanager
async def _browser(
    rig: Rig, email: str, role: Role = Role.OWNER, **flags: bool
) -> AsyncIterator[httpx2.AsyncClient]:
    """A signed-in browser-like client of the company's new user."""
    person = await add_user(rig.api, rig.company_id, email, role, **flags)
    async with httpx2.AsyncClient(
        transport=rig.api._transport, base_url="http://rentsync.test"
    ) as client:
        signed = await sign_in(client, person)
        assert signed.status_code in (200, 303), signed.text
        yield client


async def _failed_duplicate(rig: Rig) -> dict[str, object]:
    await rig.put("orders", "O-1", make.order("7001"))
    first = await rig.settled("orders", "O-1")
    await rig.put("orders", "O-2", make.order("7001"))
    failed = await rig.settled("orders", "O-2")
    assert failed["error"]["code"] == "6140"
    return first


async def test_i12_dashboard_shows_counts_queue_charts_and_newest_failures(rig: Rig) -> None:
    await _failed_duplicate(rig)
    async with _browser(rig, "owner@party.example") as browser:
        page = await browser.get("/")
        assert page.status_code == 200
        text = text_of(page)
        assert "Connected" in text
        assert 'data-kind="order"' in page.text
        assert 'hx-get="/dashboard/panel"' in page.text and 'hx-trigger="every 10s"' in page.text
        assert page.text.count('role="img"') == 2  # the two charts, each with a table under it
        failures = page.text.split('id="newest-failures"', 1)[1]
        assert 'href="/documents/order/O-2"' in failures and "6140" in failures
        assert "number" in text.lower()  # its remedy: use another invoice number
        panel = await browser.get("/dashboard/panel")
        assert panel.status_code == 200 and 'id="dashboard-panel"' in panel.text
        assert "<html" not in panel.text  # a fragment for htmx


async def test_i12_documents_list_filters_and_links_to_quickbooks(rig: Rig) -> None:
    first = await _failed_duplicate(rig)
    async with _browser(rig, "owner@party.example") as browser:
        listing = await browser.get("/documents", params={"kind": "order"})
        assert 'data-doc="order:O-1"' in listing.text and 'data-doc="order:O-2"' in listing.text
        assert 'data-doc="customer:C-1"' not in listing.text
        failed = await browser.get("/documents", params={"state": "failed"})
        assert 'data-doc="order:O-2"' in failed.text and 'data-doc="order:O-1"' not in failed.text
        by_code = await browser.get("/documents", params={"code": "6140"})
        assert 'data-doc="order:O-2"' in by_code.text
        searched = await browser.get("/documents", params={"q": "Maple"})
        assert 'data-doc="order:O-1"' in searched.text
        link = f"http://qbo.test/admin/companies/{rig.realm}/view/Invoice/{first['qbo']['id']}"
        assert link in listing.text
        bad = await browser.get("/documents", params={"from": "yesterday", "after": "x"})
        assert bad.status_code == 422
        assert "Dated from: enter a date as YYYY-MM-DD" in text_of(bad)
        assert "first page" in text_of(bad) and 'data-doc="' not in bad.text


async def test_i12_document_page_and_resync_through_the_same_service(rig: Rig) -> None:
    first = await _failed_duplicate(rig)
    async with _browser(rig, "bookkeeper@party.example", Role.BOOKKEEPER) as browser:
        page = await browser.get("/documents/order/O-2")
        text = text_of(page)
        assert "Failed" in text and "6140" in text and "What to do" in text
        assert "History of attempts" in text and 'id="resync"' in page.text
        holds = await browser.get("/quickbooks-holds/order/O-1")
        assert "7001" in text_of(holds) and "SyncToken" in text_of(holds)
        read_back = holds.text.split('id="read-back"', 1)[1]
        assert "Total" in read_back and "differs" not in read_back
        # The bookkeeper renumbers the older invoice in QuickBooks, then presses Resync.
        await rig.act("Invoice", first["qbo"]["id"], "edit", {"DocNumber": "7001-OLD"})
        before = len((await rig.status("orders", "O-2"))["history"])
        pressed = await form_post(
            browser, "/documents/resync", {"doc_type": "order", "source_id": "O-2"}
        )
        assert pressed.status_code == 303
        fixed = await rig.settled("orders", "O-2", attempts_after=before)
        assert fixed["state"] == "synced" and fixed["history"][0]["trigger"] == "resync"
    services = rig.api.app.state.services
    audit = await services.audit.of_company(rig.company_id)
    assert any(e.action == "document.resync" and e.target == "order:O-2" for e in audit)


async def test_i12_viewer_cannot_resync(rig: Rig) -> None:
    await _failed_duplicate(rig)
    async with _browser(rig, "viewer@party.example", Role.VIEWER) as browser:
        page = await browser.get("/documents/order/O-2")
        assert 'id="resync"' not in page.text
        forged = await form_post(
            browser, "/documents/resync", {"doc_type": "order", "source_id": "O-2"}
        )
        assert forged.status_code == 403
        forged = await form_post(browser, "/messages/resync-code", {"code": "6140"})
        assert forged.status_code == 403


async def test_i12_system_messages_resync_all_with_a_code(rig: Rig) -> None:
    first = await _failed_duplicate(rig)
    async with _browser(rig, "owner@party.example") as browser:
        page = await browser.get("/messages")
        assert 'data-doc="order:O-2"' in page.text and "Resync all with 6140" in text_of(page)
        await rig.act("Invoice", first["qbo"]["id"], "edit", {"DocNumber": "7001-OLD"})
        before = len((await rig.status("orders", "O-2"))["history"])
        pressed = await form_post(browser, "/messages/resync-code", {"code": "6140"})
        assert pressed.status_code == 303
        assert (await rig.settled("orders", "O-2", attempts_after=before))["state"] == "synced"
        after = await browser.get("/messages")
        assert 'data-doc="order:O-2"' not in after.text


async def test_i12_quickbooks_logs_need_the_permission(rig: Rig) -> None:
    await _failed_duplicate(rig)
    async with _browser(rig, "owner@party.example") as without:
        home = await without.get("/")
        assert 'href="/quickbooks/logs"' not in home.text
        assert (await without.get("/quickbooks/logs")).status_code == 403
    async with _browser(rig, "logs@party.example", Role.VIEWER, view_qbo_logs=True) as with_:
        home = await with_.get("/")
        assert 'href="/quickbooks/logs"' in home.text
        logs = await with_.get("/quickbooks/logs", params={"entity": "Invoice", "code": "6140"})
        assert logs.status_code == 200
        entries = logs.text.split('<ol class="log" id="qbo-log">', 1)[1].split("</ol>", 1)[0]
        assert entries.count('class="card log-entry"') >= 2  # two refused creates (R15)
        assert "/invoice?" in entries and "6140" in entries
        assert "/customer" not in entries and "Bearer" not in logs.text
        bad = await with_.get(
            "/quickbooks/logs", params={"entity": "In voice", "status": "", "code": "6140'"}
        )
        assert bad.status_code == 422
        assert "QuickBooks entity: letters and digits only" in text_of(bad)
        assert "QuickBooks error code: letters and digits only" in text_of(bad)
        empty = await with_.get("/quickbooks/logs", params={"entity": "", "status": "", "to": ""})
        assert empty.status_code == 200  # an empty filter form


async def test_i12_one_companys_user_never_sees_anothers_documents(rig: Rig) -> None:
    await _failed_duplicate(rig)
    services = rig.api.app.state.services
    other, _ = await services.companies.create("Other Rentals")
    person = await add_user(rig.api, other.id, "owner@other.example", view_qbo_logs=True)
    async with httpx2.AsyncClient(
        transport=rig.api._transport, base_url="http://rentsync.test"
    ) as browser:
        await sign_in(browser, person)
        listing = await browser.get("/documents")
        assert "O-1" not in listing.text and "No documents match" in listing.text
        assert (await browser.get("/documents/order/O-1")).status_code == 404
        assert (await browser.get("/quickbooks-holds/order/O-1")).status_code == 404
        logs = await browser.get("/quickbooks/logs")
        assert "7001" not in logs.text and "No requests match" in logs.text
        messages = await browser.get("/messages")
        assert "O-2" not in messages.text
        forged = await form_post(
            browser, "/documents/resync", {"doc_type": "order", "source_id": "O-2"}
        )
        assert forged.status_code == 404


async def test_r17_no_resync_is_offered_for_a_skip_the_rental_system_decides(rig: Rig) -> None:
    """A document marked No QuickBooks stays skipped whatever a resync does: the message shows
    its remedy but no Resync buttons; a failure beside it keeps them."""
    await _failed_duplicate(rig)
    await rig.put("orders", "O-NQ", {**make.order("7002"), "no_quickbooks": True})
    skipped = await rig.settled("orders", "O-NQ")
    assert skipped["state"] == "skipped"
    async with _browser(rig, "owner@party.example") as browser:
        page = await browser.get("/messages")
        text = text_of(page)
        assert 'data-doc="order:O-NQ"' in page.text
        assert "Resync all with no_quickbooks" not in text
        assert "Resync all with 6140" in text
        assert 'value="O-NQ"' not in page.text  # no per-document Resync form for it
