"""R18 and B5 in the web console (issue 13): the Bulk sync screen over HTTP (in process, a real
worker and the QBO emulator). The list, the form (the API's own 422 problems, each next to its
field, nothing stored), the preview (counts by planned outcome, each order with its reason,
paged and filtered, the calls and the time), Start and Cancel through the service the API
uses, the progress with each order's outcome and a failed one's remedy; roles (a viewer sees,
a forged POST is refused), the audit, and company isolation."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from rentsync.domain.bulk import Progress, pace_of
from rentsync.domain.people import Role
from rentsync.settings import Settings
from rentsync.web import bulk as bulk_screen
from tests.requirements.test_r18_bulk_sync import BULK, backlog_before_connection
from tests.sync_rig import Rig, rig_for
from tests.web.console_fixtures import add_user, csrf, form_post, sign_in, text_of


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    async with rig_for(settings) as unconnected:
        yield unconnected


@contextlib.asynccontextmanager
async def _browser(
    rig: Rig, email: str, role: Role = Role.BOOKKEEPER
) -> AsyncIterator[httpx2.AsyncClient]:
    """A signed-in browser-like client of the company's new user."""
    person = await add_user(rig.api, rig.company_id, email, role)
    async with httpx2.AsyncClient(
        transport=rig.api._transport, base_url="http://rentsync.test"
    ) as client:
        signed = await sign_in(client, person)
        assert signed.status_code in (200, 303), signed.text
        yield client


async def _ready_backlog(rig: Rig) -> None:
    """Six orders sent before QuickBooks was connected, then connected and mapped."""
    await backlog_before_connection(rig)
    await rig.connect()
    await rig.map_accounts()


async def _page_until(
    browser: httpx2.AsyncClient, path: str, state: str, timeout: float = 30
) -> httpx2.Response:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        page = await browser.get(path)
        assert page.status_code == 200, page.text
        if f'data-state="{state}"' in page.text:
            return page
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path} never reached {state}: {text_of(page)[:2000]}")
        await asyncio.sleep(0.1)


def _planned(page: httpx2.Response, planned: str) -> str:
    """The preview's count of orders planned `planned`."""
    found = re.search(
        rf'<tr data-planned="{planned}">.*?<td class="num">(\d+)</td>', page.text, re.S
    )
    assert found, f"no count for {planned}"
    return found.group(1)


def _count(page: httpx2.Response, name: str) -> str:
    """A progress count (created, failed, waiting, ...)."""
    found = re.search(rf'data-count="{name}">(\d+)<', page.text)
    assert found, f"no count {name}"
    return found.group(1)


def _rows(page: httpx2.Response) -> dict[str, str]:
    """order -> its row's HTML, in the orders table."""
    return dict(re.findall(r'<tr data-order="([^"]+)"[^>]*>(.*?)</tr>', page.text, re.S))


async def _create(browser: httpx2.AsyncClient, data: dict[str, str]) -> int:
    created = await form_post(browser, "/bulk-syncs", data)
    assert created.status_code == 303, created.text
    found = re.fullmatch(r"/bulk-syncs/(\d+)", created.headers["location"])
    assert found, created.headers["location"]
    return int(found.group(1))


