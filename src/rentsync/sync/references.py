"""The customer and items an invoice needs, found or created in QBO (R2, R9, R10).

Each is created at most once per company, even with many orders in flight: find-or-create runs
under a cross-process lock on the referenced document, and its QBO Id is kept in the ledger.
An existing QBO record with the same name is reused only when it is safely the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rentsync.domain.documents import Customer, DocumentType, Product
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.settings import AccountMapping
from rentsync.mapping import customer as customer_mapping
from rentsync.mapping import item as item_mapping
from rentsync.mapping.common import has_marker
from rentsync.mapping.errors import MappingError, MappingProblem
from rentsync.mapping.fingerprint import fingerprint
from rentsync.mapping.idempotency import Operation, write_request_id
from rentsync.qbo import errors
from rentsync.sync.ports import (
    Documents,
    Ledger,
    LedgerRow,
    Locks,
    QboGateway,
    StoredDocumentView,
)


@dataclass(frozen=True, kw_only=True)
class ReferenceContext:
    company_id: int
    client: QboGateway
    accounts: AccountMapping
    inventory_allowed: bool
    snapshots: Mapping[DocumentKey, StoredDocumentView] = field(default_factory=dict)
    """The order's references as read in one round trip before resolving them (optional)."""
    records: Mapping[DocumentKey, LedgerRow] = field(default_factory=dict)
    generation: int = 0
    """The order's definite refusals so far: a write after one gets a new requestid."""


