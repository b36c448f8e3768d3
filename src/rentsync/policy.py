"""Should this order's invoice reach QuickBooks now? `decide` answers Sync or Skip(reason).

Pure: every fact comes in as an argument. Customers and products have no policy of their own:
they sync when an order that syncs needs them, so a customer who only has No QuickBooks orders
never reaches QuickBooks.

The order of the checks (each documented where it is made) is part of the contract:

1. No QuickBooks (R12): the user's explicit, lasting choice for this order. It wins over every
   other reason so the order never shows "not connected" and then surprises anyone by syncing
   after a connect.
2. Quote without payment in mode "with payment", or any order or quote without payment in mode
   "only with payment" (R11): a fact about the document and the settings, true whatever the
   connection. `has_payment` follows from the order's payments (the invoice kind sets it).
3. Not connected / connection lost (R13): a company-wide, temporary condition. Checked after the
   document's own rules, so the documents skipped for it are exactly the ones waiting for a
   (re)connection; a sweep after reconnecting can resync just those.
4. Created before the connection (R14): needs `connected_at`, so it comes after 3.

"QuickBooks unreachable" is not a skip and not decided here: the write is attempted and the
retry table handles the failure (R13, R15).

A document that was synced and then becomes No QuickBooks, or a quote that loses its payment:
the skip is recorded and the invoice in QuickBooks is LEFT AS IT IS, never deleted or voided
silently. Deleting accounting records is a decision for the bookkeeper (the invoice may carry
payments, or sit in a closed period); the skip says that QuickBooks still holds a copy
(`Skip.qbo_copy_left`), and the ledger keeps its QBO Id and SyncToken so that, if the flag is
cleared again, the same invoice is updated instead of a duplicate being created (B1). Deleting
the order in the rental system still deletes the invoice in QuickBooks (R3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rentsync.domain.connection import Connection, ConnectionState
from rentsync.domain.documents import Order, OrderKind
from rentsync.domain.ledger import SkipReason
from rentsync.domain.settings import SyncMode, SyncSettings
from rentsync.domain.triggers import Trigger


@dataclass(frozen=True)
class Sync:
    """Make QuickBooks match the document now."""


@dataclass(frozen=True, kw_only=True)
class Skip:
    reason: SkipReason
    qbo_copy_left: bool = False
    """QuickBooks holds a copy written earlier (an invoice, a payment); it stays untouched."""
    copy: str = "invoice"
    """What that copy is, for the message."""

    @property
    def message(self) -> str:
        if self.qbo_copy_left:
            return (
                f"{self.reason.message} The {self.copy} already in QuickBooks was left as it "
                "is; delete or void it there if it should go."
            )
        return self.reason.message


Decision = Sync | Skip


def decide(
    order: Order,
    settings: SyncSettings,
    connection: Connection,
    *,
    trigger: Trigger,
    first_seen_at: datetime,
    last_user_action_at: datetime | None = None,
    in_qbo: bool = False,
) -> Decision:
    """Decide for the newest snapshot of `order`.

    `trigger`: why this reconciliation runs (see `Trigger`); a job retried keeps its trigger.
    `first_seen_at`: when rentsync first received the order.
    `last_user_action_at`: when the user last updated, resynced or bulk-synced it, as stored
        (None: never). A user action released the order before this job if it happened after
        the connection, so coalesced or later automatic jobs keep syncing it.
    `in_qbo`: the ledger holds a QBO invoice Id for it (written earlier).
    """
    if order.no_quickbooks:
        return Skip(reason=SkipReason.NO_QUICKBOOKS, qbo_copy_left=in_qbo)
    if (
        settings.sync_mode is SyncMode.WITH_PAYMENT
        and order.kind is OrderKind.QUOTE
        and not order.has_payment
    ):
        return Skip(reason=SkipReason.QUOTE_WITHOUT_PAYMENT, qbo_copy_left=in_qbo)
    if settings.sync_mode is SyncMode.ONLY_WITH_PAYMENT and not order.has_payment:
        return Skip(reason=SkipReason.ORDER_WITHOUT_PAYMENT, qbo_copy_left=in_qbo)
    if connection.state is ConnectionState.NOT_CONNECTED:
        return Skip(reason=SkipReason.NOT_CONNECTED)
    if connection.state is ConnectionState.LOST:
        return Skip(reason=SkipReason.CONNECTION_LOST)
    if _waits_for_user_action(
        connection, trigger, first_seen_at, last_user_action_at, in_qbo=in_qbo
    ):
        return Skip(reason=SkipReason.BEFORE_CONNECTION)
    return Sync()


def _waits_for_user_action(
    connection: Connection,
    trigger: Trigger,
    first_seen_at: datetime,
    last_user_action_at: datetime | None,
    *,
    in_qbo: bool,
) -> bool:
    """R14: created before the connection and not updated, resynced or bulk-synced since.

    An order already in QuickBooks is kept up to date whatever the trigger: it was released
    once (an auto-extension of it must reach its invoice).
    """
    connected_at = connection.connected_at
    assert connected_at is not None  # Connection guarantees it for CONNECTED
    if first_seen_at >= connected_at or in_qbo or trigger.is_user_action:
        return False
    return last_user_action_at is None or last_user_action_at < connected_at


def needs_payment_fact(order: Order, settings: SyncSettings) -> bool:
    """Whether `decide` turns on the order having a payment that the rental system did not
    flag (`has_payment`): then the caller looks for the order's payments (R11)."""
    if order.has_payment:
        return False
    if settings.sync_mode is SyncMode.ONLY_WITH_PAYMENT:
        return True
    return settings.sync_mode is SyncMode.WITH_PAYMENT and order.kind is OrderKind.QUOTE


def decide_payment(
    order: Order | None, connection: Connection, *, in_qbo: bool = False
) -> Decision:
    """Should a payment (or its refund or void) reach QuickBooks now?

    `order`: the payment's order as stored (None: not received yet). `in_qbo`: QBO holds what
    this document wrote earlier. The order's No QuickBooks wins, always, also when it was set
    after the payment synced (R12): the payment in QuickBooks is then left as it is. Whether
    the order's invoice is in QuickBooks yet is a dependency, checked by the kind.
    """
    if order is not None and order.no_quickbooks:
        return Skip(reason=SkipReason.NO_QUICKBOOKS, qbo_copy_left=in_qbo, copy="payment")
    if connection.state is ConnectionState.NOT_CONNECTED:
        return Skip(reason=SkipReason.NOT_CONNECTED)
    if connection.state is ConnectionState.LOST:
        return Skip(reason=SkipReason.CONNECTION_LOST)
    if order is None:
        return Skip(reason=SkipReason.INVOICE_NOT_IN_QBO)
    return Sync()


def decide_purchase(connection: Connection) -> Decision:
    """Should a vendor bill, vendor payment or purchase order reach QuickBooks now? They carry
    no flag of their own (No QuickBooks and the sync mode are about orders); only the
    connection decides. Whether their vendor, bills or purchase order are in QuickBooks is a
    dependency, checked by the kind."""
    if connection.state is ConnectionState.NOT_CONNECTED:
        return Skip(reason=SkipReason.NOT_CONNECTED)
    if connection.state is ConnectionState.LOST:
        return Skip(reason=SkipReason.CONNECTION_LOST)
    return Sync()
