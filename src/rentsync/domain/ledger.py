"""What rentsync knows about each document's life in QuickBooks: its sync state and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rentsync.domain.documents import DocumentType


class SyncState(enum.StrEnum):
    """Values equal the strings stored in the ledger."""

    PENDING = "pending"
    SYNCED = "synced"
    SKIPPED = "skipped"
    FAILED = "failed"


class SkipReason(enum.StrEnum):
    """Why a document was not sent (R13, R14); each shows with its plain message."""

    NOT_CONNECTED = "not_connected"
    CONNECTION_LOST = "connection_lost"
    NO_QUICKBOOKS = "no_quickbooks"
    QUOTE_WITHOUT_PAYMENT = "quote_without_payment"
    BEFORE_CONNECTION = "created_before_connection"

    @property
    def message(self) -> str:
        return _SKIP_MESSAGES[self]


_SKIP_MESSAGES = {
    SkipReason.NOT_CONNECTED: "QuickBooks not connected.",
    SkipReason.CONNECTION_LOST: "QuickBooks not connected: the connection was lost; reconnect it.",
    SkipReason.NO_QUICKBOOKS: "The order is marked No QuickBooks.",
    SkipReason.QUOTE_WITHOUT_PAYMENT: (
        "A quote without a payment is not synced in the mode 'orders and quotes with payment'."
    ),
    SkipReason.BEFORE_CONNECTION: (
        "Created before QuickBooks was connected: update it, resync it, or bulk-sync to send it."
    ),
}


@dataclass(frozen=True, order=True)
class DocumentKey:
    company_id: int
    doc_type: DocumentType
    source_id: str

    def lock(self) -> str:
        """The job lock: work on one document runs one at a time, in order."""
        return f"c{self.company_id}:{self.doc_type.value}:{self.source_id}"
