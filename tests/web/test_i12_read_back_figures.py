"""Issue 12 (B2 on the document page): the rental system's amounts against QuickBooks'."""

from __future__ import annotations

from rentsync.domain.documents import DocumentType
from rentsync.domain.listing import compared_figures
from rentsync.sync.kinds import kind_for


def test_i12_invoice_figures_agree_or_differ() -> None:
    listing = kind_for(DocumentType.ORDER).listing
    body = {"totals": {"subtotal": "100.00", "tax": "8.25", "total": "108.25"}}
    qbo = {"TotalAmt": 108.25, "TxnTaxDetail": {"TotalTax": "8.3"}}
    rows = {r.label: r for r in compared_figures(listing, body, qbo)}
    assert (rows["Total"].rental_system, rows["Total"].quickbooks, rows["Total"].agree) == (
        "108.25",
        "108.25",
        True,
    )
    assert (rows["Tax"].quickbooks, rows["Tax"].agree) == ("8.3", False)


def test_i12_missing_figure_never_agrees_and_a_voided_payment_is_not_compared() -> None:
    payment = kind_for(DocumentType.PAYMENT).listing
    rows = compared_figures(payment, {"amount": "50.00"}, {})
    assert [(r.rental_system, r.quickbooks, r.agree) for r in rows] == [("50.00", None, False)]
    assert compared_figures(payment, {"amount": "50.00", "voided": True}, {"TotalAmt": 0}) == []
    assert compared_figures(kind_for(DocumentType.CUSTOMER).listing, {"name": "x"}, {}) == []
