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
    NOT_SYNCED = "not_synced"
    """A customer or product with nothing in QBO that no order needs there yet."""


class SkipReason(enum.StrEnum):
    """Why a document was not sent (R13, R14); each shows with its plain message."""

    NOT_CONNECTED = "not_connected"
    CONNECTION_LOST = "connection_lost"
    NO_QUICKBOOKS = "no_quickbooks"
    QUOTE_WITHOUT_PAYMENT = "quote_without_payment"
    BEFORE_CONNECTION = "created_before_connection"
    ORDER_WITHOUT_PAYMENT = "order_without_payment"
    INVOICE_NOT_IN_QBO = "invoice_not_in_qbo"
    WAITING_FOR_DOCUMENT = "waiting_for_document"
    DRAFT = "draft"

    @property
    def message(self) -> str:
        return _SKIP_MESSAGES[self]

    @property
    def remedy(self) -> str:
        return _SKIP_REMEDIES[self]

    @property
    def resync_can_change(self) -> bool:
        """Whether a Resync can end this skip: not when the rental system's own data decides
        (No QuickBooks, a draft), which a resync reads unchanged."""
        return self not in _DECIDED_BY_THE_SOURCE


_SKIP_MESSAGES = {
    SkipReason.NOT_CONNECTED: "QuickBooks not connected.",
    SkipReason.CONNECTION_LOST: "QuickBooks not connected: the connection was lost; reconnect it.",
    SkipReason.NO_QUICKBOOKS: "The order is marked No QuickBooks.",
    SkipReason.QUOTE_WITHOUT_PAYMENT: (
        "A quote without a payment is not synced in the mode 'orders and quotes with payment'."
    ),
    SkipReason.BEFORE_CONNECTION: "Created before QuickBooks was connected.",
    SkipReason.ORDER_WITHOUT_PAYMENT: (
        "An order or quote without a payment is not synced in the mode 'only with payment'."
    ),
    SkipReason.INVOICE_NOT_IN_QBO: (
        "Waiting for the order's invoice: a payment reaches QuickBooks only after its invoice."
    ),
    SkipReason.WAITING_FOR_DOCUMENT: (
        "Waiting for a document it refers to: a vendor payment reaches QuickBooks only after "
        "its bills, a bill only after the purchase order it bills, a refund only after its "
        "payment."
    ),
    SkipReason.DRAFT: "A draft purchase order is not sent to QuickBooks.",
}


_SKIP_REMEDIES = {
    SkipReason.NOT_CONNECTED: (
        "Connect QuickBooks (POST /api/v1/qbo/connect), then Update or Resync the document."
    ),
    SkipReason.CONNECTION_LOST: (
        "Reconnect QuickBooks (POST /api/v1/qbo/connect), then resync the documents skipped for "
        'this reason: POST /api/v1/sync/resync {"code": "connection_lost"}.'
    ),
    SkipReason.NO_QUICKBOOKS: (
        "Nothing to do. If the order should reach QuickBooks, clear No QuickBooks and Update it."
    ),
    SkipReason.QUOTE_WITHOUT_PAYMENT: (
        "It syncs once a payment is taken; or switch the sync mode to 'all orders and quotes'."
    ),
    SkipReason.BEFORE_CONNECTION: (
        "Update or Resync the document to send it; every document skipped for this reason: "
        'POST /api/v1/sync/resync {"code": "created_before_connection"}.'
    ),
    SkipReason.ORDER_WITHOUT_PAYMENT: (
        "It syncs once a payment is taken; or switch the sync mode to 'all orders and quotes'."
    ),
    SkipReason.INVOICE_NOT_IN_QBO: (
        "Nothing to do when the order syncs: its payments follow. If the order is skipped or "
        "failed, see its status and fix that; the payment is sent once the invoice is synced."
    ),
    SkipReason.WAITING_FOR_DOCUMENT: (
        "Nothing to do when that document syncs: this one follows. If it is skipped or failed, "
        "see its status and fix that."
    ),
    SkipReason.DRAFT: "Nothing to do: it is sent once approved.",
}


_DECIDED_BY_THE_SOURCE = frozenset({SkipReason.NO_QUICKBOOKS, SkipReason.DRAFT})

_WHILE_DISCONNECTED = frozenset(
    {SkipReason.NOT_CONNECTED, SkipReason.CONNECTION_LOST, SkipReason.BEFORE_CONNECTION}
)


@dataclass(frozen=True, kw_only=True)
class SkipNotice:
    message: str
    remedy: str


def skip_notice(reason: SkipReason, *, connected_now: bool) -> SkipNotice:
    """What a skip says when it is shown, from the facts of that moment: a skip recorded while
    QuickBooks was not connected must not keep saying "not connected" once it is."""
    if connected_now and reason in _WHILE_DISCONNECTED:
        return SkipNotice(
            message=(
                "Skipped while QuickBooks was not connected; QuickBooks is connected now, and "
                "the document waits to be sent."
            ),
            remedy=(
                "Update or Resync the document to send it; every document skipped for this "
                f'reason: POST /api/v1/sync/resync {{"code": "{reason.value}"}}.'
            ),
        )
    return SkipNotice(message=reason.message, remedy=reason.remedy)


@dataclass(frozen=True, kw_only=True)
class WriteIntent:
    """A create sent to QBO whose outcome is not known yet, and how to find what it may have
    written: the entity and a natural key QBO can be queried on (DocNumber, DisplayName, Name).

    The ledger holds it from before the create is sent until its outcome is known, so neither a
    lost answer nor a killed worker lets rentsync create the object twice or forget it."""

    entity: str
    field: str
    value: str

    def as_json(self) -> dict[str, str]:
        return {"entity": self.entity, "field": self.field, "value": self.value}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> WriteIntent:
        return cls(entity=data["entity"], field=data["field"], value=data["value"])


@dataclass(frozen=True, order=True)
class DocumentKey:
    company_id: int
    doc_type: DocumentType
    source_id: str

    def lock(self) -> str:
        """The job lock: work on one document runs one at a time, in order."""
        return f"c{self.company_id}:{self.doc_type.value}:{self.source_id}"


@dataclass(kw_only=True)
class QueueJob:
    """The queue job running a reconciliation (issue 13, P4).

    The statement recording a final outcome may also end the job, saving the queue's own round
    trip; `ended` then says so, and the worker does not end it again. A job that still has work
    after the outcome (documents to schedule) is left for the queue to end once that is done, so
    a worker killed in between runs it again rather than losing that work."""

    id: int
    ended: bool = False
