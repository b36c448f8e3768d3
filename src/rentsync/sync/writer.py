"""Writing one QBO transaction for one source document: create, sparse update, delete, never
twice and never forgotten (B1). Every transaction kind (invoice, payment, ...) writes through
here; what differs between kinds comes in a `Transaction`.

- A requestid is derived from what the write is (`mapping.idempotency`), including the
  document's write generation, so a retry resends it and a different write never reuses it.
- Before a create is sent, the ledger notes how to find what it may write (`WriteIntent`);
  until the outcome is known, a retry or a deletion first looks it up (the natural key and
  rentsync's marker), adopts it and brings it to the current version.
- A stale SyncToken (5010) is re-read and written again (`sync.updates`); "in use by another
  user" (6000) is raised, and the retry table runs the document again later with a new requestid.
- A delete is noted in the ledger before it is sent; an update that finds the object gone
  (610) creates it anew only when our own delete removed it or a user pressed Resync.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rentsync.domain.ledger import SyncState, WriteIntent
from rentsync.domain.triggers import Trigger
from rentsync.mapping.common import Payload, has_marker
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync import retry
from rentsync.sync.kinds.base import Run
from rentsync.sync.ports import Ledger, QboGateway, Written
from rentsync.sync.updates import update_current


@dataclass(frozen=True, kw_only=True)
class Transaction:
    """What QBO should hold for one document."""

    entity: str
    create: Payload
    update: Callable[[str, str], Payload]
    """A sparse update of every field we own, from (Id, SyncToken)."""
    find: WriteIntent
    """How to find it after an uncertain create: a queryable natural key (e.g. DocNumber)."""
    marker: str
    """rentsync's marker, in `marker_field`: tells our object from another with that key."""
    marker_field: str = "PrivateNote"
    content_hash: str
    intent_noted: bool = False
    """`find` is already in the ledger as the write intent, noted by this run before it sent
    anything (`Ledger.references`): the create needs no statement of its own for it."""
    find_before_create: bool = False
    """Look for our object before every create, not only after an uncertain one: for entities
    QBO keeps no unique key on (a Payment has no unique number), so a ledger restored from an
    older backup adopts what QBO holds instead of posting it twice (an invoice has 6140)."""


