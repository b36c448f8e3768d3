"""Small helpers shared by the entity mappers."""

from __future__ import annotations

from datetime import date
from typing import Any

Payload = dict[str, Any]
"""A QBO entity body: QBO field names; Decimal money; str Ids; ISO date strings."""


def ref(value: str) -> dict[str, str]:
    return {"value": value}


def iso(day: date) -> str:
    return day.isoformat()


def sparse_update(payload: Payload, *, qbo_id: str, sync_token: str) -> Payload:
    """A sparse update: only the fields sent change (reference §3); Id and SyncToken first."""
    if not qbo_id or not sync_token:
        raise ValueError("an update needs the QBO Id and SyncToken from the ledger")
    return {"Id": qbo_id, "SyncToken": sync_token, "sparse": True, **payload}


def delete(*, qbo_id: str, sync_token: str) -> Payload:
    """The body of `POST /{entity}?operation=delete` (also `?operation=void` for invoices)."""
    if not qbo_id or not sync_token:
        raise ValueError("a delete needs the QBO Id and SyncToken from the ledger")
    return {"Id": qbo_id, "SyncToken": sync_token}


def source_marker(company_id: int, doc_type: str, source_id: str) -> str:
    """A readable natural key for what we wrote, e.g. `[rentsync:c7:order:R-1001]`.

    Brackets delimit it, so `order:A1` is not found inside `order:A10` by a substring search;
    the company id keeps two rentsync companies sharing one QBO realm apart.
    """
    return f"[rentsync:c{company_id}:{doc_type}:{source_id}]"


def has_marker(note: object, marker: str) -> bool:
    """Whether a QBO note field (which QBO may prefix, e.g. "Voided") carries the marker."""
    return isinstance(note, str) and marker in note
