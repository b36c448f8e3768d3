"""The `rentsync` command line: serve, worker, migrate, demo, company, bulk-sync."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

import rentsync
from rentsync import bootstrap
from rentsync.domain.access import Permission
from rentsync.domain.people import Role
from rentsync.jobs import Lanes
from rentsync.lane_process import BULK_LANE_NICENESS, BulkLaneFailed
from rentsync.logs import configure_logging
from rentsync.people.service import Actor, PeopleError
from rentsync.settings import Settings, SettingsError, load_settings
from rentsync.store.database import DatabaseUnavailable

app = typer.Typer(
    help=(
        "rentsync keeps QuickBooks Online in step with a rental system.\n\n"
        "Configuration comes from environment variables (DATABASE_URL, RENTSYNC_DATA_DIR, "
        "RENTSYNC_SECRET_KEY, ...; see the README) and the flags below."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings().with_overrides(**overrides)
    except SettingsError as exc:
        typer.secho(f"Configuration error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    return settings


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rentsync {rentsync.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """rentsync command line."""


HostOption = Annotated[
    str | None, typer.Option(help="Address to listen on. [env: RENTSYNC_HOST; default 127.0.0.1]")
]
PortOption = Annotated[
    int | None, typer.Option(help="Port to listen on. [env: RENTSYNC_PORT; default 8000]")
]


async def serve_http(settings: Settings, *, with_worker: bool, lanes: Lanes = Lanes.BOTH) -> None:
    import uvicorn

    from rentsync.api.app import create_app

    config = uvicorn.Config(
        create_app(settings, with_worker=with_worker, lanes=lanes),
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    await server.serve()
    if not server.started:
        raise _fail("rentsync could not start the HTTP server; see the log above.")


BulkConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        help="Bulk-sync jobs the worker runs at once, in slots of their own. [default: as many "
        "as the database's connections allow, at most 80; 80 on the embedded server]",
        min=1,
    ),
]


LanesOption = Annotated[
    Lanes,
    typer.Option(
        help="split: the real-time lane here, the bulk lane in a child process this one keeps "
        "running, at a lower CPU priority; both: both lanes in this process; realtime or bulk: "
        "that lane only.",
        envvar="RENTSYNC_WORKER_LANES",
        case_sensitive=False,
    ),
]


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run `rentsync worker` apart.")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Jobs the in-process worker runs at once. [default 10]", min=1),
    ] = None,
    bulk_concurrency: BulkConcurrencyOption = None,
    lanes: LanesOption = Lanes.SPLIT,
) -> None:
    """Run the HTTP API and, unless --no-worker, a worker in the same process (its bulk lane in
    a child process, unless --lanes says otherwise).

    SIGTERM or Ctrl-C stops accepting requests, lets running jobs finish, then exits.
    """
    settings = _settings(
        host=host, port=port, worker_concurrency=concurrency, bulk_concurrency=bulk_concurrency
    )
    try:
        asyncio.run(serve_http(settings, with_worker=not no_worker, lanes=lanes))
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs this worker runs at once. [default 10]", min=1)
    ] = None,
    bulk_concurrency: BulkConcurrencyOption = None,
    lanes: LanesOption = Lanes.SPLIT,
    supervised: Annotated[
        bool,
        typer.Option(
            "--supervised",
            hidden=True,
            help="Started by another worker (--lanes split): stop when its pipe on stdin closes.",
        ),
    ] = False,
) -> None:
    """Run a worker only (as many as you like, on as many machines as you like). By default
    its bulk lane runs in a child process it starts and keeps running (--lanes).

    SIGTERM or Ctrl-C lets running jobs finish, then exits.
    """
    settings = _settings(worker_concurrency=concurrency, bulk_concurrency=bulk_concurrency)
    if lanes is Lanes.BULK:
        os.nice(BULK_LANE_NICENESS)

    async def run() -> None:
        async with bootstrap.running_services(settings, lanes=lanes) as services:
            typer.echo(
                f"rentsync worker ({lanes.value} lanes) on {services.database.describe()}",
                err=True,
            )
            await bootstrap.run_worker(
                services,
                concurrency=settings.worker_concurrency,
                lanes=lanes,
                supervised=supervised,
            )

    try:
        asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    except BulkLaneFailed as exc:
        raise _fail(f"rentsync worker stopped: {exc}") from None


@app.command()
def migrate() -> None:
    """Bring the database schema up to date and exit (serve and worker also do this)."""
    settings = _settings()

    async def run() -> None:
        async with bootstrap.running_services(settings) as services:
            typer.echo(f"Schema up to date on {services.database.describe()}")

    try:
        asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    emulator_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the QuickBooks emulator on 127.0.0.1. [default: a free one]",
            envvar="RENTSYNC_DEMO_EMULATOR_PORT",
        ),
    ] = None,
    keep_data: Annotated[
        bool,
        typer.Option(
            "--keep-data/--fresh",
            help="Keep the previous demo's database (<data dir>/demo) instead of starting fresh.",
        ),
    ] = False,
    exit_after_sync: Annotated[
        bool,
        typer.Option(
            "--exit-after-sync",
            help="Print the report and exit (0 when every outcome is as expected) instead of "
            "serving.",
        ),
    ] = False,
) -> None:
    """Sync a party-rental business's week to a local QuickBooks emulator and show the outcome.

    Starts the QuickBooks emulator (a separate process) and rentsync with a worker.

    Connects two demo companies through the OAuth consent page and seeds them through the API.

    Prints what synced, was skipped or failed (with remedies), the API address and the API keys.

    Then serves until Ctrl-C, which stops rentsync and the emulator.
    """
    from rich.console import Console

    from rentsync.demo.emulator import DemoError
    from rentsync.demo.runner import DemoOptions, run_demo

    # The report is the demo's output; the service's INFO log would bury it.
    log_level = None if os.environ.get("RENTSYNC_LOG_LEVEL") else "WARNING"
    settings = _settings(host=host, port=port, log_level=log_level)
    options = DemoOptions(
        emulator_port=emulator_port, fresh=not keep_data, exit_after_sync=exit_after_sync
    )
    try:
        console = Console(highlight=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            # Piped or captured (CI, a log file): rich would squeeze the tables into 80 columns
            # and hide the reasons and remedies.
            console = Console(highlight=False, width=160)
        code = asyncio.run(run_demo(settings, options, console))
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None
    except DemoError as exc:
        raise _fail(f"rentsync demo: {exc}") from None
    raise typer.Exit(code)


company_app = typer.Typer(
    help="Companies (rental businesses) and their API keys.", no_args_is_help=True
)
app.add_typer(company_app, name="company")

PermissionOption = Annotated[
    list[Permission] | None,
    typer.Option(
        "--permission",
        help="Grant a permission to the new key (repeatable), e.g. view_qbo_logs.",
    ),
]


ExpiresOption = Annotated[
    int | None,
    typer.Option(
        "--expires-in-days",
        min=1,
        max=3650,
        help="The key stops working after this many days. [default: it does not expire]",
    ),
]


def _expiry(days: int | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) + timedelta(days=days)


def _with_services(
    settings: Settings, work: Callable[[bootstrap.Services], Awaitable[None]]
) -> None:
    async def run() -> None:
        async with bootstrap.running_services(settings) as services:
            await work(services)

    try:
        asyncio.run(run())
    except DatabaseUnavailable as exc:
        raise _fail(str(exc)) from None


@company_app.command("create")
def company_create(
    name: Annotated[str, typer.Argument(help="The rental business's name.")],
    permission: PermissionOption = None,
    expires_in_days: ExpiresOption = None,
) -> None:
    """Create a company and print its first API key (shown once; only a hash is kept)."""
    if not name.strip():
        raise _fail("A company needs a non-empty name.")
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        company, key = await services.companies.create(
            name, permissions=frozenset(permission or []), expires_at=_expiry(expires_in_days)
        )
        typer.echo(f"Created company {company.id} ({company.name}).")
        typer.echo(f"API key (store it now; it is not shown again): {key.key}")

    _with_services(settings, work)


@company_app.command("list")
def company_list() -> None:
    """List companies."""
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        for company in await services.companies.list():
            typer.echo(f"{company.id}\t{company.name}\t{company.created_at:%Y-%m-%d %H:%M %Z}")

    _with_services(settings, work)


@company_app.command("issue-key")
def company_issue_key(
    company_id: Annotated[int, typer.Argument(help="The company's id (see `company list`).")],
    permission: PermissionOption = None,
    expires_in_days: ExpiresOption = None,
) -> None:
    """Issue another API key for a company."""
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        if await services.companies.get(company_id) is None:
            raise _fail(f"No company {company_id}; see `rentsync company list`.")
        key = await services.companies.issue_key(
            company_id,
            permissions=frozenset(permission or []),
            expires_at=_expiry(expires_in_days),
        )
        typer.echo(f"API key {key.id} (store it now; it is not shown again): {key.key}")

    _with_services(settings, work)


def _when(moment: datetime | None, never: str) -> str:
    return never if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@company_app.command("keys")
def company_keys(
    company_id: Annotated[int, typer.Argument(help="The company's id (see `company list`).")],
) -> None:
    """List a company's API keys: id, prefix, state, permissions, last use, expiry."""
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        if await services.companies.get(company_id) is None:
            raise _fail(f"No company {company_id}; see `rentsync company list`.")
        now = datetime.now(UTC)
        typer.echo("id\tprefix\tstate\tpermissions\tlast used\texpires")
        for info in await services.companies.keys(company_id):
            typer.echo(
                f"{info.id}\trsk_{info.prefix}\t{info.state(now)}\t"
                f"{','.join(info.permissions) or '-'}\t{_when(info.last_used_at, 'never')}\t"
                f"{_when(info.expires_at, 'never')}"
            )

    _with_services(settings, work)