async def test_r18_console_bulk_sync_previews_starts_and_shows_progress(rig: Rig) -> None:
    await _ready_backlog(rig)
    async with _browser(rig, "bookkeeper@party.example") as browser:
        listing = await browser.get("/bulk-syncs")
        assert listing.status_code == 200
        assert 'href="/bulk-syncs"' in listing.text  # in the navigation
        assert "No bulk sync yet" in text_of(listing) and 'id="new-bulk-sync"' in listing.text
        form = await browser.get("/bulk-syncs/new")
        assert form.status_code == 200 and 'name="not_in_qbo"' in form.text

        bulk_id = await _create(browser, {"not_in_qbo": "true"})
        path = f"/bulk-syncs/{bulk_id}"
        preview = await _page_until(browser, path, "previewed")
        counts = {p: _planned(preview, p) for p in ("create", "update", "skip", "fail")}
        assert counts == {"create": "3", "update": "0", "skip": "1", "fail": "2"}
        # The QuickBooks calls and the time: the API's figures.
        api = (await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)).json()
        assert f'id="qbo-calls">{api["preview"]["qbo_calls"]}<' in preview.text
        assert api["preview"]["qbo_calls"] > 0
        assert re.search(
            r'id="estimate">(less than 1 s|\d+ s|\d+ min \d+ s|\d+ h \d+ min)<', preview.text
        )
        assert "500 a minute" in text_of(preview)
        rows = _rows(preview)
        assert list(rows) == ["O-1", "O-2", "O-3", "O-4", "O-5", "O-6"]
        assert (
            "no_quickbooks" in rows["O-3"] and "The order is marked No QuickBooks." in rows["O-3"]
        )
        assert "rentsync_reference_missing" in rows["O-4"]
        assert "rentsync_tax_rate_not_synced" in rows["O-5"]
        assert 'href="/documents/order/O-1"' in rows["O-1"]
        assert 'id="start"' in preview.text and 'id="cancel"' in preview.text
        assert 'hx-get="' not in preview.text  # previewed: nothing moves until Start
        assert "Not started" in text_of(preview)
        assert await rig.qbo_entities("Invoice") == []

        failing = await browser.get(path, params={"planned": "fail"})
        assert list(_rows(failing)) == ["O-4", "O-5"]
        bad_filter = await browser.get(path, params={"planned": "nonsense"})
        assert bad_filter.status_code == 200 and len(_rows(bad_filter)) == 6

        started = await form_post(browser, f"{path}/start")
        assert started.status_code == 303 and started.headers["location"] == path
        running = await browser.get(path)
        assert "started" in text_of(running)
        done = await _page_until(browser, path, "done")
        assert {c: _count(done, c) for c in ("created", "skipped", "failed", "waiting")} == {
            "created": "3",
            "skipped": "1",
            "failed": "2",
            "waiting": "0",
        }
        outcome_of = dict(re.findall(r'<tr data-order="([^"]+)" data-outcome="(\w+)"', done.text))
        assert outcome_of == {
            "O-1": "synced",
            "O-2": "synced",
            "O-3": "skipped",
            "O-4": "failed",
            "O-5": "failed",
            "O-6": "synced",
        }
        failed_row = _rows(done)["O-4"]
        assert "rentsync_reference_missing" in failed_row
        remedy = (await rig.status("orders", "O-4"))["error"]["remedy"]
        assert remedy and f'<span class="remedy">{remedy}</span>' in failed_row
        # The progress fragment htmx polls: the same figures, no page around them.
        panel = await browser.get(f"{path}/panel")
        assert panel.status_code == 200 and "<html" not in panel.text
        assert 'id="bulk-sync-panel"' in panel.text and 'data-count="created"' in panel.text
        again = await form_post(browser, f"{path}/start")
        assert again.status_code == 303
        refused = await browser.get(path)
        assert "only a previewed one starts" in text_of(refused)

        listing = await browser.get("/bulk-syncs")
        row = re.search(rf'<tr data-bulk="{bulk_id}">(.*?)</tr>', listing.text, re.S)
        assert row and "Done" in row.group(1) and "not yet in QuickBooks" in row.group(1)
        assert "create 3" in row.group(1) and "6 of 6 ended" in row.group(1)

    invoices = await rig.qbo_entities("Invoice")
    assert sorted(invoice["DocNumber"] for invoice in invoices) == ["5001", "5002", "5006"]
    audit = await rig.api.app.state.services.audit.of_company(rig.company_id)
    actions = [(e.action, e.target) for e in audit]
    assert ("bulk_sync.created", str(bulk_id)) in actions
    assert ("bulk_sync.started", str(bulk_id)) in actions
    created_entry = next(e for e in audit if e.action == "bulk_sync.created")
    assert created_entry.detail == {"selection": {"not_in_qbo": True}}


