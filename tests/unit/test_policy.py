"""The skip rules (R11-R14) and their order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rentsync.domain.connection import Connection, ConnectionState
from rentsync.domain.documents import ChangeReason, OrderKind
from rentsync.domain.ledger import SkipReason
from rentsync.domain.settings import SyncMode, SyncSettings
from rentsync.domain.triggers import Trigger, trigger_for_put
from rentsync.policy import Decision, Skip, Sync, decide
from tests.unit.factories import CONNECTED_AT, make_order

AFTER = CONNECTED_AT + timedelta(days=3)
BEFORE = CONNECTED_AT - timedelta(days=3)
CONNECTED = Connection.connected(CONNECTED_AT)
WITH_PAYMENT = SyncSettings(sync_mode=SyncMode.WITH_PAYMENT)
ALL = SyncSettings(sync_mode=SyncMode.ALL)


def run(
    *,
    order_fields: dict[str, object] | None = None,
    settings: SyncSettings = WITH_PAYMENT,
    connection: Connection = CONNECTED,
    trigger: Trigger = Trigger.ARRIVAL,
    first_seen_at: datetime = AFTER,
    last_user_action_at: datetime | None = None,
    in_qbo: bool = False,
) -> Decision:
    return decide(
        make_order(**(order_fields or {})),
        settings,
        connection,
        trigger=trigger,
        first_seen_at=first_seen_at,
        last_user_action_at=last_user_action_at,
        in_qbo=in_qbo,
    )


def test_r02_a_new_order_on_a_connected_company_syncs() -> None:
    assert run() == Sync()


def test_r13_not_connected_is_skipped() -> None:
    assert run(connection=Connection.none()) == Skip(reason=SkipReason.NOT_CONNECTED)


def test_r13_connection_lost_is_skipped() -> None:
    assert run(connection=Connection.lost(CONNECTED_AT)) == Skip(reason=SkipReason.CONNECTION_LOST)


def test_r12_no_quickbooks_order_is_skipped() -> None:
    assert run(order_fields={"no_quickbooks": True}) == Skip(reason=SkipReason.NO_QUICKBOOKS)


def test_r11_quote_without_payment_is_skipped_in_mode_with_payment() -> None:
    decision = run(order_fields={"kind": OrderKind.QUOTE})
    assert decision == Skip(reason=SkipReason.QUOTE_WITHOUT_PAYMENT)


def test_r11_quote_with_payment_syncs_in_mode_with_payment() -> None:
    assert run(order_fields={"kind": OrderKind.QUOTE, "has_payment": True}) == Sync()


def test_r11_order_without_payment_syncs_in_mode_with_payment() -> None:
    assert run(order_fields={"has_payment": False}) == Sync()


def test_r11_quote_without_payment_syncs_in_mode_all() -> None:
    assert run(order_fields={"kind": OrderKind.QUOTE}, settings=ALL) == Sync()


def test_r14_order_created_before_connection_waits_for_an_update() -> None:
    assert run(first_seen_at=BEFORE) == Skip(reason=SkipReason.BEFORE_CONNECTION)
    assert run(first_seen_at=BEFORE, trigger=Trigger.AUTOMATIC) == Skip(
        reason=SkipReason.BEFORE_CONNECTION
    )


@pytest.mark.parametrize("trigger", [Trigger.UPDATE, Trigger.RESYNC, Trigger.BULK_SYNC])
def test_r14_update_resync_or_bulk_sync_releases_an_order_created_before_connection(
    trigger: Trigger,
) -> None:
    assert run(first_seen_at=BEFORE, trigger=trigger) == Sync()


def test_r14_a_user_action_since_the_connection_keeps_later_automatic_jobs_syncing() -> None:
    decision = run(first_seen_at=BEFORE, trigger=Trigger.AUTOMATIC, last_user_action_at=AFTER)
    assert decision == Sync()


def test_r14_a_user_action_before_the_connection_does_not_release() -> None:
    decision = run(
        first_seen_at=BEFORE - timedelta(days=1),
        trigger=Trigger.AUTOMATIC,
        last_user_action_at=BEFORE,
    )
    assert decision == Skip(reason=SkipReason.BEFORE_CONNECTION)


def test_r14_an_order_already_in_qbo_is_kept_up_to_date_by_automatic_changes() -> None:
    """Auto-extension of an order released earlier must reach its invoice (R3)."""
    assert run(first_seen_at=BEFORE, trigger=Trigger.AUTOMATIC, in_qbo=True) == Sync()


def test_r14_an_order_received_at_the_moment_of_connection_syncs() -> None:
    assert run(first_seen_at=CONNECTED_AT) == Sync()


def test_r12_no_quickbooks_wins_over_not_connected() -> None:
    """The user's own choice is the lasting reason; "not connected" would suggest it syncs later."""
    decision = run(order_fields={"no_quickbooks": True}, connection=Connection.none())
    assert decision == Skip(reason=SkipReason.NO_QUICKBOOKS)


