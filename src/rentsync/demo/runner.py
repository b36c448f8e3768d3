"""The demo, start to finish:

1. a demo data directory (`<data dir>/demo`), emptied first unless --keep-data;
2. `qbo-emulator` as a separate process on a free port of 127.0.0.1; an OAuth app and two
   QuickBooks companies created through its admin API;
3. rentsync's HTTP API and a worker in this process (uvicorn), configured for the emulator;
4. two rentsync companies, each connected through the real OAuth flow over HTTP (connect ->
   consent page -> approve -> rentsync's callback), accounts mapped, tax rates synced;
5. the week seeded through the public API only, then the status API polled until every order
   and quote has settled (synced, skipped or failed), however long that takes while the sync
   moves on: the demo gives up only when no document has changed for `stall_timeout` seconds;
6. the report; then serving until Ctrl-C / SIGTERM (or exit at once with --exit-after-sync).

Shutdown order: the service (running jobs finish), then the emulator (SIGTERM, wait). The
embedded PostgreSQL stops when the service releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import psutil
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.markup import escape

from rentsync.api.app import create_app
from rentsync.bootstrap import Services
from rentsync.demo import report
from rentsync.demo.emulator import (
    DemoError,
    EmulatorCompany,
    EmulatorProcess,
    create_company,
    free_port,
    port_is_free,
    register_app,
    set_ast_preference,
)
from rentsync.demo.seed import SeedCompany, SeedOrder, party_week
from rentsync.demo.vendor_seed import EXPENSE_CATEGORIES
from rentsync.domain.people import Role
from rentsync.domain.qbo import StoredStatus
from rentsync.jobs import REPEATED_SIGNAL_SECONDS
from rentsync.people.service import Actor, PeopleError
from rentsync.qbo import http
from rentsync.settings import Settings

FINAL_STATES = frozenset({"synced", "skipped", "failed"})
POLL_SECONDS = 0.25
UNSPECIFIED_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared, not bound


@dataclasses.dataclass(frozen=True, kw_only=True)
class DemoOptions:
    emulator_port: int | None = None
    """None: a free port on 127.0.0.1."""
    fresh: bool = True
    """Empty the demo's embedded database first (the default; --keep-data turns it off)."""
    exit_after_sync: bool = False
    stall_timeout: float = 60.0
    """Give up waiting once no document has moved (a new state, attempt or revision) for this
    long. Not a bound on the whole sync: a busy machine takes longer, and the demo waits."""
    week_start: date | None = None
    """The Monday of the seeded week; None: this week's."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Retired:
    """A demo company of an earlier run (kept data), its connection marked lost."""

    company_id: int
    name: str
    realm_id: str


@dataclasses.dataclass(kw_only=True)
class CompanyRun:
    seed: SeedCompany
    company_id: int
    api_key: str
    qbo: EmulatorCompany
    console_email: str = ""
    console_password: str = ""
    """The demo owner's sign-in to the web console (a new password every run)."""
    tax_rate_id: str | None = None
    statuses: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Order source id -> its sync status (the API's body)."""
    reference_states: dict[str, int] = dataclasses.field(default_factory=dict)
    """Customers and products: how many in each sync state."""
    payment_statuses: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Status path (`payments/PAY-1`, `refunds/PAY-1/RF-1`, `payment-voids/PAY-1`) -> status."""
    qbo_balances: dict[str, Decimal] = dataclasses.field(default_factory=dict)
    """Order source id -> its invoice's Balance in QuickBooks (orders in QuickBooks only)."""
    vendor_statuses: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Vendor-side status path (`vendors/V-1`, `vendor-bills/B-1`, ...) -> its status."""
    qbo_documents: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Vendor-side status path -> the QBO object as QuickBooks holds it (when it has one)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclasses.dataclass(kw_only=True)
class DemoRun:
    api_url: str
    emulator: EmulatorProcess
    data_note: str
    companies: list[CompanyRun] = dataclasses.field(default_factory=list)
    settled: bool = False
    sync_seconds: float = 0.0
    retired: list[Retired] = dataclasses.field(default_factory=list)
    """Companies of earlier runs (kept data) whose connection this run marked lost."""
    cli_env: str = ""
    """What the command line needs to reach this demo's database (`RENTSYNC_DATA_DIR=...`)."""


def local_url(host: str, port: int) -> str:
    """Where this machine reaches a server listening on `host`."""
    reach = "127.0.0.1" if host in UNSPECIFIED_HOSTS else host
    if ":" in reach:
        reach = f"[{reach}]"
    return f"http://{reach}:{port}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- the data directory ---------------------------------------------------------------------


@contextlib.contextmanager
def demo_data_dir(settings: Settings, *, fresh: bool) -> Iterator[tuple[Path, str]]:
    """`<data dir>/demo`, held with a lock so two demos never share it; its embedded database
    is removed first when `fresh` (and no PostgreSQL server still runs on it)."""
    demo_dir = settings.data_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    lock: IO[str] = (demo_dir / ".demo.lock").open("w")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoError(
                f"another rentsync demo is using {demo_dir}; stop it first, or set "
                "RENTSYNC_DATA_DIR to another directory"
            ) from None
        yield demo_dir, _prepare_database(settings, demo_dir, fresh=fresh)
    finally:
        lock.close()


def _prepare_database(settings: Settings, demo_dir: Path, *, fresh: bool) -> str:
    if not settings.uses_embedded_database:
        return "data: the PostgreSQL at DATABASE_URL (kept; every run adds two new demo companies)"
    pgdata = demo_dir / "pgdata"
    if not fresh:
        return f"data: {demo_dir} (kept from earlier runs: --keep-data)"
    if not pgdata.exists():
        return f"data: {demo_dir} (new)"
    postmaster = _running_postmaster(pgdata)
    if postmaster is not None:
        return (
            f"data: {demo_dir} (kept: PostgreSQL pid {postmaster} from an earlier demo still "
            "runs on it)"
        )
    shutil.rmtree(pgdata)
    return (
        f"data: {demo_dir} (fresh: the previous demo's database was removed; --keep-data keeps it)"
    )


def _running_postmaster(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        pid = int(first_line.strip())
    except (OSError, IndexError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


# --- the service ------------------------------------------------------------------------------


class _DemoServer(uvicorn.Server):
    """uvicorn without its own signal handling: the demo stops the service AND the emulator."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _start_service(settings: Settings) -> tuple[_DemoServer, asyncio.Task[None], FastAPI]:
    app = create_app(settings, with_worker=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    server = _DemoServer(config)
    task = asyncio.create_task(server.serve(), name="rentsync demo HTTP server")
    while not server.started:
        if task.done():
            raise DemoError(
                f"rentsync could not start on {settings.host}:{settings.port}; see the log above"
            )
        await asyncio.sleep(0.05)
    return server, task, app


# --- connecting and seeding, over HTTP ------------------------------------------------------


def _check(response: http.Response, what: str, *ok: int) -> Any:
    if response.status_code not in (ok or (200,)):
        raise DemoError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    if "json" not in response.headers.get("content-type", ""):
        return None
    return response.json()


async def connect(api: http.AsyncClient, qbo: http.AsyncClient, run: CompanyRun) -> dict[str, Any]:
    """As a user would: rentsync's connect link -> the consent page -> approve the company ->
    the browser lands on rentsync's callback."""
    started = _check(await api.post("/api/v1/qbo/connect", headers=run.headers), "connect")
    authorize_url = str(started["authorize_url"])
    _check(await qbo.get(authorize_url), "open the consent page")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    form: dict[str, str] = {
        key: query[key]
        for key in ("client_id", "redirect_uri", "state", "scope", "response_type")
        if key in query
    }
    approved = await qbo.post(
        "/connect/oauth2/consent",
        data={**form, "realm_id": run.qbo.realm_id, "decision": "approve"},
    )
    if approved.status_code != 302:
        raise DemoError(f"approve on the consent page: HTTP {approved.status_code}")
    landed = await api.get(approved.headers["location"])
    if landed.status_code != 200:
        raise DemoError(f"rentsync's callback: HTTP {landed.status_code}: {landed.text[:300]}")
    status = _check(
        await api.get("/api/v1/qbo/connection", headers=run.headers), "connection status"
    )
    if status.get("state") != "connected":
        raise DemoError(f"{run.seed.name} did not connect: {status}")
    return dict(status)


async def configure(api: http.AsyncClient, run: CompanyRun) -> None:
    """Map the accounts the emulator created, choose the sync mode, pull the tax rates."""
    accounts = run.qbo.accounts
    _check(
        await api.put(
            "/api/v1/settings",
            json={
                "sync_mode": run.seed.sync_mode,
                "accounts": {
                    "income": accounts["income"],
                    "expense": accounts["cogs"],
                    "asset": accounts["inventory"],
                    "payable": accounts["ap"],
                    "vendor_payment": accounts["bank"],
                    "deposit": accounts["undeposited"],
                    "expense_categories": {
                        category: accounts[role] for category, role in EXPENSE_CATEGORIES.items()
                    },
                },
            },
            headers=run.headers,
        ),
        "save settings",
    )
    rates = _check(await api.post("/api/v1/tax-rates/sync", headers=run.headers), "tax rates")
    wanted = next((r for r in rates if r["name"] == run.seed.tax_rate_name), None)
    if wanted is None:
        raise DemoError(f"QuickBooks has no tax rate {run.seed.tax_rate_name!r}: {rates}")
    if Decimal(str(wanted["rate_percent"])) != run.seed.tax_percent:
        raise DemoError(
            f"tax rate {wanted['name']!r} is {wanted['rate_percent']} % in QuickBooks; the "
            f"demo's rental system charges {run.seed.tax_percent} %"
        )
    run.tax_rate_id = str(wanted["id"])


class Patience:
    """How long the demo waits for the sync: while any document it waits for moves (a new
    state, attempt or revision), and for `stall_seconds` after the last move. The whole sync's
    time depends on the machine's load; a stall is what means something is stuck."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._last_move = time.monotonic()

    def saw(self, path: str, status: dict[str, Any]) -> None:
        history = status.get("history") or []
        mark = (status.get("state"), status.get("revision"), len(history), status.get("attempts"))
        if self._seen.get(path) != mark:
            self._seen[path] = mark
            self._last_move = time.monotonic()

    def exhausted(self) -> bool:
        return time.monotonic() - self._last_move > self.stall_seconds


async def seed_company(api: http.AsyncClient, run: CompanyRun, *, patience: Patience) -> None:
    for customer in run.seed.customers:
        _check(
            await api.put(
                f"/api/v1/customers/{customer.source_id}",
                json=customer.body(),
                headers=run.headers,
            ),
            f"PUT customer {customer.source_id}",
            200,
            202,
        )
    for product in run.seed.products:
        _check(
            await api.put(
                f"/api/v1/products/{product.source_id}", json=product.body(), headers=run.headers
            ),
            f"PUT product {product.source_id}",
            200,
            202,
        )
    for order in run.seed.orders:
        if order.after is not None:
            # A story that needs an earlier order in QuickBooks first (the duplicate number).
            await wait_settled(api, run, [order.after], patience=patience)
        await put_order(api, run, order)


async def put_order(api: http.AsyncClient, run: CompanyRun, order: SeedOrder) -> None:
    _check(
        await api.put(
            f"/api/v1/orders/{order.source_id}",
            json=order.body_with(run.tax_rate_id),
            headers=run.headers,
        ),
        f"PUT order {order.source_id}",
        200,
        202,
    )


async def order_status(api: http.AsyncClient, run: CompanyRun, source_id: str) -> dict[str, Any]:
    status = _check(
        await api.get(f"/api/v1/orders/{source_id}/sync", headers=run.headers),
        f"status of {source_id}",
    )
    return dict(status)


async def wait_settled(
    api: http.AsyncClient, run: CompanyRun, source_ids: list[str], *, patience: Patience
) -> bool:
    """Poll until every order has a final state; False when nothing moved for `patience`."""
    waiting = list(source_ids)
    while True:
        still = []
        for source_id in waiting:
            status = await order_status(api, run, source_id)
            run.statuses[source_id] = status
            patience.saw(f"orders/{source_id}", status)
            if status["state"] not in FINAL_STATES:
                still.append(source_id)
        waiting = still
        if not waiting:
            return True
        if patience.exhausted():
            return False
        await asyncio.sleep(POLL_SECONDS)


async def record_credits(admin: http.AsyncClient, api: http.AsyncClient, run: CompanyRun) -> None:
    """The bookkeeper's credit memos in QuickBooks (through the emulator's own API, as another
    app would write them): the credit the demo's credit-applied payment draws on."""
    if not run.seed.credits:
        return
    apps = _check(await admin.get("/admin/apps"), "the emulator's apps")
    issued = _check(
        await admin.post(
            f"/admin/companies/{run.qbo.realm_id}/tokens", json={"client_id": apps[0]["client_id"]}
        ),
        "an emulator token",
    )
    headers = {"Authorization": f"Bearer {issued['access_token']}", "Accept": "application/json"}
    item = _check(
        await api.get(
            f"/api/v1/products/{run.seed.products[0].source_id}/sync", headers=run.headers
        ),
        "a product's status",
    )["qbo"]["id"]
    for credit in run.seed.credits:
        customer = _check(
            await api.get(f"/api/v1/customers/{credit.customer_id}/sync", headers=run.headers),
            f"customer {credit.customer_id}",
        )["qbo"]["id"]
        line = {
            "DetailType": "SalesItemLineDetail",
            "Description": credit.note,
            "Amount": str(credit.amount),
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "TaxCodeRef": {"value": "NON"}},
        }
        _check(
            await admin.post(
                f"/v3/company/{run.qbo.realm_id}/creditmemo",
                json={"CustomerRef": {"value": customer}, "Line": [line]},
                headers=headers,
            ),
            f"a credit memo for {credit.customer_id}",
        )


async def put_payments(api: http.AsyncClient, run: CompanyRun, *, later: bool) -> list[str]:
    """PUT every payment's first state (or, `later`, the later states); the paths to wait for."""
    paths: list[str] = []
    for payment in run.seed.payments:
        body = payment.then if later else payment.body
        if body is None:
            continue
        _check(
            await api.put(
                f"/api/v1/payments/{payment.source_id}",
                json={**body, "version": 2 if later else 1},
                headers=run.headers,
            ),
            f"PUT payment {payment.source_id}",
            200,
            202,
        )
        paths += payment.paths if later or payment.then is None else [payment.paths[0]]
    return paths


async def wait_paths(
    api: http.AsyncClient,
    run: CompanyRun,
    paths: list[str],
    *,
    patience: Patience,
    into: dict[str, dict[str, Any]] | None = None,
) -> bool:
    """Poll documents (payments and their parts by default) until each has a final state for
    its newest revision (False when nothing moved for `patience`); their statuses go `into`
    (default `run.payment_statuses`)."""
    found = run.payment_statuses if into is None else into
    waiting = list(paths)
    while True:
        still = []
        for path in waiting:
            status = _check(
                await api.get(f"/api/v1/{path}/sync", headers=run.headers), f"status of {path}"
            )
            found[path] = status
            patience.saw(path, status)
            history = status.get("history") or []
            latest = history[0]["revision"] if history else 0
            if status["state"] not in FINAL_STATES or latest < (status.get("revision") or 0):
                still.append(path)
        waiting = still
        if not waiting:
            return True
        if patience.exhausted():
            return False
        await asyncio.sleep(POLL_SECONDS)


async def read_balances(admin: http.AsyncClient, run: CompanyRun) -> None:
    """Each synced order's invoice Balance as QuickBooks holds it (the emulator's admin view)."""
    books = _check(await admin.get(f"/admin/companies/{run.qbo.realm_id}"), "the QBO company")
    invoices = books.get("entities", {}).get("Invoice", {})
    for source_id, status in run.statuses.items():
        qbo = status.get("qbo")
        if qbo and qbo.get("entity") == "Invoice" and qbo["id"] in invoices:
            run.qbo_balances[source_id] = Decimal(str(invoices[qbo["id"]].get("Balance", 0)))


async def sync_payments(
    api: http.AsyncClient, admin: http.AsyncClient, run: CompanyRun, *, patience: Patience
) -> bool:
    """Step 6: the bookkeeper's credit, then the payments, then their refunds and voids."""
    if not run.seed.payments:
        return True
    await record_credits(admin, api, run)
    settled = await wait_paths(
        api, run, await put_payments(api, run, later=False), patience=patience
    )
    later = await put_payments(api, run, later=True)
    settled &= await wait_paths(api, run, later, patience=patience)
    return settled


async def sync_vendor_side(
    api: http.AsyncClient, admin: http.AsyncClient, run: CompanyRun, *, patience: Patience
) -> bool:
    """Step 7: the vendors, then each vendor-side step once the one before has settled; then
    what QuickBooks holds for each document."""
    if not run.seed.vendor_steps:
        return True
    for seed_vendor in run.seed.vendors:
        _check(
            await api.put(
                f"/api/v1/vendors/{seed_vendor.source_id}",
                json=seed_vendor.body,
                headers=run.headers,
            ),
            f"PUT vendor {seed_vendor.source_id}",
            200,
            202,
        )
    settled = True
    for step in run.seed.vendor_steps:
        body = {**step.body, "version": step.version}
        if step.paid_from is not None:
            body["paid_from_account_id"] = run.qbo.accounts[step.paid_from]
        _check(
            await api.put(f"/api/v1/{step.path}", json=body, headers=run.headers),
            f"PUT {step.path}",
            200,
            202,
        )
        settled &= await wait_paths(
            api, run, [step.path], patience=patience, into=run.vendor_statuses
        )
    vendors = [f"vendors/{v.source_id}" for v in run.seed.vendors]
    settled &= await wait_paths(api, run, vendors, patience=patience, into=run.vendor_statuses)
    books = _check(await admin.get(f"/admin/companies/{run.qbo.realm_id}"), "the QBO company")
    entities = books.get("entities", {})
    for path, status in run.vendor_statuses.items():
        qbo = status.get("qbo")
        if qbo and qbo["id"] in entities.get(qbo["entity"], {}):
            run.qbo_documents[path] = entities[qbo["entity"]][qbo["id"]]
    return settled


async def count_references(api: http.AsyncClient, run: CompanyRun) -> None:
    counts: dict[str, int] = {}
    for plural, ids in (
        ("customers", [c.source_id for c in run.seed.customers]),
        ("products", [p.source_id for p in run.seed.products]),
    ):
        for source_id in ids:
            status = _check(
                await api.get(f"/api/v1/{plural}/{source_id}/sync", headers=run.headers),
                f"status of {plural} {source_id}",
            )
            key = f"{plural}:{status['state']}"
            counts[key] = counts.get(key, 0) + 1
    run.reference_states = counts


# --- the whole demo ---------------------------------------------------------------------------


async def prepare_emulator(
    admin: http.AsyncClient, seeds: list[SeedCompany], callback: str
) -> tuple[str, str, dict[str, EmulatorCompany]]:
    """Step 2, admin part: the OAuth app (client id, secret) and a company per seed."""
    client_id, client_secret = await register_app(admin, callback)
    companies: dict[str, EmulatorCompany] = {}
    for seed in seeds:
        companies[seed.key] = await create_company(admin, name=seed.qbo_name, ast=seed.ast)
        if seed.ast_switched_on_after_connect:
            # The emulator fixes a company's AST behaviour when it creates it and cannot switch
            # it later; so the company is created with AST and its preference shows "off" until
            # rentsync has connected, as it did before the bookkeeper switched it on.
            await set_ast_preference(admin, companies[seed.key].realm_id, enabled=False)
    return client_id, client_secret, companies


async def add_console_owner(services: Services, run: CompanyRun) -> tuple[str, str]:
    """An owner of the company in the web console, with a password made for this run (with
    --keep-data an earlier run's owner holds the plain address: the company's id tells them
    apart)."""
    password = secrets.token_urlsafe(12)
    actor = Actor(company_id=run.company_id, label="demo")
    for email in (
        f"owner@{run.seed.key}.demo.example",
        f"owner-{run.company_id}@{run.seed.key}.demo.example",
    ):
        with contextlib.suppress(PeopleError):
            await services.people.create_user(
                actor,
                email=email,
                name=f"{run.seed.name} owner",
                role=Role.OWNER,
                view_qbo_logs=True,
                password=password,
            )
            return email, password
    raise DemoError(f"could not create a console owner for {run.seed.name}")


async def retire_earlier_companies(
    services: Services, names: set[str], current_realms: set[str]
) -> list[Retired]:
    """Kept data (--keep-data, DATABASE_URL): the demo companies of earlier runs are connected
    to realms of an emulator that stopped with its run. Each is marked lost, with that reason
    (its tokens dropped), so nothing of it is sent to this run's emulator, whose realms are
    others: its documents, history and console users stay readable; a sync of it is skipped
    as for any lost connection. Only companies named as a demo company, connected to an
    emulator realm this run did not create, are touched."""
    retired: list[Retired] = []
    for company in await services.companies.list():
        if company.name not in names:
            continue
        connection = await services.connections.get(company.id)
        if (
            connection is None
            or connection.state is not StoredStatus.CONNECTED
            or connection.environment != "emulator"
            or connection.realm_id in current_realms
        ):
            continue
        await services.connections.mark_lost(
            company.id,
            f"an earlier demo run connected it to QuickBooks emulator company "
            f"{connection.realm_id}, which stopped with that run; its data is kept for reading "
            "(--keep-data) and nothing of it is synced any more",
        )
        retired.append(
            Retired(company_id=company.id, name=company.name, realm_id=str(connection.realm_id))
        )
    return retired


async def set_up_and_sync(
    demo: DemoRun,
    services: Services,
    api: http.AsyncClient,
    admin: http.AsyncClient,
    seeds: list[SeedCompany],
    companies: dict[str, EmulatorCompany],
    console: Console,
    options: DemoOptions,
) -> None:
    """Steps 4 and 5: companies created, connected and configured; the week seeded; wait."""
    demo.retired = await retire_earlier_companies(
        services, {seed.name for seed in seeds}, {c.realm_id for c in companies.values()}
    )
    if demo.retired:
        console.print(
            "[yellow]![/] Kept from earlier demo runs (--keep-data): "
            + ", ".join(f"company {r.company_id} {escape(r.name)}" for r in demo.retired)
            + ". Their QuickBooks emulator stopped with their run, so their connection is "
            "marked lost (nothing of theirs is sent to this run's emulator); their documents "
            "stay readable in the console and the API. This run creates its own two companies."
        )
    for seed in seeds:
        company, key = await services.companies.create(seed.name)
        run = CompanyRun(seed=seed, company_id=company.id, api_key=key.key, qbo=companies[seed.key])
        run.console_email, run.console_password = await add_console_owner(services, run)
        demo.companies.append(run)
        status = await connect(api, admin, run)
        await configure(api, run)
        if seed.ast_switched_on_after_connect:
            # After rentsync connected and pulled the tax rates: rentsync does not know yet
            # (until the next "Sync with QuickBooks" under Tax Rates, the mismatch's remedy).
            await set_ast_preference(admin, run.qbo.realm_id, enabled=True)
        ast_note = ""
        if seed.ast_switched_on_after_connect:
            ast_note = "; then automated sales tax was switched on in QuickBooks"
        elif status.get("ast_enabled"):
            ast_note = ", automated sales tax"
        console.print(
            f"[green]✓[/] {seed.name} connected through the consent page to QuickBooks company "
            f"{status.get('company_name')!r} (realm {run.qbo.realm_id}{ast_note})"
        )
    started = time.monotonic()
    patience = Patience(options.stall_timeout)
    for run in demo.companies:
        await seed_company(api, run, patience=patience)
        console.print(
            f"[green]✓[/] {run.seed.name}: PUT {len(run.seed.customers)} customers, "
            f"{len(run.seed.products)} products and {len(run.seed.orders)} orders and quotes "
            "through the public API"
        )
    console.print("  waiting for the sync ...")
    results = await asyncio.gather(
        *(
            wait_settled(api, run, [o.source_id for o in run.seed.orders], patience=patience)
            for run in demo.companies
        )
    )
    demo.settled = all(results)
    for run in demo.companies:
        demo.settled &= await sync_payments(api, admin, run, patience=patience)
        await read_balances(admin, run)
        demo.settled &= await sync_vendor_side(api, admin, run, patience=patience)
    demo.sync_seconds = time.monotonic() - started
    for run in demo.companies:
        await count_references(api, run)


class _Stopper:
    """SIGINT/SIGTERM: the first asks everything to stop gracefully; a second Ctrl-C (SIGINT), a
    second or more later, hurries the HTTP server (running jobs are then cancelled). A repeated
    SIGTERM only repeats the request, as for uvicorn's own server. One signal often arrives
    twice within milliseconds (`jobs.REPEATED_SIGNAL_SECONDS`): hurrying on it skipped the
    service's orderly shutdown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.requested = asyncio.Event()
        self.server: _DemoServer | None = None
        self._clock = clock
        self._first: float | None = None

    def __call__(self, sig: signal.Signals) -> None:
        now = self._clock()
        if self._first is None:
            self._first = now
        elif (
            sig == signal.SIGINT
            and now - self._first >= REPEATED_SIGNAL_SECONDS
            and self.server is not None
        ):
            self.server.force_exit = True
        self.requested.set()
        if self.server is not None:
            self.server.should_exit = True


async def run_demo(settings: Settings, options: DemoOptions, console: Console) -> int:
    """The whole demo; returns the process's exit code."""
    loop = asyncio.get_running_loop()
    stopper = _Stopper()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopper, sig)
    try:
        with demo_data_dir(settings, fresh=options.fresh) as (demo_dir, data_note):
            if not port_is_free(settings.host, settings.port):
                raise DemoError(
                    f"port {settings.port} on {settings.host} is in use; choose another with "
                    "--port (or RENTSYNC_PORT)"
                )
            emulator = EmulatorProcess(
                port=options.emulator_port or free_port(),
                log_path=demo_dir / "qbo-emulator.log",
            )
            demo = DemoRun(
                api_url=local_url(settings.host, settings.port),
                emulator=emulator,
                data_note=data_note,
                cli_env=(
                    f"RENTSYNC_DATA_DIR={demo_dir} " if settings.uses_embedded_database else ""
                ),
            )
            console.print("[bold]rentsync demo[/]: a party-rental week, synced to QuickBooks")
            console.print(f"  {data_note}")
            emulator.start()
            try:
                return await _with_emulator(demo, settings, demo_dir, options, console, stopper)
            finally:
                code = emulator.stop()
                console.print(f"QuickBooks emulator stopped (exit code {code}).")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _with_emulator(
    demo: DemoRun,
    settings: Settings,
    demo_dir: Path,
    options: DemoOptions,
    console: Console,
    stopper: _Stopper,
) -> int:
    seeds = party_week(options.week_start or monday_of(datetime.now().astimezone().date()))
    async with http.make_client(base_url=demo.emulator.url) as admin:
        await demo.emulator.wait_ready(admin)
        console.print(
            f"[green]✓[/] QuickBooks emulator on {demo.emulator.url} (a separate process, pid "
            f"{demo.emulator.pid}; log {demo.emulator.log_path})"
        )
        callback = f"{demo.api_url}/qbo/callback"
        client_id, client_secret, companies = await prepare_emulator(admin, seeds, callback)
        service_settings = dataclasses.replace(
            settings,
            data_dir=demo_dir,
            qbo_environment="emulator",
            qbo_emulator_url=demo.emulator.url,
            qbo_client_id=client_id,
            qbo_client_secret=client_secret,
            qbo_redirect_uri=callback,
        )
        server, serve_task, app = await _start_service(service_settings)
        stopper.server = server
        if stopper.requested.is_set():
            server.should_exit = True
        console.print(
            f"[green]✓[/] rentsync API on {demo.api_url} with a worker in this process "
            f"({app.state.services.database.describe()})"
        )
        code = 0
        try:
            async with http.make_client(base_url=demo.api_url) as api:
                work = asyncio.create_task(
                    set_up_and_sync(
                        demo, app.state.services, api, admin, seeds, companies, console, options
                    )
                )
                interrupted = asyncio.create_task(stopper.requested.wait())
                await asyncio.wait({work, interrupted}, return_when=asyncio.FIRST_COMPLETED)
                if not work.done():
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
                    console.print("Stopped before the sync finished.")
                    return 0
                interrupted.cancel()
                work.result()
                as_expected = report.print_report(demo, console)
                if options.exit_after_sync:
                    code = 0 if demo.settled and as_expected else 1
                    server.should_exit = True
                else:
                    report.print_serving(console)
            await serve_task
            return code
        finally:
            server.should_exit = True
            if not serve_task.done():
                await serve_task
