"""What the console shows of the document kinds, from the kind registry (no kind named here):
their titles and listings, and the states a document can be in."""

from __future__ import annotations

from rentsync.domain.documents import DocumentType
from rentsync.domain.listing import Listing
from rentsync.sync.kinds import KINDS

STATES: tuple[tuple[str, str], ...] = (
    ("pending", "Pending"),
    ("synced", "Synced"),
    ("skipped", "Skipped"),
    ("failed", "Failed"),
    ("not_synced", "Not needed yet"),
)
"""Ledger states in the order the console shows them, with their labels."""

STATE_LABELS = dict(STATES)
STATE_BADGES = {
    "synced": "badge-ok",
    "pending": "badge",
    "skipped": "badge-warn",
    "failed": "badge-bad",
    "not_synced": "badge",
}


def listings() -> dict[DocumentType, Listing]:
    return {kind.doc_type: kind.listing for kind in KINDS}


def titles() -> dict[str, str]:
    """doc_type value -> what a bookkeeper calls it."""
    return {kind.doc_type.value: kind.listing.title for kind in KINDS}


def doc_type_of(value: str) -> DocumentType | None:
    try:
        return DocumentType(value)
    except ValueError:
        return None