@company_app.command("revoke-key")
def company_revoke_key(
    company_id: Annotated[int, typer.Argument(help="The company's id (see `company list`).")],
    key_id: Annotated[int, typer.Argument(help="The key's id (see `company keys`).")],
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        info = await services.companies.revoke_key(company_id, key_id)
        if info is None:
            raise _fail(f"Company {company_id} has no API key {key_id}; see `company keys`.")
        typer.echo(f"Revoked API key {key_id} (rsk_{info.prefix}_...) of company {company_id}.")

    _with_services(settings, work)


user_app = typer.Typer(
    help="People who sign in to the web console (per company).", no_args_is_help=True
)
app.add_typer(user_app, name="user")
CompanyArgument = Annotated[int, typer.Argument(help="The company's id (see `company list`).")]


PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("create")
def user_create(
    company_id: CompanyArgument,
    email: Annotated[str, typer.Argument(help="Signs in with this e-mail address.")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[
        Role, typer.Option(help="owner, bookkeeper or viewer (see the README).")
    ] = Role.VIEWER,
    view_qbo_logs: Annotated[
        bool, typer.Option("--view-qbo-logs", help="May read the QuickBooks logs.")
    ] = False,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Create a console user (the password is asked for, twice, unless --password-stdin)."""
    settings = _settings()
    password = _read_password(password_stdin)

    async def work(services: bootstrap.Services) -> None:
        if await services.companies.get(company_id) is None:
            raise _fail(f"No company {company_id}; see `rentsync company list`.")
        try:
            user = await services.people.create_user(
                Actor(company_id=company_id, label="command line"),
                email=email,
                name=name,
                role=role,
                view_qbo_logs=view_qbo_logs,
                password=password,
            )
        except PeopleError as exc:
            raise _fail(f"{exc.field}: {exc.message}") from None
        typer.echo(
            f"Created user {user.id} ({user.email}, {user.role.value}) of company {company_id}."
        )

    _with_services(settings, work)


@user_app.command("list")
def user_list(company_id: CompanyArgument) -> None:
    """List a company's console users: id, e-mail, name, role, logs, active."""
    settings = _settings()

    async def work(services: bootstrap.Services) -> None:
        typer.echo("id\temail\tname\trole\tqbo logs\tactive")
        for user in await services.people.users(company_id):
            typer.echo(
                f"{user.id}\t{user.email}\t{user.name}\t{user.role.value}\t"
                f"{'yes' if user.view_qbo_logs else 'no'}\t{'yes' if user.active else 'no'}"
            )

    _with_services(settings, work)


@user_app.command("set-password")
def user_set_password(
    company_id: CompanyArgument,
    user_id: Annotated[int, typer.Argument(help="The user's id (see `user list`).")],
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Set a user's password; every session of theirs is signed out."""
    settings = _settings()
    password = _read_password(password_stdin)

    async def work(services: bootstrap.Services) -> None:
        try:
            await services.people.set_password(
                Actor(company_id=company_id, label="command line"), user_id, password
            )
        except PeopleError as exc:
            raise _fail(f"{exc.field}: {exc.message}") from None
        typer.echo(f"Password set for user {user_id}; their sessions are signed out.")

    _with_services(settings, work)


_BULK_FLAGS = {
    "date_from": "--from",
    "date_to": "--to",
    "numbers": "--numbers",
    "kinds": "--kind",
    "not_in_qbo": "--not-in-qbo",
}
"""The option of `bulk-sync` each field of the selection comes from (its errors name it)."""


@app.command("bulk-sync")
def bulk_sync(
    company: Annotated[int, typer.Option("--company", help="The company's id (`company list`).")],
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Dated on or after (YYYY-MM-DD): orders, quotes and their payments by the "
            "invoice date, vendor documents by their own date.",
        ),
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Dated on or before (YYYY-MM-DD).")
    ] = None,
    numbers: Annotated[
        str | None,
        typer.Option(
            "--numbers",
            help="Document numbers, comma-separated: invoice numbers (orders, quotes, their "
            "payments), bill, purchase order and vendor payment numbers.",
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="order, quote, payment, purchase_order, vendor_bill or vendor_payment "
            "(repeatable; default every kind).",
        ),
    ] = None,
    not_in_qbo: Annotated[
        bool,
        typer.Option("--not-in-qbo", help="Only documents QuickBooks does not hold yet."),
    ] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show the preview and stop (confirm later).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Start without asking.")] = False,
    confirm_id: Annotated[
        int | None, typer.Option("--confirm", help="Start a bulk sync previewed earlier.")
    ] = None,
    cancel_id: Annotated[
        int | None, typer.Option("--cancel", help="Cancel a bulk sync (no more documents sent).")
    ] = None,
) -> None:
    """Bulk-sync a company's documents to QuickBooks (R14, R18): orders and quotes, their
    payments (with refunds and voids), purchase orders, vendor bills and vendor payments.
    Preview what each becomes (created, updated, skipped, failing and why), the QuickBooks
    calls and the time it takes, then run it with a progress bar. Every condition given must
    hold; none: every document. The workers
    (`rentsync worker` or `serve`) do the syncing; the bulk sync goes on if this command ends."""
    from pydantic import ValidationError
    from rich.console import Console

    from rentsync import cli_bulk
    from rentsync.domain.bulk import Selection
    from rentsync.sync.bulk import BulkSyncRefused

    if confirm_id is not None and cancel_id is not None:
        raise _fail("--confirm starts a bulk sync, --cancel stops one: choose one")
    selecting = {
        "--from": date_from is not None,
        "--to": date_to is not None,
        "--numbers": numbers is not None,
        "--kind": bool(kind),
        "--not-in-qbo": not_in_qbo,
        "--preview": preview,
        "--yes": yes,
    }
    given = [flag for flag, chosen in selecting.items() if chosen]
    for flag, bulk_id in (("--confirm", confirm_id), ("--cancel", cancel_id)):
        if bulk_id is not None and given:
            raise _fail(
                f"{flag} takes only --company and the bulk sync's id (its selection was fixed "
                f"when it was previewed), not {', '.join(given)}"
            )
    if preview and yes:
        raise _fail("--preview stops after the preview, --yes starts without asking: choose one")
    try:
        selection = Selection.model_validate(
            {
                "date_from": date_from,
                "date_to": date_to,
                "numbers": [n for n in numbers.split(",") if n.strip()] if numbers else None,
                "kinds": kind or None,
                "not_in_qbo": not_in_qbo,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{_BULK_FLAGS.get(str(error['loc'][0]), 'selection') if error['loc'] else 'selection'}"
            f": {error['msg']}"
            for error in exc.errors()
        )
        raise _fail(f"Bad selection: {problems}") from None
    settings = _settings()
    console = Console()

    async def work(services: bootstrap.Services) -> None:
        try:
            if cancel_id is not None:
                await cli_bulk.cancel(services, company, cancel_id, console)
                return
            if confirm_id is not None:
                bulk = await cli_bulk.confirm(services, company, confirm_id)
            else:
                bulk = await cli_bulk.start_preview(services, company, selection)
                await cli_bulk.show_preview(services, bulk, console)
                if preview:
                    console.print(
                        f"Start it with: rentsync bulk-sync --company {company} --confirm {bulk.id}"
                    )
                    return
                if not yes and not typer.confirm("Start this bulk sync?", default=False):
                    console.print(f"Not started. Bulk sync {bulk.id} stays previewed.")
                    return
                bulk = await cli_bulk.confirm(services, company, bulk.id)
            await cli_bulk.follow(services, bulk, console)
        except BulkSyncRefused as exc:
            raise _fail(str(exc)) from None

    _with_services(settings, work)


def main() -> None:
    app()