async def test_r18_console_bulk_sync_items_are_paged(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _ready_backlog(rig)
    monkeypatch.setattr(bulk_screen, "PAGE_SIZE", 4)
    async with _browser(rig, "bookkeeper@party.example") as browser:
        bulk_id = await _create(browser, {"not_in_qbo": "true"})
        first = await _page_until(browser, f"/bulk-syncs/{bulk_id}", "previewed")
        assert list(_rows(first)) == ["O-1", "O-2", "O-3", "O-4"]
        following = re.search(r'href="(/bulk-syncs/\d+\?after=\d+)#items" rel="next"', first.text)
        assert following
        second = await browser.get(following.group(1))
        assert list(_rows(second)) == ["O-5", "O-6"]
        assert 'rel="next"' not in second.text and "First page" in text_of(second)
        bad = await browser.get(f"/bulk-syncs/{bulk_id}", params={"after": "x", "planned": "?"})
        assert bad.status_code == 422 and "Page: a whole number" in text_of(bad)
        assert list(_rows(bad)) == ["O-1", "O-2", "O-3", "O-4"]


@pytest.mark.parametrize(
    ("form", "field", "api_body"),
    [
        ({"date_from": "01/12/2026"}, "date_from", {"date_from": "01/12/2026"}),
        (
            {"date_from": "2026-12-01", "date_to": "2026-11-01"},
            "date_to",
            {"date_from": "2026-12-01", "date_to": "2026-11-01"},
        ),
        ({"numbers": "5001, " + "x" * 22}, "numbers", {"numbers": ["5001", "x" * 22]}),
        ({"kinds": "invoice"}, "kinds", {"kinds": ["invoice"]}),
        ({"numbers": "50\x0001"}, "numbers", {"numbers": ["50\x0001"]}),
    ],
)
async def test_r18_console_bulk_sync_form_names_the_api_problem_next_to_the_field(
    rig: Rig, form: dict[str, str], field: str, api_body: dict[str, Any]
) -> None:
    await rig.connect()
    api = await rig.api.post(BULK, json=api_body, headers=rig.headers)
    assert api.status_code == 422, api.text
    messages = [error["msg"] for error in api.json()["detail"]]
    async with _browser(rig, "owner@party.example", Role.OWNER) as browser:
        page = await form_post(browser, "/bulk-syncs", form)
        assert page.status_code == 422, page.text
        shown = re.search(
            rf'<p class="field-error" role="alert" id="e-{field}">(.*?)</p>', page.text
        )
        assert shown, f"no problem next to {field}: {text_of(page)}"
        for message in messages:
            assert message in text_of(page), (message, shown.group(1))
        assert "\x00" not in page.text
    listed = await rig.api.get(BULK, headers=rig.headers)
    assert listed.json()["items"] == [], "nothing stored"


async def test_r18_console_bulk_sync_needs_a_connection(rig: Rig) -> None:
    async with _browser(rig, "owner@party.example", Role.OWNER) as browser:
        page = await form_post(browser, "/bulk-syncs", {"not_in_qbo": "true"})
        assert page.status_code == 409
        assert "not connected" in text_of(page) and 'id="form-problem"' in page.text
        assert 'name="not_in_qbo" value="true" id="b-not-in-qbo" checked' in page.text
    listed = await rig.api.get(BULK, headers=rig.headers)
    assert listed.json()["items"] == []


async def test_r18_console_bulk_sync_cancel_sends_nothing_and_is_audited(rig: Rig) -> None:
    await _ready_backlog(rig)
    async with _browser(rig, "owner@party.example", Role.OWNER) as browser:
        bulk_id = await _create(browser, {"numbers": "5001 5002", "kinds": "order"})
        path = f"/bulk-syncs/{bulk_id}"
        preview = await _page_until(browser, path, "previewed")
        assert list(_rows(preview)) == ["O-1", "O-2"]
        assert "numbers 5001, 5002; orders" in text_of(preview)
        cancelled = await form_post(browser, f"{path}/cancel")
        assert cancelled.status_code == 303
        page = await browser.get(path)
        assert 'data-state="cancelled"' in page.text and "no more documents are sent" in page.text
        assert 'id="start"' not in page.text and 'id="cancel"' not in page.text
        refused = await form_post(browser, f"{path}/start")
        assert refused.status_code == 303
        assert "only a previewed one starts" in text_of(await browser.get(path))
    await asyncio.sleep(0.5)
    assert await rig.qbo_entities("Invoice") == []
    audit = await rig.api.app.state.services.audit.of_company(rig.company_id)
    assert ("bulk_sync.cancelled", str(bulk_id)) in [(e.action, e.target) for e in audit]
    assert not any(e.action == "bulk_sync.started" for e in audit)


async def test_r18_console_bulk_sync_viewer_sees_but_cannot_act(rig: Rig) -> None:
    await _ready_backlog(rig)
    created = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    bulk_id = created.json()["id"]
    async with _browser(rig, "viewer@party.example", Role.VIEWER) as browser:
        path = f"/bulk-syncs/{bulk_id}"
        page = await _page_until(browser, path, "previewed")
        assert 'id="start"' not in page.text and 'id="cancel"' not in page.text
        assert len(_rows(page)) == 6
        listing = await browser.get("/bulk-syncs")
        assert f'data-bulk="{bulk_id}"' in listing.text and 'id="new-bulk-sync"' not in listing.text
        assert (await browser.get("/bulk-syncs/new")).status_code == 403
        for action, data in (
            (f"{path}/start", {}),
            (f"{path}/cancel", {}),
            ("/bulk-syncs", {"not_in_qbo": "true"}),
        ):
            forged = await form_post(browser, action, data)
            assert forged.status_code == 403, (action, forged.text)
    state = (await rig.api.get(f"{BULK}/{bulk_id}", headers=rig.headers)).json()["state"]
    assert state == "previewed"
    listed = (await rig.api.get(BULK, headers=rig.headers)).json()["items"]
    assert [b["id"] for b in listed] == [bulk_id]
    audit = await rig.api.app.state.services.audit.of_company(rig.company_id)
    assert not any(e.action.startswith("bulk_sync.") for e in audit)


async def test_r18_console_bulk_sync_of_another_company_is_404(rig: Rig) -> None:
    await _ready_backlog(rig)
    created = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    theirs = created.json()["id"]
    services = rig.api.app.state.services
    other, _key = await services.companies.create("Another Rentals")
    person = await add_user(services, other.id, "owner@another.example", Role.OWNER)
    async with httpx2.AsyncClient(
        transport=rig.api._transport, base_url="http://rentsync.test"
    ) as browser:
        await sign_in(browser, person)
        listing = await browser.get("/bulk-syncs")
        assert f'data-bulk="{theirs}"' not in listing.text
        for path in (f"/bulk-syncs/{theirs}", f"/bulk-syncs/{theirs}/panel"):
            page = await browser.get(path)
            assert page.status_code == 404 and "No such bulk sync" in text_of(page)
        for action in ("start", "cancel"):
            forged = await form_post(browser, f"/bulk-syncs/{theirs}/{action}")
            assert forged.status_code == 404
        for odd in ("abc", "0", str(2**70), "１"):
            assert (await browser.get(f"/bulk-syncs/{odd}")).status_code == 404
    state = (await rig.api.get(f"{BULK}/{theirs}", headers=rig.headers)).json()["state"]
    assert state in ("previewing", "previewed")


def test_r18_rate_and_time_left_shown_for_a_run() -> None:
    started = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    progress = Progress(waiting=150, in_sync=20, created=100, skipped=20, failed=10)
    pace = pace_of(progress, started_at=started, now=started + timedelta(minutes=2))
    assert pace.per_minute == 65  # 130 orders ended in 2 minutes
    assert pace.remaining == timedelta(minutes=170 / 65)
    assert pace_of(Progress(waiting=5), started_at=started, now=started).per_minute is None
    assert pace_of(progress, started_at=None, now=started).remaining is None
    assert bulk_screen.duration_text(pace.remaining) == "2 min 37 s"
    assert bulk_screen.duration_text(timedelta(milliseconds=300)) == "less than 1 s"
    assert bulk_screen.duration_text(timedelta(hours=2, minutes=5)) == "2 h 5 min"


async def test_r14_console_offers_every_kind_and_lists_payments_and_vendor_documents(
    rig: Rig,
) -> None:
    """The form offers each kind a bookkeeper knows; a bulk sync of payments and vendor bills
    lists them with their kind and a link to each document."""
    from tests import vendor_fixtures as vendors
    from tests.requirements.test_r14_r18_bulk_every_kind import (
        orders_with_payments_before_connection,
        vendor_side_before_connection,
    )

    await orders_with_payments_before_connection(rig)
    await vendor_side_before_connection(rig)
    await rig.connect()
    await vendors.map_vendor_accounts(rig)
    async with _browser(rig, "bookkeeper@party.example") as browser:
        form = await browser.get("/bulk-syncs/new")
        for kind in ("order", "quote", "payment", "purchase_order", "vendor_bill"):
            assert f'name="kinds" value="{kind}"' in form.text
        assert "Vendor payments" in text_of(form)
        refused = await form_post(browser, "/bulk-syncs", {"kinds": "invoice"})
        assert refused.status_code == 422 and 'id="e-kinds"' in refused.text
        created = await browser.post(
            "/bulk-syncs",
            data={"kinds": ["payment", "vendor_bill"], "csrftoken": csrf(browser)},
        )
        assert created.status_code == 303, created.text
        preview = await _page_until(browser, created.headers["location"], "previewed")
        kinds = re.findall(r'data-order="([^"]+)"[^>]*data-kind="(\w+)"', preview.text)
        assert sorted(kinds) == [
            ("B-1", "vendor_bill"),
            ("B-2", "vendor_bill"),
            ("PAY-1", "payment"),
            ("PAY-1/RF-1", "refund"),
            ("PAY-2", "payment"),
            ("PAY-2", "payment_void"),
            ("PAY-3", "payment"),
        ]
        assert 'href="/documents/vendor_bill/B-1"' in preview.text
        assert "payments (with their refunds and voids), vendor bills" in text_of(preview)


async def test_b5_the_console_counts_documents_and_says_each_kind(rig: Rig) -> None:
    """The console headed every document of a bulk sync "Orders" (payments and refunds too)."""
    from tests.requirements.test_r18_bulk_sync import paid_backlog

    await paid_backlog(rig)
    await rig.connect()
    await rig.map_accounts()
    created = await rig.api.post(BULK, json={"not_in_qbo": True}, headers=rig.headers)
    bulk_id = created.json()["id"]
    async with _browser(rig, "kinds@party.example") as browser:
        page = await _page_until(browser, f"/bulk-syncs/{bulk_id}", "previewed")
        text = text_of(page)
        assert "By kind: 2 orders, 1 quote, 2 payments, 1 refund." in text
        assert re.search(r'id="preview-documents">\s*6<', page.text), page.text
        assert "Orders" not in re.sub(r"Purchase orders", "", text), "no figure called orders"
        listing = text_of(await browser.get("/bulk-syncs"))
        assert "Documents" in listing
        assert "Orders" not in re.sub(r"Purchase orders", "", listing)