class TransactionWriter:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def write(self, run: Run, client: QboGateway, txn: Transaction) -> Written:
        """Create or update the document's QBO object to `txn`; returns what QBO holds."""
        record = run.record
        generation = record.write_generation
        if record.qbo_id and record.sync_token:
            try:
                return await self._update(run, client, txn, record.qbo_id, record.sync_token)
            except errors.BadReference:
                if not await _gone(client, txn.entity, record.qbo_id):
                    raise  # something the payload refers to is missing or inactive
                generation = await self._recreating(run, txn.entity, record.qbo_id)
        elif record.write_intent:
            # An earlier create's outcome is unknown (lost answer, killed worker): find what it
            # wrote by the key it was sent with (the document's number may have changed since).
            adopted = await self.find(run, client, WriteIntent.from_json(record.write_intent), txn)
            if adopted is not None:
                return await self._update(run, client, txn, adopted.id, adopted.sync_token)
        elif txn.find_before_create:
            adopted = await self.find(run, client, txn.find, txn)
            if adopted is not None:
                return await self._update(run, client, txn, adopted.id, adopted.sync_token)
        if not txn.intent_noted:
            await self._ledger.intend(run.key, txn.find)
        try:
            return await client.create(
                txn.entity,
                txn.create,
                requestid=write_request_id(
                    run.key, Operation.CREATE, content_hash=txn.content_hash, generation=generation
                ),
            )
        except errors.DuplicateDocNumber:
            # The number may be taken by our own object, written by an earlier attempt whose
            # outcome the ledger lost (or restored from a backup): adopt it rather than fail.
            adopted = await self.find(run, client, txn.find, txn)
            if adopted is None:
                await self._ledger.intend(run.key, None)  # refused: nothing was written
                raise
            return await self._update(run, client, txn, adopted.id, adopted.sync_token)
        except errors.QboError as error:
            if retry.kind_of(error) is not retry.Kind.TRANSIENT:
                await self._ledger.intend(run.key, None)  # refused: nothing was written
            raise

    async def _recreating(self, run: Run, entity: str, qbo_id: str) -> int:
        """QBO no longer holds the document's object. When our own delete removed it (its
        answer was lost, then the document came back) or a user asked for a Resync, the ledger
        forgets it and the document is created anew; returns the new write generation. When
        someone deleted it in QuickBooks, that is shown, not silently undone (B3)."""
        record = run.record
        ours = record.write_intent == deleting(entity, qbo_id).as_json()
        if not ours and record.trigger != Trigger.RESYNC:
            raise errors.BadReference(
                f"QuickBooks {entity} {qbo_id} was deleted in QuickBooks",
                code="610",
                detail=f"{entity} Id {qbo_id} is no longer in QuickBooks; rentsync did not "
                "delete it",
                remedy=f"Someone deleted the {entity.lower()} in QuickBooks. Press Resync to "
                "create it again from the rental system, or mark the document No QuickBooks to "
                "leave it out.",
            )
        await self._ledger.record(
            run.key,
            state=SyncState.PENDING,
            revision=run.document.revision,
            started_at=run.started,
            outcome=f"QuickBooks no longer holds {entity} {qbo_id}: creating it again",
            qbo=CLEARED,
        )
        fresh = await self._ledger.get(run.key)
        assert fresh is not None
        return fresh.write_generation

    async def delete(self, run: Run, client: QboGateway | None, entity: str, marker: str) -> bool:
        """Delete the document's QBO object, if it has one (or an unsettled create made one).
        Returns whether there was one; `client` may be None only when the ledger knows of
        none."""
        record = run.record
        qbo_id, sync_token = record.qbo_id, record.sync_token
        if not qbo_id and record.write_intent:
            # A create whose outcome is unknown may have written it: look before saying it
            # was never in QuickBooks.
            intent = WriteIntent.from_json(record.write_intent)
            found = await self.find(run, _required(client), intent, marker=marker)
            if found is None:
                await self._ledger.intend(run.key, None)
            else:
                qbo_id, sync_token = found.id, found.sync_token
        if not qbo_id or not sync_token:
            return False
        client = _required(client)
        generation = record.write_generation
        # Until its outcome is known the ledger says a delete is under way: if the answer is
        # lost and the document comes back, its next write finds the object gone and creates
        # it anew instead of taking "unchanged" or a 610 for an answer.
        await self._ledger.intend(run.key, deleting(entity, qbo_id), clear_synced_hash=True)
        try:
            await client.delete(
                entity, qbo_id, sync_token, requestid=_delete_id(run, sync_token, generation)
            )
        except errors.BadReference:
            pass  # already gone from QBO (610): the goal is reached
        except errors.Locked as stale:
            if stale.code != "5010":
                await self._ledger.intend(run.key, None)  # refused: nothing was deleted
                raise  # in use by another user: retried later, with a new requestid
            # Someone edited it in QBO since: delete the current version.
            current = await client.read(entity, qbo_id)
            await client.delete(
                entity,
                qbo_id,
                current.sync_token,
                requestid=_delete_id(run, current.sync_token, generation),
            )
        except errors.QboError as error:
            if retry.kind_of(error) is not retry.Kind.TRANSIENT:
                await self._ledger.intend(run.key, None)  # refused: nothing was deleted
            raise
        return True

    async def find(
        self,
        run: Run,
        client: QboGateway,
        key: WriteIntent,
        txn: Transaction | None = None,
        *,
        marker: str | None = None,
    ) -> Written | None:
        """The object an earlier attempt may have created: found by its natural key and our
        marker, so a retry never posts it twice nor a delete forgets it (B1)."""
        marker = marker or (txn.marker if txn else None)
        marker_field = txn.marker_field if txn else "PrivateNote"
        assert marker is not None
        for candidate in await client.find_by(key.entity, key.field, key.value):
            if has_marker(candidate.get(marker_field), marker):
                return await client.read(key.entity, str(candidate["Id"]))
        return None

    @staticmethod
    async def _update(
        run: Run, client: QboGateway, txn: Transaction, qbo_id: str, sync_token: str
    ) -> Written:
        generation = run.record.write_generation
        return await update_current(
            client,
            txn.entity,
            qbo_id,
            sync_token,
            payload=txn.update,
            requestid=lambda token: _update_id(run, txn.content_hash, token, generation),
        )


def deleting(entity: str, qbo_id: str) -> WriteIntent:
    """The ledger's note of a delete whose outcome is not known yet (the object's Id)."""
    return WriteIntent(entity=entity, field="Id", value=qbo_id)


async def _gone(client: QboGateway, entity: str, qbo_id: str) -> bool:
    """Whether QBO no longer holds the object (a read answers 610, or a deleted status)."""
    try:
        current = await client.read(entity, qbo_id)
    except errors.BadReference:
        return True
    return str(current.data.get("status", "")).lower() == "deleted"


def _required(client: QboGateway | None) -> QboGateway:
    if client is None:
        raise errors.NotConnected("QuickBooks is not connected")
    return client


def _update_id(run: Run, digest: str, sync_token: str, generation: int) -> str:
    return write_request_id(
        run.key,
        Operation.UPDATE,
        content_hash=digest,
        base_sync_token=sync_token,
        generation=generation,
    )


def _delete_id(run: Run, sync_token: str, generation: int) -> str:
    """A delete after a refusal is a new write (QBO replays a refusal for a reused id)."""
    return write_request_id(
        run.key,
        Operation.DELETE,
        content_hash="deleted",
        base_sync_token=sync_token,
        generation=generation,
    )


def qbo_columns(entity: str, written: Written, content_hash: str | None) -> dict[str, Any]:
    """The ledger's record of what QBO holds for a document."""
    return {
        "qbo_entity": entity,
        "qbo_id": written.id,
        "sync_token": written.sync_token,
        "synced_hash": content_hash,
    }


CLEARED: dict[str, Any] = {
    "qbo_entity": None,
    "qbo_id": None,
    "sync_token": None,
    "synced_hash": None,
}
"""The ledger forgets the document's QBO object (deleted there)."""
