"""Read-back verification (B2): QBO's figures against the rental system's totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rentsync.domain.documents import Order
from rentsync.sync.verify import Figure, Mismatch, verify_invoice
from tests.unit.factories import line, make_order


def sandbox_order() -> Order:
    return make_order(
        lines=[line("p1", "1", "50.00"), line("p2", "1", "70.00")],
        discount="10.00",
        tax="9.60",
        tax_rate_id="local-8",
    )


def qbo_invoice(*, total: Any = 119.6, tax: Any = 9.6, balance: Any = 119.6) -> dict[str, Any]:
    """Figures as QBO's JSON carries them (numbers, which a careless parse makes floats)."""
    return {"TotalAmt": total, "TxnTaxDetail": {"TotalTax": tax}, "Balance": balance}


def test_b2_matching_figures_give_no_mismatch() -> None:
    assert verify_invoice(sandbox_order(), qbo_invoice(), applied_payments=Decimal("0")) == []


def test_b2_decimal_and_string_figures_are_read_exactly() -> None:
    invoice = qbo_invoice(total=Decimal("119.60"), tax="9.60", balance=Decimal("119.6"))
    assert verify_invoice(sandbox_order(), invoice) == []


def test_b2_tax_mismatch_is_reported_with_both_figures() -> None:
    mismatches = verify_invoice(sandbox_order(), qbo_invoice(tax=8.8, total=118.8, balance=118.8))
    tax = mismatches[0]
    assert tax == Mismatch(figure=Figure.TAX, expected=Decimal("9.60"), actual=Decimal("8.80"))
    assert tax.message == "invoice tax amount mismatch"
    assert tax.code == "invoice_tax_mismatch"
    assert tax.detail == "QuickBooks has 8.80, the rental system 9.60."
    assert "run Sync with QuickBooks under Tax Rates" in tax.remedy
    assert tax.remedy.endswith("then Resync.")


def test_b2_tax_mismatch_comes_before_the_total_mismatch_it_causes() -> None:
    figures = [
        m.figure
        for m in verify_invoice(sandbox_order(), qbo_invoice(tax=8.8, total=118.8, balance=118.8))
    ]
    assert figures == [Figure.TAX, Figure.TOTAL]


def test_b2_total_mismatch_alone() -> None:
    mismatches = verify_invoice(sandbox_order(), qbo_invoice(total=129.6, balance=129.6))
    assert mismatches == [
        Mismatch(figure=Figure.TOTAL, expected=Decimal("119.60"), actual=Decimal("129.60"))
    ]
    assert mismatches[0].message == "invoice total mismatch"
    assert "Resync" in mismatches[0].remedy


def test_b2_missing_tax_detail_is_zero_tax() -> None:
    order = make_order()
    assert verify_invoice(order, {"TotalAmt": 120, "Balance": 120}) == []
    assert [m.figure for m in verify_invoice(sandbox_order(), {"TotalAmt": 119.6})] == [Figure.TAX]


def test_b2_balance_equals_total_minus_the_payments_rentsync_applied() -> None:
    paid = qbo_invoice(balance=19.6)
    assert verify_invoice(sandbox_order(), paid, applied_payments=Decimal("100.00")) == []
    mismatches = verify_invoice(sandbox_order(), paid, applied_payments=Decimal("0.00"))
    assert mismatches == [
        Mismatch(figure=Figure.BALANCE, expected=Decimal("119.60"), actual=Decimal("19.60"))
    ]
    assert mismatches[0].message == "invoice balance mismatch"


@pytest.mark.parametrize("balance", [0, 19.6, 119.6])
def test_b2_with_payments_unknown_any_balance_from_zero_to_total_is_accepted(
    balance: float,
) -> None:
    assert verify_invoice(sandbox_order(), qbo_invoice(balance=balance)) == []


@pytest.mark.parametrize(("balance", "expected"), [(-1, "0.00"), (120, "119.60")])
def test_b2_with_payments_unknown_a_balance_outside_zero_to_total_is_a_mismatch(
    balance: float, expected: str
) -> None:
    mismatches = verify_invoice(sandbox_order(), qbo_invoice(balance=balance))
    assert [(m.figure, m.expected) for m in mismatches] == [(Figure.BALANCE, Decimal(expected))]


def test_b2_a_response_without_balance_is_not_checked_for_it() -> None:
    assert (
        verify_invoice(sandbox_order(), {"TotalAmt": 119.6, "TxnTaxDetail": {"TotalTax": 9.6}})
        == []
    )


def test_b2_a_figure_that_is_not_a_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="TotalAmt"):
        verify_invoice(sandbox_order(), qbo_invoice(total="n/a"))
    with pytest.raises(ValueError, match="TotalAmt"):
        verify_invoice(sandbox_order(), qbo_invoice(total=True))
