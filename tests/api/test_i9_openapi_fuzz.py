"""Issue 9, the product's edges: schemathesis (an OpenAPI fuzzer) over every operation of the
running API, over real HTTP: no 5xx, no status the OpenAPI document does not declare, no
response that breaks its declared schema or content type.

Bounded and deterministic: a fixed number of examples per operation and generation mode,
hypothesis derandomized (the same cases every run), no example database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from psycopg_pool import AsyncConnectionPool
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from rentsync.domain.access import Permission
from rentsync.settings import Settings
from rentsync.store.companies import CompanyRepository
from tests.api.serving import served_api

EXAMPLES_PER_MODE = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _issue_key(database_url: str) -> str:
    async def create() -> str:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=1) as pool:
            _, key = await CompanyRepository(pool).create(
                "Fuzzed Rentals", permissions=frozenset(Permission)
            )
            return key.key

    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        return runner.submit(asyncio.run, create()).result()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The API (no worker) served by uvicorn on a free port, in a thread."""
    with served_api(settings) as url:
        yield url


def test_i9_schemathesis_finds_no_5xx_no_undeclared_status_no_schema_violation(
    served: str, settings: Settings
) -> None:
    assert settings.database_url is not None
    headers = {"Authorization": f"Bearer {_issue_key(settings.database_url)}"}
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES_PER_MODE,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=served, headers=headers, checks=CHECKS)

            try:
                fuzz()
            except Unsatisfiable:
                pass  # negative mode on an operation without parameters: nothing to break
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
    assert httpx2.get(f"{served}/health", timeout=5).status_code == 200
