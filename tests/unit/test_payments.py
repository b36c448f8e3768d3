"""Payments, pure: the policy (R11, R12), the ingest model's validation, the QBO payloads (R4)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from rentsync.domain.connection import Connection
from rentsync.domain.documents import DocumentType, OrderKind
from rentsync.domain.ledger import DocumentKey, SkipReason
from rentsync.domain.payments import Payment, Refund, balance_due
from rentsync.domain.settings import SyncMode, SyncSettings
from rentsync.domain.triggers import Trigger
from rentsync.mapping import payment as mapping
from rentsync.mapping.errors import MappingError
from rentsync.policy import Skip, Sync, decide, decide_payment
from tests.unit.factories import CONNECTED_AT, make_order

CONNECTED = Connection.connected(CONNECTED_AT)
KEY = DocumentKey(7, DocumentType.PAYMENT, "PAY-1")
ONLY = SyncSettings(sync_mode=SyncMode.ONLY_WITH_PAYMENT)


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": "O-1",
        "amount": "200.00",
        "date": "2026-11-21",
        "method": "card",
        **overrides,
    }


def order_decision(settings: SyncSettings, **fields: Any) -> object:
    return decide(
        make_order(**fields),
        settings,
        CONNECTED,
        trigger=Trigger.ARRIVAL,
        first_seen_at=CONNECTED_AT + timedelta(days=1),
    )


def test_r11_only_with_payment_skips_orders_and_quotes_without_a_payment() -> None:
    assert order_decision(ONLY) == Skip(reason=SkipReason.ORDER_WITHOUT_PAYMENT)
    assert order_decision(ONLY, kind=OrderKind.QUOTE) == Skip(
        reason=SkipReason.ORDER_WITHOUT_PAYMENT
    )
    assert order_decision(ONLY, has_payment=True) == Sync()
    assert order_decision(ONLY, kind=OrderKind.QUOTE, has_payment=True) == Sync()


def test_r12_a_payment_of_a_no_quickbooks_order_is_skipped_and_says_what_qbo_keeps() -> None:
    decision = decide_payment(make_order(no_quickbooks=True), CONNECTED, in_qbo=True)
    assert isinstance(decision, Skip) and decision.reason is SkipReason.NO_QUICKBOOKS
    assert "payment already in QuickBooks was left as it is" in decision.message
    assert decide_payment(make_order(no_quickbooks=True), Connection.none()) == Skip(
        reason=SkipReason.NO_QUICKBOOKS, copy="payment"
    )


def test_r04_a_payment_waits_for_its_order_and_the_connection() -> None:
    assert decide_payment(None, CONNECTED) == Skip(reason=SkipReason.INVOICE_NOT_IN_QBO)
    assert decide_payment(make_order(), Connection.none()) == Skip(reason=SkipReason.NOT_CONNECTED)
    assert decide_payment(make_order(), CONNECTED) == Sync()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"amount": "0.00"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"method": None}, "method"),
        ({"refunds": [{"id": "R", "amount": "250.00", "date": "2026-11-22", "method": "card"}]},
         "exceed"),
        ({"refunds": [{"id": "R", "amount": "5.00", "date": "2026-11-20", "method": "card"}]},
         "before the payment"),
        ({"refunds": [{"id": "R", "amount": "5.00", "date": "2026-11-22", "method": "card"}] * 2},
         "unique"),
        ({"kind": "credit_applied", "method": None,
          "refunds": [{"id": "R", "amount": "5.00", "date": "2026-11-22", "method": "card"}]},
         "cannot be refunded"),
    ],
)  # fmt: skip
def test_r04_an_inconsistent_payment_is_refused(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Payment.model_validate(body(**overrides))


def test_r04_the_balance_due_counts_payments_not_voided_and_not_refunds() -> None:
    paid = Payment.model_validate(
        body(refunds=[{"id": "R", "amount": "50.00", "date": "2026-11-22", "method": "card"}])
    )
    voided = Payment.model_validate(body(amount="100.00", voided=True))
    assert balance_due(Decimal("450.00"), [paid, voided]) == Decimal("250.00")
    assert paid.refunded == Decimal("50.00")


def test_r04_a_collected_payment_links_the_invoice_and_names_account_method_and_marker() -> None:
    payment = Payment.model_validate(body(reference_number="CHK 1001"))
    refs = mapping.PaymentRefs(
        customer_id="58", invoice_id="130", deposit_account_id="35", method_id="2"
    )
    assert mapping.payment_create(payment, refs, key=KEY) == {
        "CustomerRef": {"value": "58"},
        "TxnDate": "2026-11-21",
        "TotalAmt": Decimal("200.00"),
        "Line": [
            {"Amount": Decimal("200.00"), "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}
        ],
        "DepositToAccountRef": {"value": "35"},
        "PaymentMethodRef": {"value": "2"},
        "PaymentRefNum": "CHK 1001",
        "PrivateNote": "[rentsync:c7:payment:PAY-1]",
    }


def test_r04_credit_applied_is_a_zero_payment_linking_invoice_and_credit_memos() -> None:
    payment = Payment.model_validate(body(kind="credit_applied", method=None))
    credits = mapping.allocate_credit(
        payment.amount, [("90", Decimal("150.00")), ("91", Decimal("80.00"))], customer="58"
    )
    assert credits == [("90", Decimal("150.00")), ("91", Decimal("50.00"))]
    refs = mapping.PaymentRefs(customer_id="58", invoice_id="130", credits=credits)
    payload = mapping.payment_create(payment, refs, key=KEY)
    assert payload["TotalAmt"] == 0 and "DepositToAccountRef" not in payload
    assert [line["LinkedTxn"][0]["TxnType"] for line in payload["Line"]] == [
        "Invoice",
        "CreditMemo",
        "CreditMemo",
    ]


def test_r04_credit_applied_without_enough_credit_fails_with_a_remedy() -> None:
    with pytest.raises(MappingError) as raised:
        mapping.allocate_credit(Decimal("100.00"), [("90", Decimal("30.00"))], customer="58")
    assert raised.value.code == "rentsync_no_customer_credit"
    assert "credit memo" in raised.value.remedy


def test_r04_a_refund_is_a_refund_receipt_out_of_the_deposit_account() -> None:
    refund = Refund.model_validate(
        {"id": "RF-9", "amount": "40.00", "date": "2026-11-25", "method": "cash", "reason": "Rain"}
    )
    key = DocumentKey(7, DocumentType.REFUND, "PAY-1/RF-9")
    refs = mapping.RefundRefs(
        customer_id="58", item_id="5", deposit_account_id="4", method_id="1", invoice_number="1001"
    )
    payload = mapping.refund_receipt_create(refund, refs, key=key, payment_id="PAY-1")
    assert payload["DepositToAccountRef"] == {"value": "4"}
    assert payload["DocNumber"] == "RF-PAY-1/RF-9"
    assert payload["PrivateNote"] == "[rentsync:c7:refund:PAY-1/RF-9]"
    (line,) = payload["Line"]
    assert line["Amount"] == Decimal("40.00")
    assert line["Description"] == "Refund RF-9 of payment PAY-1 (invoice 1001): Rain"
    assert line["SalesItemLineDetail"]["ItemRef"] == {"value": "5"}


def test_r15_a_void_has_five_attempts_a_payment_and_a_refund_two() -> None:
    from rentsync.sync.kinds import kind_for

    assert kind_for(DocumentType.PAYMENT_VOID).max_attempts == 5
    assert kind_for(DocumentType.PAYMENT).max_attempts == 2
    assert kind_for(DocumentType.REFUND).max_attempts == 2


def test_r11_the_payments_of_an_order_matter_only_where_the_mode_asks() -> None:
    from rentsync.policy import needs_payment_fact

    with_payment = SyncSettings(sync_mode=SyncMode.WITH_PAYMENT)
    assert needs_payment_fact(make_order(kind=OrderKind.QUOTE), with_payment)
    assert not needs_payment_fact(make_order(), with_payment)
    assert needs_payment_fact(make_order(), ONLY)
    assert not needs_payment_fact(make_order(has_payment=True), ONLY)
    assert not needs_payment_fact(
        make_order(kind=OrderKind.QUOTE), SyncSettings(sync_mode=SyncMode.ALL)
    )


def test_r04_refund_numbers_are_unique_per_company_within_qbos_21_characters() -> None:
    """A refund id is unique only within its payment: the number names the payment too, and a
    long pair becomes a digest that still tells refunds apart (long ids sharing a prefix, the
    same refund id under two long payment ids), the same on every call."""

    def number(source_id: str) -> str:
        return mapping.refund_number(DocumentKey(7, DocumentType.REFUND, source_id))

    assert number("PAY-1/RF-1") != number("PAY-2/RF-1")
    assert number("PAY-1/RF-1") == "RF-PAY-1/RF-1"
    long_ids = [
        "order-2026-000123-payment-1/refund-1",
        "order-2026-000123-payment-1/refund-2",
        "order-2026-000123-payment-2/refund-1",
        "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b/9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5c",
        "PAY-1/" + "r" * 64,
        "PAY-2/" + "r" * 64,
    ]
    numbers = [number(source_id) for source_id in [*long_ids, "PAY-1/RF-1", "PAY-2/RF-1"]]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) <= mapping.DOC_NUMBER_MAX_LENGTH for n in numbers)
    assert all(n.startswith(mapping.REFUND_NUMBER_PREFIX) for n in numbers)
    assert number(long_ids[0]) == number(long_ids[0])
    assert number(long_ids[0]).endswith("-efund-1")  # the end of the refund id, for a reader
    # Exactly 21 characters stays readable; one more becomes the digest.
    assert number("PAY-123/RF-1234567") == "RF-PAY-123/RF-1234567"
    longer = number("PAY-1234/RF-1234567")
    assert len(longer) == 21 and "/" not in longer and longer.endswith("-1234567")