def test_r11_quote_without_payment_wins_over_connection_lost() -> None:
    decision = run(order_fields={"kind": OrderKind.QUOTE}, connection=Connection.lost(CONNECTED_AT))
    assert decision == Skip(reason=SkipReason.QUOTE_WITHOUT_PAYMENT)


def test_r12_no_quickbooks_wins_over_quote_without_payment() -> None:
    decision = run(order_fields={"kind": OrderKind.QUOTE, "no_quickbooks": True})
    assert decision == Skip(reason=SkipReason.NO_QUICKBOOKS)


def test_r13_connection_is_checked_before_created_before_connection() -> None:
    decision = run(first_seen_at=BEFORE, connection=Connection.lost(CONNECTED_AT))
    assert decision == Skip(reason=SkipReason.CONNECTION_LOST)


def test_r13_not_connected_skip_applies_whatever_the_trigger() -> None:
    assert run(connection=Connection.none(), trigger=Trigger.RESYNC) == Skip(
        reason=SkipReason.NOT_CONNECTED
    )


def test_r12_synced_order_marked_no_quickbooks_leaves_its_invoice_in_qbo() -> None:
    decision = run(order_fields={"no_quickbooks": True}, in_qbo=True)
    assert decision == Skip(reason=SkipReason.NO_QUICKBOOKS, qbo_copy_left=True)
    assert isinstance(decision, Skip)
    assert "left as it is" in decision.message


def test_r11_synced_quote_that_loses_its_payment_leaves_its_invoice_in_qbo() -> None:
    decision = run(order_fields={"kind": OrderKind.QUOTE}, in_qbo=True)
    assert decision == Skip(reason=SkipReason.QUOTE_WITHOUT_PAYMENT, qbo_copy_left=True)


def test_r13_skip_message_is_the_reasons_plain_message() -> None:
    skip = Skip(reason=SkipReason.NOT_CONNECTED)
    assert skip.message == SkipReason.NOT_CONNECTED.message


def test_connection_needs_an_aware_connected_at_when_connected() -> None:
    with pytest.raises(ValueError, match="connected_at"):
        Connection(state=ConnectionState.CONNECTED)
    with pytest.raises(ValueError, match="timezone-aware"):
        Connection.connected(datetime(2025, 6, 1))


@pytest.mark.parametrize(
    ("first_put", "reason", "expected"),
    [
        (True, ChangeReason.CREATED, Trigger.ARRIVAL),
        (True, ChangeReason.MANUAL_UPDATE, Trigger.ARRIVAL),
        (False, ChangeReason.UPDATED, Trigger.UPDATE),
        (False, ChangeReason.MANUAL_UPDATE, Trigger.UPDATE),
        (False, ChangeReason.INVOICE_SAVED, Trigger.UPDATE),
        (False, ChangeReason.AUTO_EXTENDED, Trigger.AUTOMATIC),
    ],
)
def test_r14_trigger_of_a_put(first_put: bool, reason: ChangeReason, expected: Trigger) -> None:
    assert trigger_for_put(first_put=first_put, reason=reason) is expected


def test_r14_only_update_resync_and_bulk_sync_are_user_actions() -> None:
    assert {t for t in Trigger if t.is_user_action} == {
        Trigger.UPDATE,
        Trigger.RESYNC,
        Trigger.BULK_SYNC,
    }