class References:
    def __init__(self, *, documents: Documents, ledger: Ledger, locks: Locks) -> None:
        self._documents = documents
        self._ledger = ledger
        self._locks = locks

    async def customer_id(self, ctx: ReferenceContext, source_id: str) -> str:
        key = DocumentKey(ctx.company_id, DocumentType.CUSTOMER, source_id)
        document = await self._snapshot(ctx, key, "customer_id")
        customer = Customer.model_validate(document.body)
        payload = customer_mapping.customer_create(
            customer, company_id=ctx.company_id, customer_id=source_id
        )
        if known := await self._already_in_qbo(ctx, key, payload):
            return known
        async with self._locks.hold(key.lock()):
            return await self._ensure(
                ctx,
                key,
                revision=document.revision,
                entity="Customer",
                payload=payload,
                find=("DisplayName", customer.name),
                same_record=lambda found: has_marker(
                    found.get("Notes"), customer_mapping.customer_marker(ctx.company_id, source_id)
                ),
                update=lambda qbo_id, token: customer_mapping.customer_update(
                    customer, qbo_id=qbo_id, sync_token=token
                ),
                clash_remedy=(
                    "QuickBooks already has a customer, vendor or employee named "
                    f"{customer.name!r} that rentsync did not create. Rename the customer in "
                    "the rental system (or the existing record in QuickBooks), then press Resync."
                ),
            )

    async def item_id(self, ctx: ReferenceContext, source_id: str) -> str:
        key = DocumentKey(ctx.company_id, DocumentType.PRODUCT, source_id)
        document = await self._snapshot(ctx, key, "lines.product_id")
        product = Product.model_validate(document.body)
        payload = item_mapping.item_create(
            product, ctx.accounts, inventory_allowed=ctx.inventory_allowed
        )
        wanted_type = item_mapping.item_type(product)
        if known := await self._already_in_qbo(ctx, key, payload):
            return known
        async with self._locks.hold(key.lock()):
            return await self._ensure(
                ctx,
                key,
                revision=document.revision,
                entity="Item",
                payload=payload,
                find=("Name", item_mapping.item_name(product)),
                # Items are shared catalogue entries: reuse one the bookkeeper made, if it has
                # the type this product needs.
                same_record=lambda found: found.get("Type") == wanted_type,
                update=lambda qbo_id, token: item_mapping.item_update(
                    product, ctx.accounts, qbo_id=qbo_id, sync_token=token
                ),
                clash_remedy=(
                    f"QuickBooks already has an item named {product.name!r} of another type "
                    f"(this product needs a {wanted_type} item). Rename the product in the rental "
                    "system or the item in QuickBooks, then press Resync."
                ),
            )

    def check_items(self, ctx: ReferenceContext, source_ids: list[str]) -> None:
        """Map every item of an order before anything is written: a sale product on a plan
        without inventory, or an unmapped account, fails the order with QBO untouched (R9)."""
        for source_id in source_ids:
            key = DocumentKey(ctx.company_id, DocumentType.PRODUCT, source_id)
            document = ctx.snapshots.get(key)
            if document is None or document.body is None:
                continue  # reported, with its remedy, when the item is resolved
            product = Product.model_validate(document.body)
            item_mapping.item_create(product, ctx.accounts, inventory_allowed=ctx.inventory_allowed)

    async def _already_in_qbo(
        self, ctx: ReferenceContext, key: DocumentKey, payload: dict[str, Any]
    ) -> str | None:
        """The steady state, without the lock: QBO already holds this version of the record."""
        record = ctx.records[key] if key in ctx.records else await self._ledger.get(key)
        if record is not None and record.qbo_id and record.synced_hash == fingerprint(payload):
            return record.qbo_id
        return None

    async def _snapshot(self, ctx: ReferenceContext, key: DocumentKey, field: str) -> Any:
        document = ctx.snapshots.get(key) or await self._documents.get(key)
        if document is None or document.body is None:
            raise MappingError(
                MappingProblem.REFERENCE_MISSING,
                f"The {key.doc_type.value} {key.source_id!r} was never sent to rentsync "
                "(or was deleted)",
                field=field,
                remedy=(
                    f"Send the {key.doc_type.value} (PUT /api/v1/{key.doc_type.value}s/"
                    f"{key.source_id}), then press Resync."
                ),
            )
        return document

    async def _ensure(
        self,
        ctx: ReferenceContext,
        key: DocumentKey,
        *,
        revision: int,
        entity: str,
        payload: dict[str, Any],
        find: tuple[str, str],
        same_record: Any,
        update: Any,
        clash_remedy: str,
    ) -> str:
        started = datetime.now(UTC)
        digest = fingerprint(payload)
        record = await self._ledger.get(key)
        if record is not None and record.qbo_id and record.sync_token:
            if record.synced_hash == digest:
                return record.qbo_id
            written = await ctx.client.sparse_update(
                entity,
                update(record.qbo_id, record.sync_token),
                requestid=write_request_id(
                    key,
                    Operation.UPDATE,
                    content_hash=digest,
                    base_sync_token=record.sync_token,
                    generation=ctx.generation,
                ),
            )
        else:
            existing = await ctx.client.find_by(entity, find[0], find[1])
            if existing and not same_record(existing[0]):
                raise errors.DuplicateName(
                    f"Duplicate name: {find[1]!r} is already used in QuickBooks",
                    code="6240",
                    detail=f"{entity} Id {existing[0].get('Id')} has {find[0]} {find[1]!r}",
                    remedy=clash_remedy,
                )
            if existing:
                adopted = await ctx.client.read(entity, str(existing[0]["Id"]))
                await self._remember(
                    key, revision, started, entity, adopted.id, adopted.sync_token, digest
                )
                return adopted.id
            written = await ctx.client.create(
                entity,
                payload,
                requestid=write_request_id(
                    key, Operation.CREATE, content_hash=digest, generation=ctx.generation
                ),
            )
        await self._remember(key, revision, started, entity, written.id, written.sync_token, digest)
        return written.id

    async def _remember(
        self,
        key: DocumentKey,
        revision: int,
        started: datetime,
        entity: str,
        qbo_id: str,
        sync_token: str,
        digest: str,
    ) -> None:
        await self._ledger.record(
            key,
            state="synced",
            revision=revision,
            started_at=started,
            outcome="synced",
            qbo={
                "qbo_entity": entity,
                "qbo_id": qbo_id,
                "sync_token": sync_token,
                "synced_hash": digest or None,
            },
        )
