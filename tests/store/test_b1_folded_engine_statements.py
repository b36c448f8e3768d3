"""The engine's reads and writes folded into fewer statements (issue 13, P4) keep their meaning.

- A first create's write intent is noted by the statement that reads the order's references,
  and only then: never over a QBO object the ledger knows of, never over another intent (B1).
- An order recorded synced schedules the payments that waited for its invoice in the same
  statement's round trip, as `schedule_waiting` did after it.
- A company's connection and sync settings read together are what each read alone gives.
- A worker reuses a company's connection and settings only while the read version its job's
  first statement reads is the one they were read at: any write of either row, by any process,
  is seen by the next job.
- A PUT stores its change, ledger row and job in one statement (no BEGIN/COMMIT round trips).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from rentsync import bootstrap
from rentsync.domain.connection import ConnectionState
from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey, WriteIntent
from rentsync.domain.qbo import CompanyFacts, TokenSet
from rentsync.domain.settings import SyncSettings
from rentsync.domain.triggers import Trigger
from rentsync.settings import Settings
from rentsync.store.documents import SYNC_QUEUE, DocumentRepository


async def test_b1_a_first_create_intent_is_noted_with_the_references_read_and_only_then(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Folded Reads Rentals")
    order = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    customer = DocumentKey(company.id, DocumentType.CUSTOMER, "C-1")
    product = DocumentKey(company.id, DocumentType.PRODUCT, "P-1")
    never_sent = DocumentKey(company.id, DocumentType.PRODUCT, "P-unknown")
    await services.documents.put(customer, {"name": "Ann"}, version=1)
    await services.documents.put(product, {"name": "Tent"}, version=1)
    await services.documents.put(order, {"kind": "order"}, version=1)
    intent = WriteIntent(entity="Invoice", field="DocNumber", value="1001")

    found = await services.ledger.references(
        [customer, product, never_sent], noting=(order, intent)
    )
    assert found.noted
    assert set(found.snapshots) == {customer, product}
    assert never_sent not in found.records
    record = await services.ledger.get(order)
    assert record is not None and record.write_intent == intent.as_json()

    # An intent already noted (an earlier create whose outcome is unknown) is never replaced.
    other = WriteIntent(entity="Invoice", field="DocNumber", value="2002")
    assert not (await services.ledger.references([customer], noting=(order, other))).noted
    record = await services.ledger.get(order)
    assert record is not None and record.write_intent == intent.as_json()

    # Once the ledger knows the QBO object, nothing is noted over it.
    await services.ledger.record(
        order,
        state="synced",
        revision=1,
        started_at=datetime.now(UTC),
        outcome="synced",
        qbo={"qbo_entity": "Invoice", "qbo_id": "42", "sync_token": "0"},
    )
    assert not (await services.ledger.references([customer], noting=(order, other))).noted
    record = await services.ledger.get(order)
    assert record is not None and record.qbo_id == "42" and record.write_intent is None

    # Reading without noting changes nothing.
    plain = await services.ledger.references([customer, product])
    assert not plain.noted and set(plain.snapshots) == {customer, product}


async def test_r04_an_order_recorded_synced_schedules_the_payments_that_waited_for_it(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Folded Release Rentals")
    order = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    waiting = DocumentKey(company.id, DocumentType.PAYMENT, "PAY-1")
    done = DocumentKey(company.id, DocumentType.PAYMENT, "PAY-2")
    await services.documents.put(order, {"kind": "order"}, version=1)
    for payment in (waiting, done):
        await services.documents.put(payment, {"voided": False}, version=1, job_lock=order.lock())
    now = datetime.now(UTC)
    await services.ledger.record(
        waiting, state="skipped", revision=1, started_at=now, outcome="waits for its invoice"
    )
    await services.ledger.record(done, state="synced", revision=1, started_at=now, outcome="ok")

    await services.ledger.record(
        order,
        state="synced",
        revision=1,
        started_at=now,
        outcome="synced",
        qbo={"qbo_entity": "Invoice", "qbo_id": "7", "sync_token": "0"},
        release=(order.lock(), (DocumentType.PAYMENT,)),
    )
    records = await services.ledger.get_many([order, waiting, done])
    assert records[order].state == "synced" and records[order].qbo_id == "7"
    assert records[waiting].state == "pending"  # scheduled again, under the order's lock
    assert records[done].state == "synced"  # untouched
    assert [a.outcome for a in await services.ledger.attempts(order)] == ["synced"]


async def test_r13_a_company_s_connection_and_settings_read_together(
    services: bootstrap.Services,
) -> None:
    company, _ = await services.companies.create("Folded Settings Rentals")
    stored, settings, _ = await services.connections.get_with_settings(company.id)
    assert stored is None and settings == SyncSettings()
    assert settings == await services.sync_settings.get(company.id)

    mine = SyncSettings.model_validate({"sync_mode": "all_orders_and_quotes"})
    await services.sync_settings.put(company.id, mine)
    stored, settings, _ = await services.connections.get_with_settings(company.id)
    assert stored is None and settings == mine == await services.sync_settings.get(company.id)
    company_qbo, read = await services.qbo_access.open_with_settings(company.id)
    assert read == mine
    assert company_qbo.client is None and company_qbo == await services.qbo_access.open(company.id)


class _CountingConnection(psycopg.AsyncConnection[Any]):
    """Counts the statements and transactions the repository sends on it."""

    statements = 0
    transactions = 0

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        type(self).statements += 1
        return await super().execute(*args, **kwargs)

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        type(self).transactions += 1
        return super().transaction(*args, **kwargs)


async def test_r01_a_put_stores_its_change_ledger_row_and_job_in_one_statement(
    services: bootstrap.Services, settings: Settings
) -> None:
    """An order's PUT (a document of its own, synced on every change) is one statement and no
    transaction: the change, the ledger marked pending with the trigger `trigger_for_put`
    decides, and the job under the document's lock; an older version changes nothing."""
    company, _ = await services.companies.create("One Statement Rentals")
    key = DocumentKey(company.id, DocumentType.ORDER, "O-1")

    async def autocommit(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.set_autocommit(True)

    async with AsyncConnectionPool(
        settings.database_url,
        connection_class=_CountingConnection,
        configure=autocommit,
        min_size=1,
        max_size=1,
    ) as pool:
        documents = DocumentRepository(pool)
        first = await documents.put(key, {"v": 1}, version=1)
        assert (_CountingConnection.statements, _CountingConnection.transactions) == (1, 0)
        assert first.stored and first.revision == 1 and first.job_id is not None
        arrived = await services.ledger.get(key)
        assert arrived is not None
        assert (arrived.state, arrived.trigger) == ("pending", Trigger.ARRIVAL.value)
        assert arrived.requested_revision == 1 and arrived.last_user_action_at is None

        second = await documents.put(key, {"v": 2}, version=2)
        assert second.stored and second.revision == 2 and second.job_id not in (None, first.job_id)
        updated = await services.ledger.get(key)
        assert updated is not None and updated.trigger == Trigger.UPDATE.value
        assert updated.last_user_action_at is not None  # an update is the user's action (R14)

        older = await documents.put(key, {"v": 0}, version=1)
        assert not older.stored and older.revision == 2 and older.job_id is None
        assert (await services.documents.get(key)).body == {"v": 2}  # type: ignore[union-attr]

        async with pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT id, lock, queue_name, args FROM procrastinate_jobs ORDER BY id"
            )
            jobs = await cursor.fetchall()
    assert [job[0] for job in jobs] == [first.job_id, second.job_id]
    assert {(job[1], job[2]) for job in jobs} == {(key.lock(), SYNC_QUEUE)}
    assert jobs[0][3] == {"company_id": company.id, "doc_type": "order", "source_id": "O-1"}


