"""Resync: schedule documents again after their cause was fixed (R17). The one home of "resync
everything failing with this code"; the API and the web console both call it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rentsync.domain.documents import DocumentType
from rentsync.domain.ledger import DocumentKey
from rentsync.domain.triggers import Trigger

if TYPE_CHECKING:
    from rentsync.store.documents import DocumentRepository
    from rentsync.store.ledger import LedgerRepository


async def resync_one(documents: DocumentRepository, key: DocumentKey) -> bool:
    """Schedule one document's sync; False when the company has no such document."""
    return await documents.schedule(key, trigger=Trigger.RESYNC) is not None


async def resync_failing_with(
    documents: DocumentRepository, ledger: LedgerRepository, company_id: int, code: str
) -> list[str]:
    """Schedule every document failing with `code` (QBO's or rentsync's) or skipped for that
    reason; returns their names (`doc_type:source_id`)."""
    names = await ledger.keys_failing_with(company_id, code)
    for name in names:
        doc_type, source_id = name.split(":", 1)
        await resync_one(documents, DocumentKey(company_id, DocumentType(doc_type), source_id))
    return names
