"""Issue 9, the product's edges: an order QBO cannot hold is refused with the reason, and every
read-back remedy names the real cause (a negative total is not blamed on payments)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from rentsync.domain.documents import Order
from rentsync.qbo import errors
from rentsync.qbo.errors import FaultError
from rentsync.sync.verify import Figure, verify_invoice
from tests import ingest_fixtures as make


def test_i9_a_discount_larger_than_the_order_is_refused_saying_why() -> None:
    body = make.order(discount="600.00")  # the lines come to 450.00
    assert Decimal(body["totals"]["total"]) < 0
    with pytest.raises(ValidationError) as refused:
        Order.model_validate(body)
    text = str(refused.value)
    assert "larger than the order" in text
    assert "below zero" in text


def test_i9_a_negative_invoice_total_is_named_as_such_never_blamed_on_payments() -> None:
    order = Order.model_validate(make.order(discount="450.00"))
    qbo_invoice = {"TotalAmt": "-150.00", "Balance": "-150.00", "TxnTaxDetail": {"TotalTax": 0}}
    found = verify_invoice(order.model_copy(), qbo_invoice, applied_payments=None)
    assert [m.figure for m in found][-1] is Figure.NEGATIVE_TOTAL
    assert all(m.figure is not Figure.BALANCE for m in found)
    assert "payment" not in Figure.NEGATIVE_TOTAL.remedy
    assert "discounts are larger than its lines" in Figure.NEGATIVE_TOTAL.remedy


def test_i9_qbos_refusal_of_a_negative_total_gets_a_remedy_naming_the_discounts() -> None:
    fault = FaultError(
        code="6000",
        message="A business validation error has occurred while processing your request",
        detail="Business Validation Error: Transaction amount must be positive",
        element="",
    )
    kind, remedy = errors.classify(fault, 400)
    assert kind is errors.BusinessRule
    assert remedy is not None and "discounts are larger than the lines" in remedy