async def test_r13_a_worker_reuses_a_company_s_connection_and_settings_only_while_unchanged(
    services: bootstrap.Services,
) -> None:
    """The writes below go through the repositories, never through the reader that keeps what
    it read: as another process's writes would, they reach it only through the read version."""
    company, _ = await services.companies.create("Kept Reads Rentals")
    key = DocumentKey(company.id, DocumentType.ORDER, "O-1")
    await services.documents.put(key, {"kind": "order"}, version=1)
    access = services.qbo_access

    async def first_read_version() -> str:
        *_, version = await services.ledger.get_with_document(key)
        assert version is not None
        return version

    seen: set[str] = set()

    async def opened_at_a_new_version() -> tuple[Any, SyncSettings]:
        version = await first_read_version()
        assert version not in seen, "every write gives a new read version"
        seen.add(version)
        opened = await access.open_with_settings(company.id, version=version)
        again = await access.open_with_settings(company.id, version=version)
        assert again[0] is opened[0] and again[1] is opened[1]  # kept, not read again
        return opened

    company_qbo, settings = await opened_at_a_new_version()
    assert company_qbo.client is None and settings == SyncSettings()

    mine = SyncSettings.model_validate({"sync_mode": "all_orders_and_quotes"})
    await services.sync_settings.put(company.id, mine)
    company_qbo, settings = await opened_at_a_new_version()
    assert settings == mine

    tokens = TokenSet(
        access_token="access-1",
        refresh_token="refresh-1",
        access_expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    facts = CompanyFacts(company_name="Kept", plan="QuickBooks Online Plus")
    await services.connections.save_connected(
        company.id, environment="sandbox", realm_id="9130", tokens=tokens, facts=facts
    )
    company_qbo, settings = await opened_at_a_new_version()
    assert company_qbo.connection.state is ConnectionState.CONNECTED
    assert company_qbo.client is not None and settings == mine

    async with services.connections.locked(company.id) as row:  # a token refresh
        await row.save_tokens(dataclasses.replace(tokens, access_token="access-2"))
    await opened_at_a_new_version()

    await services.connections.save_facts(company.id, dataclasses.replace(facts, plan="Simple"))
    company_qbo, _ = await opened_at_a_new_version()
    assert company_qbo.plan == "Simple"

    await services.connections.mark_lost(company.id, "refresh token revoked")
    company_qbo, _ = await opened_at_a_new_version()
    assert company_qbo.connection.state is ConnectionState.LOST and company_qbo.client is None

    await services.connections.forget(company.id)  # a disconnect
    company_qbo, _ = await opened_at_a_new_version()
    assert company_qbo.connection.state is ConnectionState.NOT_CONNECTED

    # A run that read an older version (before the last write) is not served the kept reads
    # of another version: it reads again, and gets what is stored now.
    stale = sorted(seen)[0]
    company_qbo, settings = await access.open_with_settings(company.id, version=stale)
    assert company_qbo.connection.state is ConnectionState.NOT_CONNECTED and settings == mine
